# %% [markdown]
# # Part 4 — QLoRA: fine-tuning a BLOOM causal LM on French questions and answers
#
# In Parts 2 and 3 every weight of a small encoder was updated. Here the model is a *generative* (causal)
# language model, `bigscience/bloom-560m`, and we update **less than one percent** of its parameters:
#
# * **4-bit quantisation** (bitsandbytes): the frozen base weights are stored in 4 bits (NF4) instead of 16 or
#   32, so a model four to eight times larger fits in the same GPU memory;
# * **LoRA** (peft): next to each chosen weight matrix $W$ (frozen) we learn a low-rank update
#   $\Delta W = \frac{\alpha}{r} B A$ with $A \in \mathbb{R}^{r \times k}$, $B \in \mathbb{R}^{d \times r}$ and a small
#   rank $r$. Only $A$ and $B$ are trained.
#
# Together they are **QLoRA** (Dettmers et al., 2023). The task: teach the model to answer customer questions of an
# online shop, in French, in a fixed dialogue format.
#
# **Profiles.** `full` (GPU) uses `bigscience/bloom-560m` from the Hugging Face Hub. `smoke` and `cpu` use a *tiny*
# BLOOM built by `frlab` (2 layers, width 128, 0.9M parameters, its own 4k tokenizer; random init, then 200 steps of
# pretraining on French sentences and on the FAQ texts as plain sentences, never in the dialogue format): same
# architecture and module names, so every line below, 4-bit loading on the CPU included, runs unchanged in CI. Its
# generations are not meant to be good; the loss curve is what to look at.

# %%
from frlab import profiles

PROFILE = profiles.banner()

# %% tags=["book"]
import json

import bitsandbytes
import peft
import torch
import transformers

from frlab import grading
from frlab.lora import qa_data, qlora
from frlab.paths import work_dir

print(f"torch {torch.__version__} | transformers {transformers.__version__} | peft {peft.__version__} "
      f"| bitsandbytes {bitsandbytes.__version__}")
RUN_DIR = work_dir() / PROFILE.name / "part4"
RUN_DIR.mkdir(parents=True, exist_ok=True)
if PROFILE.device == "cpu" and not PROFILE.is_full:
    torch.set_num_threads(1)   # the smoke model's matrices are tiny: one thread is as fast and shares the CPU well

# %% [markdown]
# ## 1. The data: French e-commerce questions and answers
#
# The course's dataset is the file `ecommerce-faq-fr.json` of the Hub dataset `OpenLLM-France/Tutoriel`.
# When the Hub cannot be reached, `frlab` uses its own set, `frlab/data/faq_fr.json`: 81 pairs written for this
# course (CC0) in the same layout, `{"questions": [{"question": ..., "answer": ...}, ...]}`. The loader checks
# every row (both fields present, strings, not blank) and names the index of any bad row.

# %% tags=["book"]
faq = qa_data.load_faq()
rows = faq.rows
print(f"{len(rows)} pairs (source: {faq.source})")
for r in rows[:2]:
    print("Q:", r["question"])
    print("R:", r["answer"], "\n")

# %% [markdown]
# ### Exercise 4.1 — the prompt format
#
# A causal LM only continues text, so a dialogue has to be written as text. We use the format of the original
# tutorial: one line for the customer, one for the assistant,
#
# ```
# <human>: Comment suivre mon colis ?
# <assistant>: Dès l'expédition, vous recevez ...
# ```
#
# Write `format_prompt(question, answer=None)`: strip surrounding whitespace from both fields; the tag, one space,
# the text; the two turns separated by a single `\n`. Without an answer, return the **generation prompt**, which
# ends right after `<assistant>:` (no trailing space): the model writes the rest.

# %% nbgrader={"grade": false, "grade_id": "prompt_format", "locked": false, "schema_version": 3, "solution": true, "task": false}
def format_prompt(question, answer=None):
    """'<human>: question\\n<assistant>: answer' (or the generation prompt when answer is None)."""
    ### BEGIN SOLUTION
    text = f"<human>: {question.strip()}\n<assistant>:"
    if answer is not None:
        text += f" {answer.strip()}"
    return text
    ### END SOLUTION


