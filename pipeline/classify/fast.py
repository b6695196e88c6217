"""The feature step of a fitted stance pipeline, computed faster and with the same result.

scikit-learn's ``char_wb`` vectorizer cuts every word of every sentence into its 3-5 character
n-grams in Python and looks each one up in the vocabulary: half the classifier's time in
``briefs process``. Words repeat across sentences, so :class:`FastFeatures` keeps, per distinct
word, the vocabulary columns of its n-grams and builds the count matrix from those; scikit-learn's
own TF-IDF step then weights and normalises it. The saved pipeline is not modified (nothing extra
is pickled), and a test checks that the matrix equals ``ColumnTransformer.transform``'s exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

_CACHE_LIMIT = 500_000  # distinct words kept per vectorizer (a few hundred MB at worst)


class _CachedCharWB:
    """``transform`` of a fitted char_wb Count/Tfidf vectorizer through a per-word column cache."""

    def __init__(self, vec: CountVectorizer):
        self.vec = vec
        self.pre = vec.build_preprocessor()  # lower-casing (and accent stripping if set)
        self.vocab = vec.vocabulary_
        self.cache: dict[str, list[int]] = {}

    def _cols(self, word: str) -> list[int]:
        cols = self.cache.get(word)
        if cols is None:
            vocab = self.vocab
            # scikit-learn's own n-gram cutter, on one word: the same n-grams, in the same way
            cols = [vocab[g] for g in self.vec._char_wb_ngrams(word) if g in vocab]
            if len(self.cache) < _CACHE_LIMIT:
                self.cache[word] = cols
        return cols

    def transform(self, docs) -> sp.csr_matrix:
        vec = self.vec
        indices: list[int] = []
        indptr = [0]
        for doc in docs:
            for word in self.pre(vec.decode(doc)).split():
                indices.extend(self._cols(word))
            indptr.append(len(indices))
        X = sp.csr_matrix(
            (np.ones(len(indices), dtype=vec.dtype), np.asarray(indices, dtype=np.int32), np.asarray(indptr)),
            shape=(len(indptr) - 1, len(self.vocab)),
        )
        X.sum_duplicates()  # counts, indices sorted, as CountVectorizer leaves them
        if vec.binary:
            X.data.fill(1)
        if isinstance(vec, TfidfVectorizer):
            X = vec._tfidf.transform(X, copy=False)
        return X


def _cacheable(vec) -> bool:
    return (isinstance(vec, CountVectorizer) and vec.analyzer == "char_wb" and vec.input == "content"
            and vec.preprocessor is None and hasattr(vec, "vocabulary_"))


class FastFeatures:
    """Drop-in for ``pipeline.named_steps["features"].transform`` on a fitted ColumnTransformer of
    text vectorizers, one column each (the shape ``build_pipeline`` makes). Anything else falls
    back to the ColumnTransformer itself."""

    def __init__(self, features: ColumnTransformer):
        self.features = features
        self.steps = []
        ok = getattr(features, "remainder", "drop") == "drop" and getattr(features, "sparse_output_", False)
        for name, tr, col in getattr(features, "transformers_", []):
            if name == "remainder":
                ok = ok and tr == "drop"
                continue
            from .static import StaticEmbedding

            if tr == "drop" or not isinstance(col, str) or not isinstance(tr, (CountVectorizer, StaticEmbedding)):
                ok = False
                break
            self.steps.append((col, _CachedCharWB(tr) if _cacheable(tr) else tr))
        self.ok = ok and bool(self.steps)

    def transform(self, X: pd.DataFrame) -> sp.csr_matrix:
        if not self.ok:
            return self.features.transform(X).tocsr()
        blocks = [step.transform(X[col]) for col, step in self.steps]
        return sp.hstack(blocks, format="csr")
