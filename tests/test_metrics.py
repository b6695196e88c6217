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