print(format_prompt(rows[0]["question"], rows[0]["answer"]))

# %% nbgrader={"grade": true, "grade_id": "test_prompt_format", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
assert format_prompt("Bonjour ?", "Bonsoir.").startswith("<human>: Bonjour ?"), "the human turn comes first"
assert "\n" in format_prompt("Bonjour ?", "Bonsoir."), "the two turns are on separate lines"

# %% tags=["book-standin"]
# The book runs the chapter with the reference answers of the exercises (your notebook uses yours).
from autograder import answer_keys

format_prompt = answer_keys.format_prompt

# %% [markdown]
# ## 2. Loading the model in 4 bits
#
# `BitsAndBytesConfig` tells `from_pretrained` to replace every `nn.Linear` of the transformer blocks by a
# bitsandbytes `Linear4bit` whose weight is quantised while it is loaded. Four settings matter:
#
# * `load_in_4bit=True`: 4-bit storage (the alternative, `load_in_8bit`, halves memory only);
# * `bnb_4bit_quant_type`: the 4-bit code book, `"fp4"` or `"nf4"` (NormalFloat4);
# * `bnb_4bit_use_double_quant`: whether the per-block scaling constants are themselves quantised;
# * `bnb_4bit_compute_dtype`: the dtype the weights are de-quantised to for each matrix product.
#
# **Choosing the compute dtype from the hardware.** bfloat16 has the range of float32 (no overflow, no loss
# scaling needed) but tensor cores only compute it natively from compute capability 8.0 (Ampere: A100, L4,
# RTX 30xx and later). A Colab T4 has capability 7.5: use float16 there. Do not trust
# `torch.cuda.is_bf16_supported()` alone: recent PyTorch versions answer `True` on a T4 because bf16 can be
# *emulated*, which is slow. On a CPU, bitsandbytes computes in bfloat16.

# %% tags=["book"]
compute_dtype, why = qlora.choose_compute_dtype(PROFILE.device, explain=True)
print("compute dtype:", compute_dtype, "|", why)

# %% [markdown]
# ### Exercise 4.2 — the quantisation config
#
# Build `bnb_config`: 4-bit loading, NF4, double quantisation, and `compute_dtype` for the computations.

# %% nbgrader={"grade": false, "grade_id": "bnb_config", "locked": false, "schema_version": 3, "solution": true, "task": false}
from transformers import BitsAndBytesConfig

### BEGIN SOLUTION
bnb_config = BitsAndBytesConfig(
    load_in_4bit=True,
    bnb_4bit_quant_type="nf4",
    bnb_4bit_use_double_quant=True,
    bnb_4bit_compute_dtype=compute_dtype,
)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_bnb_config", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert isinstance(bnb_config, BitsAndBytesConfig)
assert bnb_config.load_in_4bit, "the model must be loaded in 4 bits"

# %% tags=["book-standin"]
bnb_config = answer_keys.bnb_config(compute_dtype)   # the book's run uses the reference answer of Exercise 4.2

# %% [markdown]
# ## 3. The LoRA configuration
#
# In BLOOM, each attention layer computes queries, keys and values with **one** fused linear layer,
# `self_attention.query_key_value` ($d \to 3d$). The other linear layers are `self_attention.dense`
# (attention output) and `mlp.dense_h_to_4h` / `mlp.dense_4h_to_h` (feed-forward). We adapt the fused
# projection only.
#
# ### Exercise 4.3 — `LoraConfig`
#
# Build `lora_config`: rank 16, scaling numerator `lora_alpha` 32, target the fused query/key/value projection,
# dropout 0.05 on the LoRA branch, no bias training, task type causal LM.

# %% nbgrader={"grade": false, "grade_id": "lora_config", "locked": false, "schema_version": 3, "solution": true, "task": false}
from peft import LoraConfig

### BEGIN SOLUTION
lora_config = LoraConfig(
    r=16,
    lora_alpha=32,
    target_modules=["query_key_value"],
    lora_dropout=0.05,
    bias="none",
    task_type="CAUSAL_LM",
)
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "test_lora_config", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert isinstance(lora_config, LoraConfig)
assert lora_config.task_type == "CAUSAL_LM"

