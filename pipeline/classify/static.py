"""Sentence meaning from distilled static token vectors: a scikit-learn transformer.

The vectors (``data/minilm-l6-static.npz``) are all-MiniLM-L6-v2 (sentence-transformers, Apache
2.0; see ``data/MINILM-NOTICE``) distilled once into one vector per WordPiece token, by running
the encoder on each token alone ([CLS] token [SEP], mean-pooled), as model2vec does
(``scripts/distill_static.py`` rebuilds the file). A sentence is the IDF-weighted mean of its
tokens' vectors, L2-normalised: a table lookup, so it costs nothing next to spaCy's parse, while
carrying what the encoder learned about words from a billion sentence pairs. TF-IDF n-grams only
know the words of our own briefs; this block is what lets "terminated retaliatory tariffs" and
"scrapped its counter-duties" land near each other.

The IDF weights are learned in ``fit``; the table is read from the package (not pickled into the
model) and its sha256 is checked against the one the model was fitted with.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ModelError

DATA_DIR = Path(__file__).resolve().parent / "data"
TABLES = {"minilm-l6-static": ("minilm-l6-static.npz", "minilm-vocab.txt")}
SPECIAL_IDS = frozenset({0, 100, 101, 102, 103})  # [PAD] [UNK] [CLS] [SEP] [MASK]


@lru_cache(maxsize=4)
def load_table(name: str) -> tuple[np.ndarray, str]:
    """(vectors as float32, sha256 of the file) of a named table."""
    if name not in TABLES:
        raise ModelError(f"unknown static embedding table {name!r}; known: {sorted(TABLES)}")
    f = DATA_DIR / TABLES[name][0]
    if not f.exists():
        raise ModelError("static embedding table missing from the package (reinstall briefs)", f)
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    with np.load(f) as z:
        vectors = z["q"].astype(np.float32) * z["scale"][:, None]
    return vectors, sha


@lru_cache(maxsize=4)
def load_tokenizer(name: str):
    # one thread per process: batch workers are processes already, and a forked worker must not
    # inherit a tokenizer thread pool
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import BertWordPieceTokenizer

    return BertWordPieceTokenizer(str(DATA_DIR / TABLES[name][1]), lowercase=True)


def token_ids(texts, name: str) -> list[np.ndarray]:
    """WordPiece ids of each text, special tokens dropped (no truncation)."""
    tok = load_tokenizer(name)
    out = []
    for enc in tok.encode_batch([str(t) for t in texts], add_special_tokens=False):
        ids = np.asarray(enc.ids, dtype=np.int64)
        out.append(ids[~np.isin(ids, list(SPECIAL_IDS))])
    return out


class StaticEmbedding(BaseEstimator, TransformerMixin):
    """Text column -> IDF-weighted mean of static token vectors (dense rows in a CSR matrix, so the
    pipeline's feature matrix stays sparse)."""

    def __init__(self, table: str = "minilm-l6-static"):
        self.table = table

    def fit(self, X, y=None):
        vectors, sha = load_table(self.table)
        ids = token_ids(X, self.table)
        df = np.zeros(len(vectors), dtype=np.float64)
        for s in ids:
            df[np.unique(s)] += 1
        self.idf_ = (np.log((1.0 + len(ids)) / (1.0 + df)) + 1.0).astype(np.float32)
        self.table_sha256_ = sha
        self.n_features_out_ = vectors.shape[1]
        return self

    def transform(self, X):
        check_is_fitted(self, "idf_")
        vectors, sha = load_table(self.table)
        if sha != self.table_sha256_:
            raise ModelError(f"the static embedding table {self.table!r} differs from the one this model was "
                             "trained with (retrain, or reinstall the matching briefs version)")
        ids = token_ids(X, self.table)
        out = np.zeros((len(ids), vectors.shape[1]), dtype=np.float32)
        for r, s in enumerate(ids):
            if len(s):
                m = (vectors[s] * self.idf_[s][:, None]).mean(axis=0)
                out[r] = m / (np.linalg.norm(m) + 1e-9)
        return sp.csr_matrix(out)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "idf_")
        return np.array([f"dim{i}" for i in range(self.n_features_out_)], dtype=object)
