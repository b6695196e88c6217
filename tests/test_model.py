"""Training loop on the shipped mini fixture: fit, card, skops round trip, gate, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.classify.model import load_model
from pipeline.errors import ModelError
from tests.conftest import DATA


def test_card_has_provenance_and_metrics(mini_model_dir):
    card = json.loads((mini_model_dir / "card.json").read_text())
    for key in ("version", "created_at", "labels", "libraries", "data", "hyperparameters", "metrics", "threshold"):
        assert key in card, key
    assert card["labels"] == ["cooperation", "friction", "hedging"]
    assert len(card["data"]["sha256"]) == 64 and card["data"]["n_documents"] == 8
    assert card["data"]["n_heldout_documents"] >= 1
    assert 0 <= card["metrics"]["heldout"]["macro_f1"] <= 1
    assert "scikit-learn" in card["libraries"] and "spacy" in card["libraries"]
    assert (mini_model_dir / "model.skops").exists() and (mini_model_dir / "README.md").exists()


def test_skops_round_trip_predicts_the_same(mini_model_dir, analyzer):
    from pipeline.run import Analyzer, Settings, analyse_texts

    texts = {"x": "Seoul and Tokyo signed a new security pact. Beijing condemned the move.\n\nBackground\n"}
    a = analyse_texts(texts, analyzer=analyzer)["sentences"]
    fresh_model = load_model(mini_model_dir)
    b = analyse_texts(texts, analyzer=Analyzer(Settings(model_dir=str(mini_model_dir)), model=fresh_model))["sentences"]
    pd.testing.assert_frame_equal(a, b)
    bearing = a[a["stance_bearing"]]
    probs = bearing[["p_cooperation", "p_friction", "p_hedging"]].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (bearing["confidence"] == probs.max(axis=1)).all()
    heading = a[a["text"] == "Background"].iloc[0]
    assert not heading["stance_bearing"] and pd.isna(heading["label"]) and heading["kind"] == "heading"


def test_loading_refuses_untrusted_types(mini_model_dir, tmp_path):
    import shutil

    import skops.io as sio

    bad = tmp_path / "bad"
    shutil.copytree(mini_model_dir, bad)
    sio.dump({"payload": np.dtype("int64"), "x": _Custom()}, bad / "model.skops")
    with pytest.raises(ModelError, match="trusted"):
        load_model(bad)
    (bad / "card.json").unlink()
    with pytest.raises(ModelError, match="card.json"):
        load_model(bad)


class _Custom:
    pass


def test_promotion_gate(mini_model_dir, tmp_path):
    """A model trained on scrambled labels (held-out documents left correct, as the gate scores
    both models against the held-out gold) is kept beside the current one, and says why."""
    from pipeline.train.fit import TrainConfig, train

    models = _models_with_current(mini_model_dir, tmp_path)
    cfg = TrainConfig(annotation_paths=[str(_scrambled_annotations(tmp_path))], models_dir=models, folds=3, encoder=False,
                      c_grid=(1.0,), heldout_fraction=0.3, devset=None)
    res = train(cfg, log=lambda *a: None)
    assert not res.promoted and "below the current model" in res.reason
    assert (models / "current").resolve() == (models / mini_model_dir.name).resolve()
    assert res.model_dir.exists()  # kept beside
    assert res.previous["version"] == mini_model_dir.name


def _scrambled_annotations(tmp_path) -> Path:
    """The mini annotations with every training label wrong (held-out documents left correct)."""
    from pipeline.train.dataset import heldout_docs

    recs = [json.loads(line) for line in (DATA / "mini_annotations.jsonl").read_text().splitlines()]
    rng = np.random.default_rng(0)
    labels = ["cooperation", "friction", "hedging"]
    held = heldout_docs({r["doc_id"] for r in recs}, 0.3)
    for r in recs:
        if r["stance_bearing"] and r["doc_id"] not in held:
            r["label"] = labels[(labels.index(r["label"]) + 1 + int(rng.integers(0, 2))) % 3]
    out = tmp_path / "scrambled.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return out


def _guard_set(tmp_path) -> Path:
    """The mini annotations as a gold set with documents (dev-set layout: gold/ and docs/), each
    document rebuilt from its sentences at their offsets."""
    recs = [json.loads(line) for line in (DATA / "mini_annotations.jsonl").read_text().splitlines()]
    root = tmp_path / "guard"
    (root / "gold").mkdir(parents=True)
    (root / "docs").mkdir()
    by_doc: dict[str, list[dict]] = {}
    for r in recs:
        by_doc.setdefault(r["doc_id"], []).append(r)
    for doc_id, rs in by_doc.items():
        chars = [" "] * max(r["end_char"] for r in rs)
        for r in rs:
            chars[r["start_char"]:r["end_char"]] = r["text"]
        name = doc_id.replace("/", "_")
        (root / "docs" / f"{name}.txt").write_text("".join(chars) + "\n")
        (root / "gold" / f"{name}.gold.jsonl").write_text("".join(json.dumps({**r, "doc_id": name}) + "\n" for r in rs))
    return root


def _models_with_current(mini_model_dir, tmp_path) -> Path:
    import shutil

    from pipeline.classify import set_current

    models = tmp_path / "models"
    models.mkdir()
    shutil.copytree(mini_model_dir, models / mini_model_dir.name)
    set_current(models / mini_model_dir.name, models / "current")
    return models


def test_guard_refuses_a_model_worse_on_real_text(mini_model_dir, tmp_path):
    """With --guard, a model that passes the held-out gate (here by a margin of 1) is still kept
    out when it is significantly worse than the current model on the guard set; the comparison
    is in the card."""
    from pipeline.train.fit import TrainConfig, train

    models = _models_with_current(mini_model_dir, tmp_path)
    cfg = TrainConfig(annotation_paths=[str(_scrambled_annotations(tmp_path))], models_dir=models, folds=3, encoder=False,
                      c_grid=(1.0,), heldout_fraction=0.3, devset=None, margin=1.0, guard=_guard_set(tmp_path))
    res = train(cfg, log=lambda *a: None)
    assert not res.promoted and "on the guard set" in res.reason
    assert (models / "current").resolve() == (models / mini_model_dir.name).resolve()
    guard = res.card["promotion"]["previous"]["guard"]
    assert guard["unit"] == "document" and guard["units"] == 8
    assert guard["new"]["macro_f1"] < guard["current"]["macro_f1"] and guard["p_not_worse"] < 0.05
    assert "Not promoted" in (res.model_dir / "README.md").read_text()  # the readable card says why


def test_guard_lets_an_equal_model_through(mini_model_dir, tmp_path):
    """Retrained on the same annotations, the new model predicts what the current one does: the
    guard finds no difference and the model is promoted. The guard set is also the dev set here,
    so the guard reuses the new model's dev-set result."""
    from pipeline.train.fit import TrainConfig, train

    models = _models_with_current(mini_model_dir, tmp_path)
    gold = _guard_set(tmp_path)
    cfg = TrainConfig(annotation_paths=[str(DATA / "mini_annotations.jsonl")], models_dir=models, folds=3,
                      c_grid=(1.0, 10.0), heldout_fraction=0.3, devset=gold, guard=gold)
    res = train(cfg, log=lambda *a: None)
    assert res.promoted, res.reason
    guard = res.card["promotion"]["previous"]["guard"]
    assert guard["difference"] == 0.0 and guard["p_not_worse"] == 1.0
    assert guard["new"]["macro_f1"] == res.card["metrics"]["devset"]["macro_f1"]
    assert "not significantly worse" in res.reason


