# %% [markdown]
# # Part 1 — Counting the parameters of RoBERTa_small_fr
#
# Before fine-tuning a model, know what you are fine-tuning. In this first part you derive, **by hand**, the
# number of parameters of `RoBERTa_small_fr`, the French RoBERTa used in the rest of the lab, and then check your
# derivation on the real model built from its configuration (random weights: nothing to download).
#
# `RoBERTa_small_fr` is a fairseq `roberta` model with
#
# | hyper-parameter | symbol | value |
# |---|---|---|
# | encoder layers | $L$ | 4 |
# | model dimension | $d$ | 512 |
# | feed-forward dimension | $d_{ff}$ | 512 |
# | attention heads | $h$ | 8 |
# | vocabulary rows (sentencepiece pieces + specials + `<mask>`) | $V$ | 32,000 |
# | maximum sequence length | $T$ | 256 |
#
# **Two conventions.** Papers and course reports count parameters in two ways, and you will compute both:
#
# * **(A) weight matrices only**: embeddings and the weight matrices of every linear layer; no biases, no
#   LayerNorm, no language-model (LM) head;
# * **(B) every trainable encoder parameter**: (A) plus all biases and LayerNorm gains/biases; still without the LM
#   head (which is thrown away when we fine-tune for classification).

# %%
from frlab import profiles

PROFILE = profiles.banner()

# %% [markdown]
# ## 1. The building blocks
#
# Write each module's count as a function of $V, T, d, d_{ff}, L$.
#
# * **Token embeddings**: one $d$-dimensional vector per vocabulary row.
# * **Learned position embeddings**: fairseq reserves the first `padding_idx + 1 = 2` position indices (positions
#   start counting after the padding index), so a model that accepts $T$ tokens stores $T + 2$ position vectors.
# * **Self-attention** (per layer): four $d \times d$ projections — queries, keys, values and the output
#   projection — each with a bias of size $d$. The 8 heads *split* $d$; they add no parameters.
# * **Feed-forward** (per layer): $d \to d_{ff} \to d$: two matrices and two biases ($d_{ff}$ and $d$).
# * **LayerNorm**: a gain and a bias of size $d$ each: one after attention and one after the feed-forward block in
#   each layer, plus one on the embeddings (`layernorm_embedding`).
#
# :::{admonition} Why 32,000 rows and not 32,001?
# fairseq's `masked_lm` and `sentence_prediction` tasks call `dictionary.add_symbol("<mask>")` when they load
# `dict.txt`. Together with the four special symbols `<s>`, `<pad>`, `</s>`, `<unk>`, the embedding therefore has
# `len(dict.txt) + 5` rows: the course dictionary has 31,995 entries, hence 32,000 rows. A 31,996-entry dictionary
# would give 32,001.
# :::

# %% tags=["book"]
# The configuration of RoBERTa_small_fr (fairseq argument names in comments)
V = 32_000      # len(dictionary) incl. the 4 specials and <mask>
T = 256         # --max-positions / --tokens-per-sample
d = 512         # --encoder-embed-dim
d_ff = 512      # --encoder-ffn-embed-dim
L = 4           # --encoder-layers

# %% [markdown]
# ### Exercise 1.1 — the analytic count
#
# Complete `count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm)` so that it returns the number of
# parameters of a fairseq RoBERTa encoder **without the LM head**, in convention (A) when
# `with_biases_and_layernorm=False` and in convention (B) when it is `True`. Return a plain Python `int`.
# It must work for any configuration (the grader checks it against models of other sizes too).

# %% nbgrader={"grade": false, "grade_id": "count_function", "locked": false, "schema_version": 3, "solution": true, "task": false}
def count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm=False):
    """Parameters of a fairseq RoBERTa encoder (no LM head)."""
    ### BEGIN SOLUTION
    embeddings = V * d + (T + 2) * d
    per_layer = 4 * d * d + 2 * d * d_ff
    total = embeddings + L * per_layer
    if with_biases_and_layernorm:
        per_layer_extra = 4 * d + (d_ff + d) + 2 * (2 * d)  # attention biases, FFN biases, two LayerNorms
        total += L * per_layer_extra + 2 * d  # + embedding LayerNorm
    return int(total)
    ### END SOLUTION


# %% [markdown]
# ### Exercise 1.2 — the two answers
#
# Use your function to set `n_weights` (convention A) and `n_trainable` (convention B) for RoBERTa_small_fr.

# %% nbgrader={"grade": false, "grade_id": "count_answers", "locked": false, "schema_version": 3, "solution": true, "task": false}
### BEGIN SOLUTION
n_weights = count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm=False)
n_trainable = count_parameters(V, T, d, d_ff, L, with_biases_and_layernorm=True)
### END SOLUTION
print(f"(A) weights only:             {n_weights:,}")
print(f"(B) with biases and LayerNorm: {n_trainable:,}")

# %% nbgrader={"grade": true, "grade_id": "test_count_weights", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks you can run: a plain int, in the right range. The grader checks the exact value itself, outside your
# notebook, from the answers your notebook gives.
assert type(n_weights) is int, "n_weights must be a plain int (not a float, numpy or tensor value)"
assert 10_000_000 < n_weights < 40_000_000, "n_weights is far from the expected order of magnitude"

# %% nbgrader={"grade": true, "grade_id": "test_count_trainable", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
assert type(n_trainable) is int, "n_trainable must be a plain int (not a float, numpy or tensor value)"
assert 10_000_000 < n_trainable < 40_000_000, "n_trainable is far from the expected order of magnitude"

