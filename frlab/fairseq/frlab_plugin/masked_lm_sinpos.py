"""``--task masked_lm_sinpos``: fairseq's ``masked_lm`` with the learned position table started from sinusoids.

RoBERTa learns its position embeddings (a table of ``max_positions + 2`` rows, the architecture the
course's checkpoint and Hugging Face's ``RobertaModel`` share).  Started from small random numbers, the
table carries no notion of "the neighbour to the left": the first thing MLM has to learn -- look at the
next and previous pieces -- waits until the table has organised itself, a long plateau of the loss near
the unigram entropy on a CPU budget.  Starting the *same learned table* from sinusoids (Vaswani et al.,
2017), scaled to the size of the token embeddings, gives every attention head relative offsets from the
first update.  Only the initial values change: the model, its parameter names and the checkpoint format
are those of ``--task masked_lm`` (fine-tuning and the Hugging Face conversion are unaffected).
"""

from __future__ import annotations

import math

from fairseq.tasks import TASK_REGISTRY, register_task
from fairseq.tasks.masked_lm import MaskedLMConfig, MaskedLMTask


def sinusoidal_table(n_positions: int, dim: int, std: float = 0.02):
    """``n_positions x dim`` sinusoids (even columns sin, odd cos), scaled so every entry has std ``std``."""
    import torch

    pos = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return table * (std * math.sqrt(2.0))  # a sinusoid has std 1/sqrt(2)


def init_positions_sinusoidal(model, std: float = 0.02) -> None:
    """Overwrite the learned position table of a fairseq RoBERTa (rows after ``padding_idx``) with sinusoids."""
    import torch

    emb = model.encoder.sentence_encoder.embed_positions
    first = emb.padding_idx + 1  # fairseq numbers real positions from padding_idx + 1
    with torch.no_grad():
        emb.weight[first:] = sinusoidal_table(emb.weight.shape[0] - first, emb.weight.shape[1], std)


if "masked_lm_sinpos" not in TASK_REGISTRY:  # importing twice must not fail

    @register_task("masked_lm_sinpos", dataclass=MaskedLMConfig)
    class MaskedLMSinusoidalPositionsTask(MaskedLMTask):
        """``masked_lm`` whose fresh models start with sinusoidal values in the learned position table."""

        def build_model(self, cfg, from_checkpoint=False):
            model = super().build_model(cfg, from_checkpoint)
            if not from_checkpoint:  # a resumed run loads its trained table right after
                init_positions_sinusoidal(model)
            return model