def test_evaluate_matches_gold_by_overlap(tmp_path, analyzer):
    from pipeline.train.evaluate import evaluate_gold, write_errors

    docs = tmp_path / "docs"
    docs.mkdir()
    text = "Seoul and Tokyo: a thaw\n\nThe two governments signed a trade accord. Rain fell in the capital.\n"
    (docs / "g1.txt").write_text(text)
    gold = tmp_path / "gold.jsonl"
    s1 = text.index("The two")
    s2 = text.index("Rain")
    gold.write_text("\n".join(json.dumps(r) for r in [
        {"doc_id": "g1", "start": 0, "end": 23, "stance_bearing": False, "label": None},
        {"doc_id": "g1", "start": s1, "end": s2 - 1, "stance_bearing": True, "label": "cooperation"},
        {"doc_id": "g1", "start": s2, "end": len(text) - 1, "stance_bearing": False, "label": None},
    ]) + "\n")
    res = evaluate_gold(gold, analyzer, docs)
    assert res["metrics"]["n"] == 3 and res["metrics"]["unmatched_gold"] == 0
    assert res["joined"].loc[0, "pred"] == "none"  # a title is never stance-bearing
    n = write_errors(res["joined"], tmp_path / "errors.jsonl")
    assert n == sum(res["joined"]["gold"] != res["joined"]["pred"])


