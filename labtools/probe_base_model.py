"""Diagnose what a fairseq base model gives the classifier head of Part 2 (``--init-token 0``).

For the 1,600 train / 400 valid CLS-Books reviews (cut to 126 pieces, as the ``cpu`` fine-tuning does):

* a **linear probe** of the ``<s>`` vector after each layer (logistic regression on standardised features,
  train -> valid accuracy), and of the mean over the pieces of the last layer;
* the **attention of ``<s>``** in each layer: entropy (1 = uniform over the review) and the weight it puts on
  itself (an *attention sink* when large).

Usage::

    python -m labtools.probe_base_model work/cpu/base-model [--random]

``--random`` re-initialises the weights (``init_bert_params``) first: the random-init baseline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def features(hub, texts: list[str]):
    """<s> vector after every layer (N x layers+1 x d), mean of the last layer (N x d), <s> attention stats."""
    layers = hub.model.encoder.sentence_encoder.layers
    cls, mean, ent, self_w = [], [], [], []
    with torch.no_grad():
        for t in texts:
            x = torch.cat([hub.encode(t)[:126], torch.tensor([hub.task.source_dictionary.eos()])]).unsqueeze(0)
            _, extra = hub.model(x, features_only=True, return_all_hiddens=True)
            hs = extra["inner_states"]  # T x 1 x d, input of each layer + output
            cls.append(np.stack([h[0, 0].numpy() for h in hs]))
            mean.append(hs[-1][:, 0].mean(0).numpy())
            e_row, s_row = [], []
            for i, layer in enumerate(layers):
                _, w = layer.self_attn(hs[i], hs[i], hs[i], need_weights=True, need_head_weights=True)
                p = w.reshape(-1, w.shape[-2], w.shape[-1])[:, 0, :]  # heads x source, query <s>
                e_row.append(float((-(p.clamp_min(1e-9).log() * p).sum(-1) / np.log(p.shape[-1])).mean()))
                s_row.append(float(p[:, 0].mean()))
            ent.append(e_row)
            self_w.append(s_row)
    return np.array(cls), np.array(mean), np.array(ent).mean(0), np.array(self_w).mean(0)


def probe(a, b, ya, yb) -> float:
    from sklearn.linear_model import LogisticRegression

    mu, sd = a.mean(0), a.std(0) + 1e-6
    return max(
        LogisticRegression(C=C, max_iter=3000).fit((a - mu) / sd, ya).score((b - mu) / sd, yb) for C in (0.01, 0.1, 1.0)
    )


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--random", action="store_true")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    from frlab.assets import fetch
    from frlab.fairseq.models import load_roberta_hub

    hub = load_roberta_hub(a.model_dir, data_name_or_path=str(a.model_dir)).eval()
    if a.random:
        from fairseq.modules.transformer_sentence_encoder import init_bert_params

        torch.manual_seed(0)
        hub.model.apply(init_bert_params)
    data = fetch("cls-books", progress=False)
    split = {
        s: (
            (data / f"{s}.review").read_text(encoding="utf-8").splitlines(),
            np.array([int(v) for v in (data / f"{s}.label").read_text().split()]),
        )
        for s in ("train", "valid")
    }
    ftr, mtr, ent, selfw = features(hub, split["train"][0])
    fva, mva, _, _ = features(hub, split["valid"][0])
    ytr, yva = split["train"][1], split["valid"][1]
    print(f"{a.model_dir}{' (random init)' if a.random else ''}: linear probes, valid accuracy (%)")
    for layer in range(ftr.shape[1]):
        print(
            f"  <s> after {'embeddings' if layer == 0 else f'layer {layer}'}: {100 * probe(ftr[:, layer], fva[:, layer], ytr, yva):.1f}"
        )
    print(f"  mean of the last layer: {100 * probe(mtr, mva, ytr, yva):.1f}")
    print("attention of <s> (train reviews): entropy (1 = uniform) / weight on itself")
    for i, (e, s) in enumerate(zip(ent, selfw), start=1):
        print(f"  layer {i}: {e:.2f} / {s:.2f}")


if __name__ == "__main__":
    main()  # prints its figures; a failure raises
