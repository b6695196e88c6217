"""Annotation validation, de-duplication, conflict resolution and the document split."""

from __future__ import annotations

import json

import pytest

from pipeline.errors import AnnotationError
from pipeline.train.dataset import heldout_docs, load_annotations


def rec(**kw):
    base = {"doc_id": "d1", "start_char": 0, "end_char": 10, "text": "Some text.", "stance_bearing": True,
            "label": "friction", "actors": ["JPN"], "annotator": "ann1", "source": "human",
            "created_at": "2026-01-01T00:00:00+00:00", "guideline_version": "1.0"}
    base.update(kw)
    return base


def write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))


def test_bad_lines_are_reported_with_file_and_line(tmp_path):
    f = tmp_path / "a.jsonl"
    write(f, [rec(), "{not json", rec(label="love"), rec(stance_bearing=False), rec(start_char=5, end_char=2),
              {k: v for k, v in rec().items() if k != "annotator"}])
    with pytest.raises(AnnotationError) as e:
        load_annotations([f])
    msg = str(e.value)
    for line, words in [(2, "not valid JSON"), (3, "label must be one of"), (4, "label must be null"),
                        (5, "bad span"), (6, "missing field 'annotator'")]:
        assert f"a.jsonl:{line}: " in msg and words in msg
    df, report = load_annotations([f], strict=False)
    assert len(df) == 1 and len(report.problems) == 5


def test_duplicates_collapse_and_conflicts_follow_the_rule(tmp_path):
    f = tmp_path / "a.jsonl"
    write(f, [
        rec(), rec(annotator="ann2"),  # duplicate
        rec(start_char=20, end_char=30, label="cooperation", source="model-accepted"),
        rec(start_char=20, end_char=30, label="hedging", source="model-corrected", created_at="2025-01-01T00:00:00"),
        rec(start_char=40, end_char=50, label="cooperation", annotator="a"),
        rec(start_char=40, end_char=50, label="cooperation", annotator="b"),
        rec(start_char=40, end_char=50, label="friction", annotator="c", created_at="2027-01-01T00:00:00"),
        rec(start_char=60, end_char=70, label="cooperation", created_at="2026-01-01T00:00:00"),
        rec(start_char=60, end_char=70, label="friction", created_at="2026-06-01T00:00:00"),
    ])
    df, report = load_annotations([f])
    got = {r.start_char: r.label for r in df.itertuples()}
    assert got == {0: "friction", 20: "hedging", 40: "cooperation", 60: "friction"}
    assert report.duplicates == 1 and report.conflicts == 3


def test_heldout_split_is_by_document_and_stable():
    ids = [f"doc{i}" for i in range(200)]
    held = heldout_docs(ids, 0.2)
    assert 20 < len(held) < 60
    assert held == heldout_docs(list(reversed(ids)), 0.2)
    assert heldout_docs(ids[:100], 0.2) == {d for d in held if d in ids[:100]}


