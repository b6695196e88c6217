"""Integration on the team's real texts in ../shared (skipped where absent, e.g. a user's machine)."""

from __future__ import annotations

import json

import pytest

from pipeline.export import read_table
from pipeline.run import EXIT_OK, process

pytestmark = pytest.mark.shared


def test_process_shared_corpora(shared, tmp_path, shipped_model_dir):
    out = tmp_path / "shared"
    res = process([shared / "corpora"], out, workers=2)
    assert res.exit_code == EXIT_OK, res.failures
    docs = read_table(out, "documents")
    assert len(docs) >= 250  # 201 essays + 18 briefs + 34 speeches
    s = read_table(out, "sentences")
    assert len(s) > 8000
    assert 0.5 < s["stance_bearing"].mean() < 0.95
    labelled = s[s["stance_bearing"]]
    assert labelled["label"].value_counts(normalize=True).min() > 0.05
    # every sentence span lies inside its document and is not blank
    assert (s["end_char"] > s["start_char"]).all() and s["text"].str.strip().astype(bool).all()
    e = read_table(out, "entities")
    assert e["actor"].notna().mean() > 0.3
    assert {"USA", "RUS", "CHN", "GBR", "FRA"} <= set(e["actor"].dropna())
    assert len(read_table(out, "dyads")) > 500


def test_devset_end_to_end_beats_the_keyword_baseline(shared, shipped_model_dir):
    from pipeline.run import Analyzer, Settings
    from pipeline.train.baseline import keyword_predict
    from pipeline.train.evaluate import evaluate_gold

    analyzer = Analyzer(Settings())
    m = evaluate_gold(shared / "devset", analyzer)["metrics"]
    b = evaluate_gold(shared / "devset", analyzer, predictor=keyword_predict)["metrics"]
    assert m["n"] == 432 and m["unmatched_gold"] == 0
    assert m["macro_f1"] > b["macro_f1"] + 0.05
    assert m["none_f1"] > b["none_f1"]
    # the figures in the card (and the README) are what the shipped model does here, and they
    # meet issue 3's target (macro-F1 >= 0.60, none F1 >= 0.75); 0.01 of slack for float sums
    card = json.loads((shipped_model_dir / "card.json").read_text())["metrics"]["devset"]
    assert abs(m["macro_f1"] - card["macro_f1"]) < 0.01 and abs(m["none_f1"] - card["none_f1"]) < 0.01
    assert card["macro_f1"] >= 0.60 and card["none_f1"] >= 0.75


def test_devset_fast_mode_still_beats_the_keyword_baseline(shared, shipped_model_dir):
    from pipeline.run import Analyzer, Settings
    from pipeline.train.baseline import keyword_predict
    from pipeline.train.evaluate import evaluate_gold

    analyzer = Analyzer(Settings(fast=True))
    assert analyzer.model.encoder is None
    m = evaluate_gold(shared / "devset", analyzer)["metrics"]
    b = evaluate_gold(shared / "devset", analyzer, predictor=keyword_predict)["metrics"]
    assert m["macro_f1"] > b["macro_f1"] + 0.05 and m["none_f1"] > b["none_f1"]


def test_shipped_model_points_the_way_event_data_does(shared, shipped_model_dir):
    """PLOVER's gold event sentences (newswire, coded cooperation or conflict by CAMEO quad class):
    where the shipped model calls a record cooperation or friction, it should mostly agree."""
    from pipeline.run import Analyzer, Settings
    from pipeline.train.evaluate import evaluate_direction

    d = evaluate_direction(shared / "corpora" / "plover-gold-sentences.jsonl", Analyzer(Settings()))
    assert d["n"] >= 300
    assert d["decided"] > 0.7 * d["n"]
    assert d["accuracy"] > 0.8 and d["macro_f1"] > 0.75