# %% tags=["book-standin"]
lora_config = answer_keys.lora_config()   # the book's run uses the reference answer of Exercise 4.3

# %% [markdown]
# **A misspelled target fails loudly here, not silently.** peft raises an error only when *none* of the names
# in `target_modules` matches a module; a list such as `["query_key_value", "dense_4h_to_hh"]` is accepted and
# the misspelled name is silently ignored. `qlora.check_target_modules` rejects every name that matches
# nothing (and suggests the closest real names); after `get_peft_model`, `qlora.assert_adapted` checks that
# exactly one module per block was adapted.

# %% tags=["book"]
try:
    qlora.check_target_modules(qlora.meta_model(), ["query_key_value", "dense_4h_to_hh"])
except qlora.TargetModuleError as err:
    print("rejected:", err)

# %% [markdown]
# ## 4. How many parameters do we train?
#
# `bigscience/bloom-560m`: vocabulary $V = 250\,880$, width $d = 1024$, 24 blocks, 16 heads; the LM head is tied
# to the token embeddings. We build it **on the meta device** from its configuration (`qlora.bloom_560m_config()`,
# values written out in `frlab`): tensors have shapes but no storage, so nothing is downloaded or allocated, in
# every profile. LoRA adds $r(k + d)$ weights to a $k \to d$ linear layer.
#
# **Why a plain `numel()` sum is wrong on a 4-bit model.** bitsandbytes stores a 4-bit weight as a `Params4bit`
# tensor of dtype `uint8` holding **two** 4-bit codes per byte, flattened to shape `(n/2, 1)`. Its `numel()` is
# therefore half the number of weights it stands for: a naive sum undercounts every quantised matrix by half (the
# embeddings, LayerNorms and biases are not quantised), so the total looks smaller and the trainable percentage
# looks larger than it is. The original shape is kept in `param.quant_state.shape`.
#
# ### Exercise 4.4 — a count that is right for 4-bit models
#
# Write `count_parameters(model)` returning `(trainable, total)` as plain ints: every parameter once (tied
# weights are shared, `model.parameters()` already yields them once), using the original shape of 4-bit
# weights. Then set `trainable_560m, total_560m` for bloom-560m with your LoRA config.

# %% nbgrader={"grade": false, "grade_id": "count_trainable", "locked": false, "schema_version": 3, "solution": true, "task": false}
import math


def count_parameters(model):
    """(trainable, total) numbers of weights; 4-bit weights counted with their original shape."""
    ### BEGIN SOLUTION
    trainable = total = 0
    for p in model.parameters():
        qs = getattr(p, "quant_state", None)
        n = math.prod(qs.shape) if qs is not None else p.numel()
        total += n
        if p.requires_grad:
            trainable += n
    return int(trainable), int(total)
    ### END SOLUTION


bloom_560m_lora = qlora.meta_peft_model(lora_config=lora_config)    # meta device: no download
### BEGIN SOLUTION
trainable_560m, total_560m = count_parameters(bloom_560m_lora)
### END SOLUTION
print(f"bloom-560m + LoRA: {trainable_560m:,} trainable of {total_560m:,} ({100 * trainable_560m / total_560m:.4f} %)")

# %% nbgrader={"grade": true, "grade_id": "test_count_trainable", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Graded on your function alone (your LoRA configuration is graded above): plain ints, every weight once.
_t, _n = count_parameters(qlora.meta_model())   # bloom-560m without adapters: every weight is trainable
assert type(_t) is int and type(_n) is int, "count_parameters must return plain ints"
assert 0 < _t == _n, "without adapters every weight of the model is trainable"

# %% [markdown] tags=["notebook-only"]
# Your count is in. Now compare it with peft's own count of the same model, and with what a naive `numel()` sum
# would show once the model is loaded in 4 bits.

# %%
bloom_560m_lora.print_trainable_parameters()      # peft's own count
_nt, _ntotal = qlora.naive_4bit_count(bloom_560m_lora)   # what numel() would show once loaded in 4 bits
print(f"naive numel() on the 4-bit model would show: {_nt:,} trainable of {_ntotal:,} ({100 * _nt / _ntotal:.3f} %)")

