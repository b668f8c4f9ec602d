"""``--criterion masked_lm_bos_bow``: fairseq's ``masked_lm`` loss plus a bag-of-words loss on ``<s>``.

Fine-tuning with ``--task sentence_prediction`` classifies a review from one vector: the last layer's
output at ``<s>``, the piece fairseq puts in front of every sequence.  Plain MLM never asks anything of
that vector (``<s>`` is never masked, so it is never a target), and on a small budget a well-trained
MLM model turns ``<s>`` into an *attention sink*: in the last layer it attends to itself and carries
little about the text (``results/part2/pretraining_ablation/probe_cpu_model_mlm_only.txt``).  At the course's
fine-tuning learning rate (1e-5, 1,000 updates) the classifier then starts from a nearly constant
vector, and a random initialisation -- whose ``<s>`` averages the review's pieces -- does better.

BERT trained its ``[CLS]`` vector with next-sentence prediction; RoBERTa dropped that objective and relies
on scale.  This criterion gives ``<s>`` a cheap sentence-level job instead: predict, through the same
(tied) MLM output layer, the bag of pieces of its block -- the cross-entropy between the block's piece
frequencies and the softmax at ``<s>``.  No parameter is added: the checkpoint is an ordinary
``masked_lm`` one (``frlab.fairseq.pretrain.export_checkpoint`` records it as such).

``--bos-bow-weight w`` counts each block's bag-of-words loss like ``w`` masked pieces (a block of 128
pieces with ``--mask-prob 0.3`` has about 38); the logged ``loss`` is the sum and ``mlm_loss`` /
``bow_loss`` are logged apart, so the MLM loss stays comparable with plain ``masked_lm`` runs.
"""

# no ``from __future__ import annotations``: fairseq builds its command-line options from the real
# (not stringified) types of the config dataclass
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics, modules
from fairseq.criterions import CRITERION_REGISTRY, register_criterion
from fairseq.criterions.masked_lm import MaskedLmConfig, MaskedLmLoss


@dataclass
class MaskedLmBosBowConfig(MaskedLmConfig):
    bos_bow_weight: float = field(
        default=8.0, metadata={"help": "weight of each block's bag-of-words loss at <s>, in masked pieces"}
    )


def bag_of_pieces(tokens: torch.Tensor, vocab_size: int, ignore: list[int]) -> torch.Tensor:
    """``batch x vocab`` piece frequencies of each row of ``tokens`` (rows sum to 1), ``ignore`` left out."""
    keep = ~torch.isin(tokens, torch.tensor(ignore, device=tokens.device))
    bag = torch.zeros(tokens.shape[0], vocab_size, device=tokens.device)
    bag.scatter_add_(1, tokens, keep.float())
    return bag / bag.sum(dim=1, keepdim=True).clamp(min=1.0)


def bow_cross_entropy(bos_logits: torch.Tensor, bag: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy (nats) of the bags ``bag`` under the softmax of ``bos_logits``."""
    return -(bag * F.log_softmax(bos_logits.float(), dim=-1)).sum()


if "masked_lm_bos_bow" not in CRITERION_REGISTRY:  # importing twice must not fail

    @register_criterion("masked_lm_bos_bow", dataclass=MaskedLmBosBowConfig)
    class MaskedLmBosBowLoss(MaskedLmLoss):
        """MLM loss on the masked pieces + ``bos_bow_weight`` x bag-of-words loss of each block at ``<s>``."""

        def __init__(self, cfg: MaskedLmBosBowConfig, task):
            super().__init__(cfg, task)
            self.bos_bow_weight = cfg.bos_bow_weight
            d = task.source_dictionary
            self.ignore = sorted({d.pad(), d.bos(), d.eos(), d.unk(), getattr(task, "mask_idx", d.pad())})
            self.vocab_size = len(d)

        def forward(self, model, sample, reduce=True):
            src = sample["net_input"]["src_tokens"]
            target = sample["target"]
            masked = target.ne(self.padding_idx)
            sample_size = masked.int().sum()
            features, _ = model(**sample["net_input"], features_only=True)
            lm_head = model.encoder.lm_head
            mlm_logits = lm_head(features, masked)
            mlm_loss = modules.cross_entropy(
                mlm_logits.view(-1, mlm_logits.size(-1)),
                target[masked].view(-1),
                reduction="sum",
                ignore_index=self.padding_idx,
            )
            original = torch.where(masked, target, src)  # the pieces before masking
            bag = bag_of_pieces(original, self.vocab_size, self.ignore)
            bow_loss = bow_cross_entropy(lm_head(features[:, 0, :]), bag)
            loss = mlm_loss + self.bos_bow_weight * bow_loss
            logging_output = {
                "loss": loss if self.tpu else loss.data,
                "mlm_loss": mlm_loss.data,
                "bow_loss": bow_loss.data,
                "ntokens": sample["ntokens"],
                "nsentences": sample["nsentences"],
                "sample_size": sample_size,
            }
            return loss, sample_size, logging_output

        @staticmethod
        def reduce_metrics(logging_outputs) -> None:
            MaskedLmLoss.reduce_metrics(logging_outputs)  # loss (base 2, per masked piece) and ppl
            sample_size = sum(log.get("sample_size", 0) for log in logging_outputs)
            blocks = sum(log.get("nsentences", 0) for log in logging_outputs)
            mlm = sum(log.get("mlm_loss", 0) for log in logging_outputs)
            bow = sum(log.get("bow_loss", 0) for log in logging_outputs)
            metrics.log_scalar("mlm_loss", mlm / sample_size / math.log(2), sample_size, round=3)
            metrics.log_scalar("bow_loss", bow / max(blocks, 1) / math.log(2), blocks, round=3)

        @staticmethod
        def logging_outputs_can_be_summed() -> bool:
            return True
