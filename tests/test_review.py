"""The review loop against a real doccano server.

CI starts one (`.ci/run` runs `briefs doccano up` and exports DOCCANO_URL, DOCCANO_USERNAME,
DOCCANO_PASSWORD). Locally: start one the same way, or the tests skip."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from pipeline.review import pull, push
from pipeline.review.convert import select_for_review, sentence_key, to_annotation, to_example
from pipeline.train.dataset import validate_record

pytestmark = pytest.mark.doccano


# ---------------------------------------------------------------- pure converters (no server)

def _sentences():
    import pandas as pd

    rows = []
    for i, (sb, probs, kind) in enumerate([(True, (0.9, 0.05, 0.05), "body"), (True, (0.4, 0.35, 0.25), "body"),
                                           (False, (None, None, None), "body"), (True, (0.5, 0.1, 0.4), "bullet"),
                                           (False, (None, None, None), "heading")]):
        p = dict(zip(("p_cooperation", "p_friction", "p_hedging"), probs))
        rows.append({"doc_id": "d", "sent_id": i, "start_char": i * 10, "end_char": i * 10 + 9, "text": f"sentence {i}",
                     "stance_bearing": sb, "label": "cooperation" if sb else None, "confidence": max(probs) if sb else None,
                     **p, "actors": ["JPN"], "evidence": [], "kind": kind, "p_stance": 0.9 if sb else 0.1})
    return pd.DataFrame(rows)


def test_selection_orders_by_uncertainty_and_samples_non_stance():
    sel = select_for_review(_sentences(), sample_none=5, seed=1)
    assert sel["sent_id"].tolist()[:3] == [1, 3, 0]  # margins 0.05, 0.1, 0.85
    assert sel["sent_id"].tolist()[3:] == [2]  # only eligible body/bullet text is sampled
    assert sel.iloc[3]["suggestion"] is None
    assert sel.iloc[0]["context_prev"] == "sentence 0" and sel.iloc[0]["context_next"] == "sentence 2"
    doc_order = select_for_review(_sentences(), order="document", limit=2)
    assert doc_order["sent_id"].tolist() == [0, 1]


def test_example_and_annotation_round_trip():
    row = select_for_review(_sentences()).iloc[0].to_dict()
    ex = to_example(row, "v1")
    assert ex["meta"]["key"] == sentence_key("d", 10, 19, "sentence 1")
    assert ex["meta"]["model_label"] == "cooperation" and ex["meta"]["model_version"] == "v1"
    json.dumps(ex)  # serialisable
    acc = to_annotation(ex["meta"], ex["text"], "cooperation", "rev", "2026-01-01T00:00:00+00:00")
    cor = to_annotation(ex["meta"], ex["text"], "friction", "rev", "2026-01-01T00:00:00+00:00")
    none = to_annotation(ex["meta"], ex["text"], None, "rev", "2026-01-01T00:00:00+00:00")
    assert (acc["source"], cor["source"], none["source"]) == ("model-accepted", "model-corrected", "model-corrected")
    assert not none["stance_bearing"] and none["label"] is None
    for r in (acc, cor, none):
        assert validate_record(r) == []


def test_credentials_are_never_shown(monkeypatch):
    from pipeline.errors import UsageError
    from pipeline.review.client import load_credentials

    monkeypatch.setenv("DOCCANO_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DOCCANO_USERNAME", "u")
    monkeypatch.setenv("DOCCANO_PASSWORD", "hunter2-secret")
    assert "hunter2" not in repr(load_credentials())
    monkeypatch.setenv("DOCCANO_URL", "http://example.org")
    with pytest.raises(UsageError, match="https"):
        load_credentials()


# ---------------------------------------------------------------- against the server

@pytest.fixture(scope="module")
def server():
    from pipeline.review.client import Doccano, load_credentials
    from pipeline.review.server import is_up

    url = os.environ.get("DOCCANO_URL")
    if not url:
        pytest.skip("no doccano server: run `briefs doccano up` and export DOCCANO_URL/USERNAME/PASSWORD")
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    if not is_up(port):
        pytest.skip(f"doccano not answering at {url}")
    return Doccano(load_credentials())


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, mini_model_dir):
    from pipeline.run import process

    src = tmp_path_factory.mktemp("briefs")
    (src / "a.txt").write_text("Seoul and Tokyo\n\nSeoul and Tokyo signed a trade accord. Beijing condemned "
                               "the naval drills. Manila courts Washington while keeping talks with Beijing open.\n\n"
                               "Rain fell heavily in the capital on Tuesday.\n")
    (src / "b.txt").write_text("Moscow expelled two diplomats. Berlin and Paris agreed to hold a summit.\n")
    out = tmp_path_factory.mktemp("run")
    process([src], out, model_dir=str(mini_model_dir))
    return out


def _reviewer(server, project_id):
    """Create a reviewer account, add it to the project, and log in as it."""
    from pipeline.review.client import Credentials, Doccano

    name, password = f"rev{uuid.uuid4().hex[:6]}", f"Pw-{uuid.uuid4().hex}"
    r = server.session.post(server._url("v1/users/create"),
                            json={"username": name, "password1": password, "password2": password,
                                  "email": f"{name}@example.org"})
    assert r.status_code < 400, r.text
    server.add_member(project_id, r.json()["id"])
    return Doccano(Credentials(server.creds.url, name, password)), name


def test_push_is_idempotent_and_ordered(server, run_dir):
    project = f"test-push-{uuid.uuid4().hex[:8]}"
    res = push(run_dir, project, server, sample_none=1)
    assert res.project_created and res.added >= 4 and res.sampled_none == 1
    again = push(run_dir, project, server, sample_none=1)
    assert again.added == 0 and again.skipped_existing == res.added and not again.project_created
    examples = list(server.examples(res.project_id))
    assert len(examples) == res.added
    unc = [e["meta"]["uncertainty"] for e in examples if e["meta"]["model_label"]]
    assert unc == sorted(unc, reverse=True)  # the queue starts with the least certain
    first = examples[0]
    assert {"doc_id", "sent_id", "start_char", "end_char", "context_prev", "context_next", "model_version",
            "confidence", "p_cooperation", "p_friction", "p_hedging"} <= set(first["meta"])
    cats = server.categories(res.project_id, first["id"])
    assert len(cats) == 1  # the suggestion is there as a pre-annotation


def test_project_type_and_labels_are_checked(server):
    from pipeline.errors import ReviewError

    name = f"test-wrong-{uuid.uuid4().hex[:8]}"
    server._post("v1/projects", {"name": name, "description": "x", "guideline": "x", "project_type": "SequenceLabeling",
                                 "resourcetype": "SequenceLabelingProject"})
    with pytest.raises(ReviewError, match="SequenceLabeling"):
        server.ensure_project(name, "")


def test_pull_turns_confirmed_reviews_into_annotations(server, run_dir, tmp_path):
    project = f"test-pull-{uuid.uuid4().hex[:8]}"
    res = push(run_dir, project, server)
    reviewer, rname = _reviewer(server, res.project_id)
    _, labels, _ = server.ensure_project(project, "")
    ex = list(server.examples(res.project_id))
    # accept, correct, mark not stance-bearing; leave the rest unconfirmed
    reviewer.confirm(res.project_id, ex[0]["id"])
    other = next(lab for lab in labels if lab != ex[1]["meta"]["model_label"])
    reviewer.set_category(res.project_id, ex[1]["id"], labels[other])
    reviewer.confirm(res.project_id, ex[1]["id"])
    reviewer.delete_categories(res.project_id, ex[2]["id"])
    reviewer.confirm(res.project_id, ex[2]["id"])

    out = tmp_path / "annotations"
    p = pull(project, server, out)
    assert (p.confirmed, p.new, p.accepted, p.corrected, p.not_stance) == (3, 3, 1, 2, 1)
    assert p.reviewers == {rname: 3}
    recs = [json.loads(line) for line in p.path.read_text().splitlines()]
    assert all(validate_record(r) == [] for r in recs)
    by_key = {r["meta"]["key"]: r for r in recs}
    assert by_key[ex[0]["meta"]["key"]]["source"] == "model-accepted"
    assert by_key[ex[1]["meta"]["key"]]["label"] == other
    assert by_key[ex[2]["meta"]["key"]]["stance_bearing"] is False
    assert all(r["annotator"] == rname for r in recs)

    again = pull(project, server, out)  # nothing new: no duplicate file
    assert again.new == 0 and again.unchanged == 3 and again.path is None

    # a later change is pulled as "changed"; a human label on disk is never overridden
    third = next(lab for lab in labels if lab not in (other,))
    reviewer.set_category(res.project_id, ex[1]["id"], labels[third])
    human = dict(by_key[ex[0]["meta"]["key"]], source="human", annotator="expert", label="hedging")
    (out / "expert.jsonl").write_text(json.dumps(human) + "\n")
    later = pull(project, server, out)
    assert later.changed == 1 and later.kept_human == 1
    assert len(list(out.glob("review-*.jsonl"))) == 2


def test_cli_never_prints_the_password(server, run_dir):
    from typer.testing import CliRunner

    from pipeline.cli import app

    r = CliRunner().invoke(app, ["review", "push", str(run_dir), "--project", f"test-cli-{uuid.uuid4().hex[:6]}",
                                 "--limit", "2"])
    assert r.exit_code == 0, r.output
    assert "2 examples added" in r.output
    assert os.environ["DOCCANO_PASSWORD"] not in r.output