# %% [markdown]
# ### Written question 4.5 — the LoRA parameters
#
# Define each `LoraConfig` parameter used above (`r`, `lora_alpha`, `target_modules`, `lora_dropout`, `bias`,
# `task_type`): what it controls, and what happens when you increase it or change it.

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_lora_params", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# * `r` — the rank of the update $\Delta W = BA$ ($A$: $r \times k$, $B$: $d \times r$). It sets the capacity of the
#   adapter and its size, $r(k+d)$ weights per adapted layer: doubling `r` doubles the trainable parameters. Small
#   ranks (4–64) are enough because fine-tuning updates have low intrinsic rank.
# * `lora_alpha` — the scaling numerator: the update is multiplied by `lora_alpha / r` (here 2). It sets the
#   strength of the adapter relative to the frozen weights, so that changing `r` does not require retuning the
#   learning rate; a larger alpha behaves like a larger learning rate for the LoRA branch.
# * `target_modules` — the names (suffixes) of the modules that get an adapter; here BLOOM's fused
#   `query_key_value` projection in each of the 24 blocks. More targets (attention output, MLP) give more
#   capacity and more parameters. A name that matches nothing is silently ignored when another name matches.
# * `lora_dropout` — dropout applied to the input of the LoRA branch only (not to the frozen path), a regulariser
#   for small datasets like ours.
# * `bias` — which biases are trained: `"none"` (only A and B), `"lora_only"` (biases of adapted layers) or
#   `"all"`; training biases adds parameters and makes the adapter no longer removable without changing the base.
# * `task_type` — `"CAUSAL_LM"` makes peft wrap the model in `PeftModelForCausalLM` (generation, the right
#   forward signature, which modules to keep trainable/save).
#
# $B$ is initialised to zero, so at step 0 the adapted model is exactly the base model.

# %% [markdown]
# ### Written question 4.6 — NF4 and double quantisation
#
# What do `bnb_4bit_quant_type="nf4"` and `bnb_4bit_use_double_quant=True` do, and what do they cost (memory,
# accuracy, speed)?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_nf4_double_quant", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false}
# * **NF4 (NormalFloat4)**: weights are quantised in blocks of 64; each block is divided by its absolute maximum
#   (one scale constant per block) and each value is replaced by the nearest of 16 levels. The 16 levels are the
#   quantiles of a standard normal distribution, so — since trained weights are roughly normal — each level is
#   used about equally often: this is information-theoretically better than evenly spaced levels (int4) or fp4,
#   and loses less accuracy. Cost: the weights must be de-quantised to the compute dtype for every matrix
#   product (extra compute, slower than a 16-bit layer), and some precision is lost (small, and LoRA training on
#   top compensates).
# * **Double quantisation**: the per-block scale constants (one float32 per 64 weights = 0.5 bit per weight) are
#   themselves quantised to 8 bits in blocks of 256, with a float32 constant per block, which brings the
#   overhead to about 0.127 bit per weight: about 0.37 bit per weight (≈ 3 GB on a 65B model) saved. Cost:
#   one more de-quantisation step (a little more compute), negligible accuracy loss.
# * The weights are stored in 4 bits but **computed in `bnb_4bit_compute_dtype`** (bf16/fp16): memory is saved,
#   not arithmetic; gradients flow only into the LoRA matrices, which stay in higher precision.

# %% [markdown]
# ## 5. Load, prepare, adapt
#
# `resolve_base_model` gives bloom-560m (full) or the tiny smoke BLOOM. `prepare_model_for_kbit_training` freezes the
# base weights, casts the remaining non-quantised parameters (LayerNorms, embeddings) to float32 for stability,
# and (on GPU) enables gradient checkpointing — activations are recomputed in the backward pass instead of being
# stored — with input embeddings that produce gradients (needed by checkpointing when every base weight is frozen).
#
# From here on the runs use **your** answers to exercises 4.1–4.3: `format_prompt`, `bnb_config` and
# `lora_config`. A wrong setting shows up in your own run; a target name that is not one of BLOOM's modules stops
# the run at once, with the names BLOOM does have.

