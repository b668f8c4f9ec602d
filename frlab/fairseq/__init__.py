"""fairseq side of the lab: the ``--user-dir`` plugin, checkpoint compatibility, model building, parameter
tables, the pretraining recipe, Part 2's fine-tuning plumbing and its TensorBoard logs."""
