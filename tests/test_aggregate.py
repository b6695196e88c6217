"""Per-document and per-actor-pair tables from a hand-made sentence table."""

from __future__ import annotations

import math

import pandas as pd

from pipeline.aggregate import corpus_dyads, documents_table, dyads_table
from pipeline.schemas import check_columns


def sentences():
    rows = [
        ("a", True, "cooperation", ["JPN", "CHN"]), ("a", True, "friction", ["CHN", "JPN", "USA"]),
        ("a", True, "cooperation", ["JPN"]), ("a", False, None, ["JPN", "CHN"]),
        ("b", True, "hedging", ["KOR", "CHN"]), ("b", False, None, []),
    ]
    return pd.DataFrame([{"doc_id": d, "stance_bearing": sb, "label": lab, "actors": acts} for d, sb, lab, acts in rows])


def test_documents_table():
    meta = pd.DataFrame([{"doc_id": "a", "path": "a.txt", "title": "A", "date": None},
                         {"doc_id": "b", "path": "b.txt", "title": "B", "date": "2024-01-02"},
                         {"doc_id": "c", "path": "c.txt", "title": "C", "date": None}])
    docs = documents_table(sentences(), meta).set_index("doc_id")
    check_columns("documents", docs.reset_index())
    a = docs.loc["a"]
    assert (a.n_sentences, a.n_stance, a.n_cooperation, a.n_friction, a.n_hedging) == (4, 3, 2, 1, 0)
    assert math.isclose(a.stance_index, (2 - 1) / 3)
    assert a.dominant_label == "cooperation"
    assert a.top_actors[0] == "JPN"
    assert docs.loc["b"].stance_index == 0 and docs.loc["b"].dominant_label == "hedging"
    assert docs.loc["c"].n_stance == 0 and math.isnan(docs.loc["c"].stance_index)
    assert pd.isna(docs.loc["c"].dominant_label)


def test_dyads_table_counts_sorted_pairs_of_stance_sentences():
    d = dyads_table(sentences())
    check_columns("dyads", d)
    rows = {(r.doc_id, r.actor_a, r.actor_b): r for r in d.itertuples()}
    assert set(rows) == {("a", "CHN", "JPN"), ("a", "CHN", "USA"), ("a", "JPN", "USA"), ("b", "CHN", "KOR")}
    cj = rows[("a", "CHN", "JPN")]
    assert (cj.n_stance, cj.n_cooperation, cj.n_friction, cj.stance_index) == (2, 1, 1, 0.0)
    c = corpus_dyads(d)
    assert c.iloc[0][["actor_a", "actor_b"]].tolist() == ["CHN", "JPN"]


def test_empty_tables():
    empty = sentences().iloc[0:0]
    assert dyads_table(empty).empty
    check_columns("dyads", dyads_table(empty))
