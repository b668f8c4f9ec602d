"""Group a model's parameters by module and kind, for tables and plots (Part 1)."""

from __future__ import annotations

import re

import pandas as pd

# fairseq RoBERTa parameter names -> readable module groups
_GROUPS = [
    (r"embed_tokens\.", "token embeddings"),
    (r"embed_positions\.", "position embeddings"),
    (r"layernorm_embedding\.", "embedding LayerNorm"),
    (r"self_attn\.(q|k|v)_proj\.", "attention Q/K/V"),
    (r"self_attn\.out_proj\.", "attention output"),
    (r"self_attn_layer_norm\.", "attention LayerNorm"),
    (r"fc1\.", "feed-forward fc1"),
    (r"fc2\.", "feed-forward fc2"),
    (r"final_layer_norm\.", "feed-forward LayerNorm"),
    (r"lm_head\.", "LM head"),
    (r"classification_heads\.", "classification head"),
]


def module_group(name: str) -> str:
    for pattern, group in _GROUPS:
        if re.search(pattern, name):
            return group
    return "other"


def parameter_kind(name: str) -> str:
    """'weight', 'bias' or 'layernorm' (LayerNorm weight and bias)."""
    if "layer_norm" in name or "layernorm" in name or "LayerNorm" in name:
        return "layernorm"
    return "bias" if name.endswith(".bias") else "weight"


def parameter_table(model) -> pd.DataFrame:
    """One row per parameter tensor: name, module group, kind, shape, count."""
    rows = [
        dict(name=n, module=module_group(n), kind=parameter_kind(n), shape=tuple(p.shape), count=p.numel())
        for n, p in model.named_parameters()
    ]
    return pd.DataFrame(rows)


def by_module(table: pd.DataFrame) -> pd.DataFrame:
    """Counts per module group and kind (columns weight/bias/layernorm, plus total)."""
    pivot = table.pivot_table(index="module", columns="kind", values="count", aggfunc="sum", fill_value=0)
    for col in ("weight", "bias", "layernorm"):
        if col not in pivot:
            pivot[col] = 0
    pivot = pivot[["weight", "bias", "layernorm"]]
    pivot["total"] = pivot.sum(axis=1)
    order = [g for _, g in _GROUPS if g in pivot.index] + [g for g in pivot.index if g not in dict(_GROUPS).values()]
    return pivot.loc[order]


def plot_shares(per_module: pd.DataFrame, ax=None, title: str = "Where the parameters are"):
    """Horizontal bar chart of each module's share (%) of the counted parameters."""
    import matplotlib.pyplot as plt

    share = 100 * per_module["total"] / per_module["total"].sum()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    share[::-1].plot.barh(ax=ax, color="#3b6ea8")
    ax.set_xlabel("share of parameters (%)")
    ax.set_title(title)
    for i, v in enumerate(share[::-1]):
        ax.text(v + 0.5, i, f"{v:.1f}%", va="center", fontsize=8)
    ax.figure.tight_layout()
    return ax
