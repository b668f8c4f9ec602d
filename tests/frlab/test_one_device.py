"""One GPU, always: on a machine with several GPUs the lab's runs still use one, unless the notebook was launched
for several processes (torchrun / accelerate). The GPU count is faked here: this machine has none."""

from types import SimpleNamespace

from frlab.fairseq.pretrain import CONFIGS, masked_lm_command
from frlab.hf import finetune as hf_finetune
from frlab.lora import qlora


def _args(n_gpu):
    return SimpleNamespace(n_gpu=n_gpu, _n_gpu=n_gpu)


def test_the_trainer_keeps_one_gpu_out_of_several(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert hf_finetune.one_device(_args(4))._n_gpu == 1  # no DataParallel over 4 GPUs
    assert hf_finetune.one_device(_args(1))._n_gpu == 1 and hf_finetune.one_device(_args(0))._n_gpu == 0
    monkeypatch.setenv("WORLD_SIZE", "2")  # a torchrun launch: the launcher decides
    assert hf_finetune.one_device(_args(4))._n_gpu == 4


def test_one_device_on_real_training_arguments(tmp_path):
    from transformers import TrainingArguments

    args = hf_finetune.one_device(TrainingArguments(output_dir=str(tmp_path), report_to=[]))
    assert args.n_gpu == 0  # this machine: the CPU, untouched


def test_qlora_loads_on_this_processs_gpu(monkeypatch):
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert qlora.device_map("cuda") == {"": 0} and qlora.device_map("cpu") == {"": "cpu"}
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert qlora.device_map("cuda") == {"": 1}


def test_fairseq_commands_ask_for_one_process(tmp_path):
    from frlab.fairseq import finetune as ff
    from labtools.chapter_code import part2_train_command

    cmd = part2_train_command("bin", "run", "m.pt", 0, ff.hyperparameters("cpu"), {"encoder_layers": 4}, 1600)
    assert cmd[cmd.index("--distributed-world-size") + 1] == "1"
    pre = masked_lm_command(CONFIGS["smoke"], tmp_path / "bin", tmp_path / "save", tmp_path / "tb")
    assert pre[pre.index("--distributed-world-size") + 1] == "1"
