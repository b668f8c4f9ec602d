"""Hugging Face side of the lab: the fairseq → transformers converter and Part 3's Trainer plumbing."""
