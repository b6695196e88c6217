"""The distilled static sentence vectors (pipeline.classify.static)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.classify import static
from pipeline.classify.static import StaticEmbedding, load_table, token_ids
from pipeline.errors import ModelError


def test_table_and_tokenizer_ship_with_the_package():
    vectors, sha = load_table("minilm-l6-static")
    assert vectors.shape == (30522, 384) and vectors.dtype == np.float32
    assert len(sha) == 64
    assert (static.DATA_DIR / "MINILM-NOTICE").read_text().startswith("minilm-l6-static.npz")
    ids = token_ids(["Tokyo and Beijing signed the accord.", ""], "minilm-l6-static")
    assert len(ids[0]) >= 6 and len(ids[1]) == 0
    assert not set(ids[0].tolist()) & static.SPECIAL_IDS


def test_sentences_with_the_same_meaning_land_near_each_other():
    texts = ["Canada scrapped its retaliatory tariffs on American steel.",
             "Ottawa removed the counter-duties it had imposed on U.S. metal.",
             "The ministry condemned the missile test and summoned the ambassador.",
             "The football season opens in August."]
    emb = StaticEmbedding().fit(texts * 3)
    X = emb.transform(texts).toarray()
    assert X.shape == (4, 384)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    sim = X @ X.T
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[0, 3]
    # empty text: a zero row, not an error
    assert emb.transform([""]).nnz == 0
    assert list(emb.get_feature_names_out()[:2]) == ["dim0", "dim1"]


def test_idf_is_learned_in_fit_and_down_weights_common_tokens():
    texts = ["the treaty", "the sanctions", "the summit", "the tariff"]
    emb = StaticEmbedding().fit(texts)
    the, treaty = (token_ids([w], "minilm-l6-static")[0][0] for w in ("the", "treaty"))
    assert emb.idf_[the] < emb.idf_[treaty]
    with pytest.raises(Exception):
        StaticEmbedding().transform(texts)  # not fitted


def test_a_model_refuses_a_different_table():
    emb = StaticEmbedding().fit(["a b c"])
    emb.table_sha256_ = "0" * 64
    with pytest.raises(ModelError, match="differs from the one this model was trained with"):
        emb.transform(["a"])
    with pytest.raises(ModelError, match="unknown static embedding table"):
        StaticEmbedding(table="nope").fit(["a"])
