from __future__ import annotations

import pandas as pd
import pytest

from pipeline.train.metrics import match_by_overlap, score


def test_score_known_values():
    gold = ["cooperation", "friction", "hedging", "none", "none", "friction"]
    pred = ["cooperation", "friction", "none", "none", "friction", "friction"]
    m = score(gold, pred)
    assert m["cooperation_f1"] == 1.0
    assert m["friction_precision"] == pytest.approx(2 / 3) and m["friction_recall"] == 1.0
    assert m["hedging_f1"] == 0.0
    assert m["macro_f1"] == pytest.approx((1 + 0.8 + 0) / 3)
    assert m["none_f1"] == pytest.approx(0.5)
    assert m["stance_precision"] == pytest.approx(3 / 4) and m["stance_recall"] == pytest.approx(3 / 4)
    assert m["confusion"]["matrix"][2] == [0, 0, 0, 1]


def test_match_by_overlap_picks_the_largest_overlap_in_the_same_document():
    gold = pd.DataFrame({"doc_id": ["a", "a", "b"], "start_char": [0, 50, 0], "end_char": [40, 90, 10]})
    pred = pd.DataFrame({"doc_id": ["a", "a", "a"], "start_char": [0, 30, 60], "end_char": [30, 60, 95]})
    m = match_by_overlap(gold, pred)
    assert m["pred_index"].tolist() == [0, 2, -1]


def test_paired_bootstrap_resamples_documents_and_measures_the_difference():
    from pipeline.train.metrics import paired_bootstrap

    gold = ["cooperation", "friction", "hedging", "none"] * 30
    docs = [f"d{i // 12}" for i in range(len(gold))]  # 10 documents of 12 sentences
    same = paired_bootstrap(gold, gold, gold, groups=docs, rounds=200)
    assert same["difference"] == 0.0 and same["p_not_worse"] == 1.0
    assert same["unit"] == "document" and same["units"] == 10
    worse = ["none" if i % 3 == 0 else g for i, g in enumerate(gold)]  # a third of the labels lost
    res = paired_bootstrap(gold, worse, gold, groups=docs, rounds=200)
    assert res["difference"] < -0.1 and res["p_not_worse"] == 0.0 and res["ci95"][1] < 0
    back = paired_bootstrap(gold, gold, worse, groups=docs, rounds=200)  # and the other way round
    assert back["difference"] > 0.1 and back["p_not_worse"] == 1.0
    few = paired_bootstrap(gold, worse, gold, groups=["a", "b"] * 60, rounds=50)  # too few documents
    assert few["unit"] == "sentence" and few["units"] == len(gold)