# %% tags=["book"]
from peft import get_peft_model, prepare_model_for_kbit_training
from transformers import AutoModelForCausalLM, AutoTokenizer

base_path = qlora.resolve_base_model(PROFILE)
tokenizer = AutoTokenizer.from_pretrained(base_path)
tokenizer.padding_side = "left"            # a decoder generates after the prompt: pad on the left
model = AutoModelForCausalLM.from_pretrained(
    base_path,
    quantization_config=bnb_config,
    device_map=qlora.device_map(PROFILE.device),   # one device: this process's GPU, or the CPU
)
qlora.keep_cpu_4bit_trainable(model)      # bitsandbytes 0.50 CPU work-around (no-op on GPU), see frlab.lora.qlora
qkv = model.transformer.h[0].self_attention.query_key_value
print(type(qkv).__name__, "| stored weight:", qkv.weight.dtype, tuple(qkv.weight.shape),
      "| original shape:", tuple(qkv.weight.quant_state.shape))

# gradient checkpointing trades compute for GPU memory; the tiny CPU model does not need it
model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=PROFILE.device == "cuda",
                                        gradient_checkpointing_kwargs={"use_reentrant": False})
LORA = lora_config                       # r, alpha, targets, dropout: your exercise 4.3
qlora.check_target_modules(model, LORA.target_modules)
model = get_peft_model(model, LORA)
adapted = qlora.assert_adapted(model, LORA.target_modules, n_layers=model.config.n_layer)
print(f"{len(adapted)} adapted modules, e.g. {adapted[0]}")

# %%
naive_trainable, naive_total = qlora.naive_count(model)
trainable, total = count_parameters(model)
print(f"this model, naive numel(): {naive_trainable:,} / {naive_total:,} = {100 * naive_trainable / naive_total:.3f} %")
print(f"this model, 4-bit aware:   {trainable:,} / {total:,} = {100 * trainable / total:.3f} %")
model.print_trainable_parameters()

# %% [markdown]
# ## 6. Before fine-tuning
#
# We ask a few questions of the training set and one that is not in it. $B = 0$ at this point, so this is the
# base model's behaviour: it has never seen the `<human>:`/`<assistant>:` format. Greedy decoding keeps the
# comparison deterministic.

# %% tags=["book"]
QUESTIONS = [rows[i]["question"] for i in (0, 29, 45)] + ["Puis-je payer avec des tickets restaurant ?"]
MAX_NEW = PROFILE.pick(full=80, cpu=40, smoke=40)


def answer(model, question, max_new_tokens=MAX_NEW):
    inputs = tokenizer(format_prompt(question), return_tensors="pt").to(model.device)
    model.eval()
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             repetition_penalty=1.2, eos_token_id=tokenizer.eos_token_id,
                             pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    return qa_data.answer_from_generation("<assistant>:" + text) or "(nothing: the model ends the text at once)"


before = {q: answer(model, q) for q in QUESTIONS}
for q, a in before.items():
    print(f"Q: {q}\nA (before): {a}\n")

# %% [markdown]
# ## 7. Training
#
# Each example is the full prompt followed by the end-of-sequence token (so the model learns to stop).
# `DataCollatorForLanguageModeling(mlm=False)` pads a batch and copies the inputs to the labels (padding masked
# with -100); the model shifts them by one position itself. `paged_adamw_8bit` (GPU) keeps the optimiser states
# in 8 bits and pages them to CPU memory on spikes; on CPU we use plain AdamW.
#
# The smoke run uses a larger learning rate than the full one (tiny model, few steps) but not much larger: on the
# tiny model, LoRA on the fused query/key/value projection at 5e-3, or at 2e-3 for 100 steps, sends the gradient
# norm from below 1 to tens or hundreds and the loss back up (we measured it). Watch `grad_norm` in the logs.

# %% tags=["book"]
from datasets import Dataset
from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

MAX_LEN = 256


