"""fairseq ``--user-dir`` plugin of the lab.

Pass ``--user-dir $(python -c 'import frlab.paths as p; print(p.fairseq_user_dir())')``
(the notebooks do it for you) to get:

* the ``roberta_small`` architecture of RoBERTa_small_fr: 4 layers, model
  dimension 512, feed-forward 512, 8 heads (learned positions, post-LayerNorm
  like ``roberta_base``);
* ``--task masked_lm_sinpos``: ``masked_lm`` with the learned position table
  started from sinusoids (see :mod:`.masked_lm_sinpos`);
* ``--criterion masked_lm_bos_bow``: ``masked_lm`` + a bag-of-words loss on ``<s>``
  (see :mod:`.masked_lm_bos_bow`);
* checkpoint loading under torch >= 2.6 (see :mod:`frlab.fairseq.compat`).

No fork of fairseq is needed: fairseq imports this package before it parses the
architecture name.
"""

from frlab.fairseq.compat import allow_fairseq_checkpoints, tame_fairseq_logging

allow_fairseq_checkpoints()
tame_fairseq_logging()

from . import (
    masked_lm_bos_bow,  # noqa: E402,F401  (registers --criterion masked_lm_bos_bow)
    masked_lm_sinpos,  # noqa: E402,F401  (registers --task masked_lm_sinpos)
    roberta_small,  # noqa: E402,F401  (registers the architecture)
)