def test_vocabularies_are_saved_as_term_arrays(mini_model_dir, tmp_path):
    """skops would store every vocabulary entry as its own node (4 s to load 50k terms): the saved
    file holds one term array per vectorizer, and loading rebuilds identical dictionaries."""
    import zipfile

    from pipeline.classify.model import VOCAB_ATTR, save_model

    model = load_model(mini_model_dir)
    from sklearn.feature_extraction.text import CountVectorizer

    vecs = lambda m: {n: tr for n, tr, _ in m.pipeline.named_steps["features"].transformers_  # noqa: E731
                      if isinstance(tr, CountVectorizer)}
    before = {n: dict(v.vocabulary_) for n, v in vecs(model).items()}
    assert all(before.values())
    save_model(model, tmp_path / "again")
    assert {n: v.vocabulary_ for n, v in vecs(model).items()} == before  # the live model is untouched
    assert not any(hasattr(v, VOCAB_ATTR) for v in vecs(model).values())
    with zipfile.ZipFile(tmp_path / "again" / "model.skops") as z:
        schema = z.read("schema.json").decode()
        assert len(z.namelist()) < 50
    assert VOCAB_ATTR in schema and '"vocabulary_"' not in schema
    again = load_model(tmp_path / "again")
    after = {n: v.vocabulary_ for n, v in vecs(again).items()}
    assert after == before
    assert all(type(j) is int for voc in after.values() for j in voc.values())
    rows = pd.DataFrame({"masked": ["ACTOR condemned the ACTOR strikes"], "cues": ["NACT_2 NEG"],
                         "clean": ["Japan condemned the Chinese strikes"]})
    f1 = model.pipeline.named_steps["features"].transform(rows)
    f2 = again.pipeline.named_steps["features"].transform(rows)
    assert (f1 != f2).nnz == 0 and f1.nnz > 0


def test_fast_features_equal_the_column_transformer(mini_model_dir):
    """The cached char n-gram path gives exactly scikit-learn's matrix, on repeated, unseen,
    short, accented and oddly spaced words alike."""
    from pipeline.classify.fast import FastFeatures

    model = load_model(mini_model_dir)
    ct = model.pipeline.named_steps["features"]
    rows = pd.DataFrame({
        "masked": ["ACTOR condemned the ACTOR strikes", "the two sides signed a deal", "", "a",
                   "Über  naïve\tréalité  ACTOR  ACTOR", "the the the deal deal", "zzqx qqq ACTOR 000"],
        "cues": ["NACT_2 NEG", "NACT_0", "", "LEN_short", "NACT_2", "NACT_0 MODAL", "FIGURE"],
        "clean": ["Japan condemned the Chinese strikes", "the two sides signed a deal", "", "a",
                  "Über  naïve\tréalité  France  Chile", "the the the deal deal", "zzqx qqq Peru 000"],
    })
    fast = FastFeatures(ct)
    assert fast.ok
    for _ in range(2):  # the second pass reads the word cache
        a = ct.transform(rows).tocsr()
        b = fast.transform(rows)
        assert a.shape == b.shape and (a != b).nnz == 0
        assert np.array_equal(a.indices, b.indices) and np.array_equal(a.indptr, b.indptr)