def test_adjudication_changes_win_and_stay_out_of_agreement(tmp_path):
    """scripts/import_adjudication.py writes only changed labels, marked as adjudication; training
    uses them (newer human record), agreement leaves them out."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("imp_adj", Path(__file__).resolve().parents[1] / "scripts" / "import_adjudication.py")
    imp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(imp)
    starter = tmp_path / "annotations" / "starter"
    starter.mkdir(parents=True)
    base = {"actors": ["JPN", "CHN"], "annotator": "agent:x", "source": "human",
            "created_at": "2026-01-01T00:00:00+00:00", "guideline_version": "1.0", "stance_bearing": True}
    recs = [dict(base, doc_id="d", start_char=0, end_char=20, text="Tokyo talks but arms.", label="hedging"),
            dict(base, doc_id="d", start_char=21, end_char=50, text="Despite the row, they signed.", label="hedging")]
    (starter / "x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    adj = tmp_path / "adj"
    adj.mkdir()
    (adj / "p.out.jsonl").write_text(
        json.dumps({"id": "d:0-20", "stance_bearing": True, "label": "hedging", "reason": "insurance"}) + "\n"
        + json.dumps({"id": "d:21-50", "stance_bearing": True, "label": "cooperation", "reason": "rule 1"}) + "\n")
    out = tmp_path / "annotations" / "adjudication" / "h.jsonl"
    assert imp.main([str(adj), "--annotations", str(starter), "--out", str(out), "--annotator", "agent:adj"]) == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == 1 and written[0]["label"] == "cooperation" and written[0]["meta"]["adjudication"]
    df, _ = load_annotations([str(tmp_path / "annotations")])
    assert dict(zip(df["start_char"], df["label"])) == {0: "hedging", 21: "cooperation"}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "p.out.jsonl").write_text(json.dumps({"id": "d:99-100", "stance_bearing": True, "label": "friction"}) + "\n")
    assert imp.main([str(bad), "--annotations", str(starter), "--out", str(tmp_path / "x.jsonl"), "--annotator", "a"]) == 1
    from typer.testing import CliRunner

    from pipeline.cli import app

    r = CliRunner().invoke(app, ["agreement", str(tmp_path / "annotations"), "--no-model"])
    assert r.exit_code == 0, r.output
    assert "1 adjudication records left out" in r.output and "agent:adj" not in r.output.split("annotators:")[1]


def test_audit_changes_a_label_only_when_both_blind_passes_agree(tmp_path):
    """scripts/import_audit.py: a label changes only when both audit passes agree with each other
    and not with the label in use; split verdicts write nothing; bad verdict lines are reported
    with file and line; training then uses the agreed label."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("imp_audit", Path(__file__).resolve().parents[1] / "scripts" / "import_audit.py")
    imp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(imp)
    ann = tmp_path / "annotations"
    (ann / "starter").mkdir(parents=True)
    texts = ["The treaty entered into force.", "Tariffs remain at 50%.", "Both sides signed.", "It rained."]
    labels = [None, None, "cooperation", None]
    recs, key, pos = [], [], 0
    for i, (t, lab) in enumerate(zip(texts, labels)):
        recs.append(rec(doc_id="d", start_char=pos, end_char=pos + len(t), text=t, label=lab,
                        stance_bearing=lab is not None))
        key.append({"id": f"a0-{i}", "doc_id": "d", "start_char": pos, "end_char": pos + len(t),
                    "given": lab or "none", "oof": None, "p_oof": None, "kind": "flagged"})
        pos += len(t) + 1
    write(ann / "starter" / "x.jsonl", recs)
    audit = tmp_path / "audit"
    audit.mkdir()
    write(audit / "key.jsonl", key)

    def verdicts(*labs):
        return [{"id": f"a0-{i}", "stance_bearing": lab is not None, "label": lab, "reason": "r"} for i, lab in enumerate(labs)]

    # item 0: both passes say cooperation (changes); 1: the passes split (stays none);
    # 2: both agree with the label in use (nothing written); 3: both say none (nothing written)
    write(audit / "out_0_A.jsonl", verdicts("cooperation", "friction", "cooperation", None))
    write(audit / "out_0_B.jsonl", verdicts("cooperation", None, "cooperation", None))
    out = ann / "audit" / "r1.jsonl"
    assert imp.main([str(audit), "--annotations", str(ann), "--out", str(out)]) == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(w["start_char"], w["label"], w["annotator"]) for w in written] == [(0, "cooperation", "agent:audit")]
    assert written[0]["meta"]["adjudication"] and written[0]["meta"]["reviews"] == "ann1"
    df, _ = load_annotations([ann])
    outcomes = dict(zip(df["start_char"], df["label"].where(df["stance_bearing"], "none")))
    assert outcomes == {0: "cooperation", 31: "none", 54: "cooperation", 73: "none"}
    # running it again gives the same file (its own earlier output is not "the label in use")
    assert imp.main([str(audit), "--annotations", str(ann), "--out", str(out)]) == 0
    assert [json.loads(line)["start_char"] for line in out.read_text().splitlines()] == [0]
    # a bad line names its file and line and fails the import
    with open(audit / "out_0_B.jsonl", "a") as fh:
        fh.write('{"id": "a0-1", "stance_bearing": false, "label": "friction"}\n')
    err_out = tmp_path / "err.jsonl"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stderr(buf):
        assert imp.main([str(audit), "--annotations", str(ann), "--out", str(err_out)]) == 1
    assert "out_0_B.jsonl:5: stance_bearing False and label 'friction' do not fit" in buf.getvalue()
