"""frlab: the plumbing behind the lab "Fine-tuning French language models with
fairseq, Hugging Face and LoRA".

Teaching code lives in the notebooks; this package holds what students should
not have to write: asset downloads, run profiles, the fairseq plugin, log
parsing, conversions and plots.  Modules are named after what they do.
"""

__version__ = "0.1.0"