def test_direction_check_scores_event_coded_sentences(tmp_path, analyzer, mini_model_dir):
    """briefs evaluate --direction: each record gets its most confident label; friction counts as
    conflict; hedging and not stance-bearing are counted apart; bad lines name file and line."""
    import pandas as pd
    from typer.testing import CliRunner

    from pipeline.cli import app
    from pipeline.errors import UsageError
    from pipeline.train.evaluate import evaluate_direction, load_direction_gold, score_direction

    table = pd.DataFrame({"direction": ["cooperation", "cooperation", "conflict", "conflict", "conflict", "cooperation"],
                          "pred": ["cooperation", "friction", "friction", "friction", "hedging", "none"]})
    m = score_direction(table)
    assert (m["n"], m["decided"], m["hedging"], m["none"]) == (6, 4, 1, 1)
    assert m["accuracy"] == 0.75
    assert m["cooperation_f1"] == pytest.approx(2 / 3) and m["conflict_f1"] == pytest.approx(0.8)
    assert m["confusion"]["conflict"] == {"cooperation": 0, "friction": 2, "hedging": 1, "none": 0}

    records = [
        {"id": "r1", "text": "Japan and Australia signed a reciprocal access agreement in Tokyo.", "quad_class": "material cooperation"},
        {"id": "r2", "text": "China condemned the Japanese port visit and summoned the ambassador.", "quad_class": "verbal conflict"},
        {"id": "r2", "text": "A duplicate id is scored once.", "quad_class": "verbal conflict"},
        {"id": "r3", "text": "Canada and Mexico agreed to resume their annual dialogue.", "direction": "cooperation"},
    ]
    f = tmp_path / "direction.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert load_direction_gold(f)["direction"].tolist() == ["cooperation", "conflict", "cooperation"]
    d = evaluate_direction(f, analyzer)
    assert d["n"] == 3 and d["decided"] + d["hedging"] + d["none"] == 3
    assert sum(sum(row.values()) for row in d["confusion"].values()) == 3

    r = CliRunner().invoke(app, ["evaluate", "--direction", str(f), "--model", str(mini_model_dir), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["direction"]["n"] == 3
    r = CliRunner().invoke(app, ["evaluate", "--model", str(mini_model_dir)])
    assert r.exit_code != 0 and "exactly one of --gold and --direction" in r.output

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(records[0]) + "\n" + json.dumps({"id": "x", "text": "No class."}) + "\n")
    with pytest.raises(UsageError, match=r"bad\.jsonl:2: not a direction record"):
        load_direction_gold(bad)


def test_train_writes_the_direction_check_into_the_card(tmp_path):
    """briefs train with a direction gold file scores the new model on it and keeps the figures
    (and the command to repeat them) in the card."""
    from pipeline.train.fit import TrainConfig, train

    f = tmp_path / "events.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in [
        {"id": "e1", "text": "Japan and Australia signed a reciprocal access agreement.", "direction": "cooperation"},
        {"id": "e2", "text": "China condemned the port visit and summoned the Japanese ambassador.", "direction": "conflict"},
    ]))
    cfg = TrainConfig(annotation_paths=[str(DATA / "mini_annotations.jsonl")], models_dir=tmp_path / "models",
                      folds=3, c_grid=(1.0,), heldout_fraction=0.3, devset=None, direction_gold=f, encoder=False)
    res = train(cfg, log=lambda *a: None)
    d = res.card["metrics"]["direction"]
    assert d["n"] == 2 and d["decided"] + d["hedging"] + d["none"] == 2
    assert d["path"] == "events.jsonl" and d["command"].startswith("briefs evaluate --direction")
    saved = json.loads((res.model_dir / "card.json").read_text())
    assert saved["metrics"]["direction"]["n"] == 2