# %% nbgrader={"grade": true, "grade_id": "test_count_function_general", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Your formula must hold for other sizes too: the grader calls it on model sizes of its choosing and compares with
# real fairseq models built from config.
for _full in (False, True):
    assert type(count_parameters(1_000, 64, 32, 48, 2, with_biases_and_layernorm=_full)) is int, \
        "count_parameters must return a plain int"

# %% [markdown]
# ## 2. Check on the real model
#
# `frlab.fairseq.models.build_roberta()` builds the fairseq model from its configuration with random weights
# (the `roberta_small` architecture is registered by the lab's fairseq plugin). Counting is then one line of
# PyTorch — but you must decide which tensors belong to which convention.

# %% tags=["book"]
from frlab.fairseq.models import build_roberta, make_dictionary

model = build_roberta(make_dictionary(V - 5), arch="roberta_small", max_positions=T)
encoder = model.encoder.sentence_encoder        # the LM head lives in model.encoder.lm_head
print(type(model).__name__, "with", len(model.encoder.dictionary), "dictionary rows")
print(encoder.embed_positions.weight.shape, "<- T + 2 learned positions")

# %% [markdown]
# ### Exercise 2.1 — count on the model
#
# Complete `count_on_model(encoder, with_biases_and_layernorm)`: sum `numel()` over the right
# `encoder.named_parameters()`. LayerNorm parameters have `layer_norm` or `layernorm` in their names.

# %% nbgrader={"grade": false, "grade_id": "count_on_model", "locked": false, "schema_version": 3, "solution": true, "task": false}
def is_layernorm(name):
    return "layer_norm" in name or "layernorm" in name


def count_on_model(encoder, with_biases_and_layernorm=False):
    ### BEGIN SOLUTION
    return int(sum(
        p.numel() for n, p in encoder.named_parameters()
        if with_biases_and_layernorm or (n.endswith(".weight") and not is_layernorm(n))
    ))
    ### END SOLUTION


# %%
measured_weights = count_on_model(encoder, with_biases_and_layernorm=False)
measured_trainable = count_on_model(encoder, with_biases_and_layernorm=True)
print(f"(A) analytic {n_weights:,}  | model {measured_weights:,}")
print(f"(B) analytic {n_trainable:,}  | model {measured_trainable:,}")

# %% nbgrader={"grade": true, "grade_id": "test_count_on_model", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Graded on the model alone (your analytic counts are graded above): the grader calls count_on_model on the
# course's model and on another one, both built by the grader, in both conventions.
for _name, _value in [("measured_weights", measured_weights), ("measured_trainable", measured_trainable)]:
    assert type(_value) is int, f"{_name} must be a plain int"
assert measured_trainable > measured_weights, "convention (B) adds biases and LayerNorm to (A)"

# %% [markdown]
# ## 3. Where do the parameters live?
#
# The table below groups the encoder's tensors by module. Notice how much of this *small* model is
# vocabulary: with $d = 512$, a 32k-row embedding dwarfs four transformer layers.

# %% tags=["book"]
from frlab.fairseq.params import by_module, parameter_table, plot_shares

per_module = by_module(parameter_table(encoder))
ax = plot_shares(per_module, title="RoBERTa_small_fr encoder: share of parameters per module")

# %%
per_module

# %% [markdown]
# ## 4. The LM head and the Hugging Face model
#
# The masked-language-model head maps hidden states back to the vocabulary: a dense $d\times d$ layer with bias,
# a LayerNorm, and an output projection whose **weight is tied** to the token embeddings (so it adds only the
# $V$ output biases). It is not part of either convention because fine-tuning replaces it with a classification
# head.
#
# Hugging Face's `RobertaModel` (Part 3) has the same tensors plus one more: `token_type_embeddings`, a
# $1 \times d$ matrix (RoBERTa has a single segment type) — so its count is convention (B) $+\,d$.

# %%
tied = model.encoder.lm_head.weight is encoder.embed_tokens.weight
lm_head = sum(p.numel() for n, p in model.encoder.lm_head.named_parameters() if n != "weight")
print("output projection tied to the token embeddings:", tied)
print(f"LM head (weight tied to the embeddings): {lm_head:,} = d*d + d + 2d + V = {d * d + d + 2 * d + V:,}")

from transformers import RobertaConfig, RobertaModel

hf_config = RobertaConfig(vocab_size=V, hidden_size=d, num_hidden_layers=L, num_attention_heads=8,
                          intermediate_size=d_ff, max_position_embeddings=T + 2, type_vocab_size=1,
                          pad_token_id=1, bos_token_id=0, eos_token_id=2)
hf_model = RobertaModel(hf_config, add_pooling_layer=False)
n_hf = sum(p.numel() for p in hf_model.parameters())
print(f"Hugging Face RobertaModel(add_pooling_layer=False): {n_hf:,} = (B) + {n_hf - n_trainable} (token_type_embeddings)")

# %% [markdown]
# ### Question 1.3 (written, graded by hand)
#
# In two or three sentences: why does the position embedding matrix have $T+2$ rows, and what would change in
# your count (A) if the dictionary file had one more entry?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_positions", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false}
# fairseq computes positions as `padding_idx + 1 + i`, so indices 0 and 1 (padding_idx = 1) are never used by
# real tokens but are still allocated: T + 2 rows. One more dictionary entry adds one embedding row: +d = +512
# parameters to (A) (and to (B)); the tied LM head would also gain one output bias.