def tokenize(row):
    return tokenizer(format_prompt(row["question"], row["answer"]) + tokenizer.eos_token,
                     truncation=True, max_length=MAX_LEN)


train_ds = Dataset.from_list(rows).map(tokenize, remove_columns=["question", "answer"])
print(train_ds, "| longest example:", max(len(x) for x in train_ds["input_ids"]), "tokens")

args = TrainingArguments(
    output_dir=str(RUN_DIR / "trainer"),
    max_steps=PROFILE.capped(PROFILE.pick(full=120, cpu=60, smoke=60)),   # capped only by FRLAB_MAX_UPDATES
    per_device_train_batch_size=PROFILE.pick(full=4, cpu=8, smoke=8),
    gradient_accumulation_steps=PROFILE.pick(full=2, cpu=1, smoke=1),
    learning_rate=PROFILE.pick(full=2e-4, cpu=1e-3, smoke=1e-3),
    lr_scheduler_type="cosine",
    warmup_steps=PROFILE.pick(full=10, cpu=5, smoke=5),
    logging_steps=5,
    optim="paged_adamw_8bit" if PROFILE.device == "cuda" else "adamw_torch",
    bf16=PROFILE.device == "cuda" and compute_dtype == torch.bfloat16,
    fp16=PROFILE.device == "cuda" and compute_dtype == torch.float16,
    save_strategy="no",
    report_to=[],
    seed=0,
    disable_tqdm=True,
)
trainer = Trainer(model=model, args=args, train_dataset=train_ds,
                  data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))

# %% tags=["book", "hide-output"]
from peft import set_peft_model_state_dict
from safetensors.torch import load_file

# What you submit with the notebook (beside it): the training log and the adapter, in part4_outputs/
SUBMIT = grading.submitted_file("part4_outputs")
if grading.is_grading():
    # the grader does not retrain: it reads the submitted training log and adapter
    log_history = grading.load_json_artefact("part4_outputs/log_history.json", "Part 4 training log")
    adapter = grading.require_artefact("part4_outputs/adapter/adapter_model.safetensors", "Part 4 LoRA adapter")
    set_peft_model_state_dict(model, load_file(str(adapter)))
else:
    trainer.train()
    log_history = trainer.state.log_history
    grading.save_json_artefact("part4_outputs/log_history.json", log_history)
    model.save_pretrained(SUBMIT / "adapter")     # only the adapter: a few MB, not the base model
losses = qlora.training_losses(log_history)
print("logged training losses:", [round(l, 3) for _, l in losses])

# %% tags=["book"]
qlora.plot_loss_curve(log_history, path=RUN_DIR / "loss_curve.png",
                      title=f"QLoRA on the French FAQ ({PROFILE.name} profile)");

# %%
last = [l for _, l in losses[-3:]]
assert sum(last) / len(last) < losses[0][1], "the training loss did not go down"
print(f"training loss: first logged {losses[0][1]:.3f} -> mean of the last three {sum(last) / len(last):.3f}")

# %% [markdown]
# ## 8. After fine-tuning
#
# Same questions, same greedy decoding, now through the adapted model. The answers should now follow the
# `<assistant>:` format and the shop's style; on the tiny smoke model do not expect sense, only the format and
# fragments of the training answers.

# %% tags=["book"]
after = {q: answer(model, q) for q in QUESTIONS}
for q in QUESTIONS:
    print(f"Q: {q}\n  before: {before[q]}\n  after:  {after[q]}\n")
(RUN_DIR / "generations.json").write_text(json.dumps({"before": before, "after": after}, indent=1, ensure_ascii=False))

# %% [markdown]
# **To take away.** The adapter holds a fraction of a percent of the weights (a few MB on disk) and the base model
# stays frozen in 4 bits: fine-tuning a model that would not fit in memory in 16 bits becomes possible on one
# consumer GPU. The price is compute (de-quantisation at every product, gradient checkpointing) and a small loss of
# precision that the trained adapter compensates. With 81 examples and a few epochs the model mostly learns the
# *format* and the shop's phrasing; facts it has not seen (the last question) are invented — which is why such
# assistants are usually combined with retrieval of the shop's real documents.
