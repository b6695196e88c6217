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


class _WordCache:
    """WordPiece ids per whitespace-separated chunk, cached: BERT's pre-tokenizer splits on
    whitespace and punctuation and WordPiece works inside the pieces, so a chunk's ids do not
    depend on its neighbours. Running the tokenizer once per distinct chunk, not per sentence, is
    about ten times faster on a corpus."""

    def __init__(self, name: str, max_size: int = 200_000):
        self.tok = load_tokenizer(name)
        vocab_size = self.tok.get_vocab_size()
        self.keep = np.ones(vocab_size, dtype=bool)
        self.keep[[i for i in SPECIAL_IDS if i < vocab_size]] = False
        self.cache: dict[str, np.ndarray] = {}
        self.max_size = max_size

    def __call__(self, texts) -> list[np.ndarray]:
        cache, out = self.cache, []
        for text in texts:
            chunks = str(text).split()
            missing = [c for c in dict.fromkeys(chunks) if c not in cache]
            if missing:
                if len(cache) + len(missing) > self.max_size:
                    cache.clear()
                for c, enc in zip(missing, self.tok.encode_batch(missing, add_special_tokens=False)):
                    ids = np.asarray(enc.ids, dtype=np.int64)
                    cache[c] = ids[self.keep[ids]]
            out.append(np.concatenate([cache[c] for c in chunks]) if chunks else np.zeros(0, dtype=np.int64))
        return out


@lru_cache(maxsize=4)
def _word_cache(name: str) -> _WordCache:
    return _WordCache(name)


def token_ids(texts, name: str) -> list[np.ndarray]:
    """WordPiece ids of each text, special and unknown tokens dropped (no truncation)."""
    return _word_cache(name)(texts)


def _weighted_means(vectors: np.ndarray, weights: np.ndarray, ids: list[np.ndarray]) -> np.ndarray:
    """L2-normalised weighted mean of ``vectors[ids[i]]`` for each i (zero rows for empty ids), as
    one sparse (sentences x vocabulary) weight matrix times the table: no per-token copies."""
    lengths = np.fromiter((len(s) for s in ids), dtype=np.int64, count=len(ids))
    flat = np.concatenate(ids) if len(ids) else np.zeros(0, dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    W = sp.csr_matrix((weights[flat], flat, indptr), shape=(len(ids), vectors.shape[0]))
    sums = np.asarray(W @ vectors, dtype=np.float32)
    return sums / (np.linalg.norm(sums, axis=1, keepdims=True) + 1e-9)


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
        return sp.csr_matrix(_weighted_means(vectors, self.idf_, token_ids(X, self.table)))

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "idf_")
        return np.array([f"dim{i}" for i in range(self.n_features_out_)], dtype=object)
