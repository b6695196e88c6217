"""The batch: tables and their contracts, failures, atomic outputs, resume, formats, CLI."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from pipeline.export import read_table
from pipeline.run import EXIT_OK, EXIT_SOME_FAILED, process
from pipeline.schemas import TABLES, check_columns
from tests.conftest import ROOT

BRIEFS = {
    "asia/japan-china.txt": "Japan and China: A Cautious Thaw\n\nPublished 14 March 2023\n\n"
    "Prime Minister Kishida and President Xi agreed to resume the high-level economic dialogue. "
    "Beijing condemned Tokyo's new export controls on chipmaking tools.\n\n"
    "The thaw is real but brittle, and a single incident at sea could reverse it.\n",
    "europe/nato.md": "# NATO and Russia\n\nBy A. Writer\n\n## Background\n\n"
    "Moscow expelled two NATO liaison officers. The alliance [condemned](#) the decision.\n\n"
    "- Finland and Sweden deepened their defence cooperation.\n",
    "americas/brazil.txt": "Brazil between Washington and Beijing\n\n"
    "Brasilia buys Chinese equipment yet insists its partnership with the United States is untouched.\n",
}


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "in"
    for rel, text in BRIEFS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def run(corpus, out, model, **kw):
    return process([corpus], out, model_dir=str(model), **kw)


def test_tables_follow_their_contracts(corpus, tmp_path, mini_model_dir):
    out = tmp_path / "out"
    res = run(corpus, out, mini_model_dir)
    assert res.exit_code == EXIT_OK
    tables = {name: read_table(out, name) for name in TABLES}
    for name, df in tables.items():
        check_columns(name, df)
    s = tables["sentences"]
    assert set(s["doc_id"]) == {"asia/japan-china", "europe/nato", "americas/brazil"}
    # offsets are exact on .txt
    text = BRIEFS["asia/japan-china.txt"]
    for r in s[s["doc_id"] == "asia/japan-china"].itertuples():
        assert text[r.start_char:r.end_char] == r.text
    assert s["label"].where(s["stance_bearing"]).dropna().isin(["cooperation", "friction", "hedging"]).all()
    assert s.loc[~s["stance_bearing"], "label"].isna().all()
    jc = s[(s["doc_id"] == "asia/japan-china") & s["text"].str.startswith("Prime Minister Kishida")].iloc[0]
    assert {"JPN", "CHN"} <= set(jc["actors"])
    d = tables["documents"].set_index("doc_id")
    assert d.loc["asia/japan-china", "date"] == "2023-03-14"
    assert d.loc["europe/nato", "title"] == "NATO and Russia"
    assert d.loc["europe/nato", "path"].endswith("nato.md")
    e = tables["entities"]
    assert ((e["doc_id"] == "asia/japan-china") & (e["actor"] == "JPN")).any()
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["counts"]["processed"] == 3 and run_json["failures"] == []
    assert {i["status"] for i in run_json["inputs"]} == {"processed"}
    assert all(len(i["hash"]) == 64 for i in run_json["inputs"])
    assert run_json["model"]["id"] == mini_model_dir.name
    assert set(run_json["timings_seconds"]) >= {"ingest", "nlp", "classify", "write"}


def test_bad_documents_fail_alone(corpus, tmp_path, mini_model_dir, capsys):
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "binary.txt").write_bytes(bytes(range(256)) * 10)
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (corpus / "corrupt.docx").write_bytes(b"not a zip")
    (corpus / "asia" / "japan-china.md").write_text("# Same id as the .txt\n")
    out = tmp_path / "out"
    res = run(corpus, out, mini_model_dir)
    assert res.exit_code == EXIT_SOME_FAILED
    failed = {f["path"].rsplit("/", 1)[-1]: f["reason"] for f in res.failures}
    # japan-china.md sorts first and takes the doc_id; the .txt is reported as a collision
    assert set(failed) == {"empty.txt", "binary.txt", "broken.pdf", "corrupt.docx", "japan-china.txt"}
    assert "empty" in failed["empty.txt"] and "binary" in failed["binary.txt"]
    assert "PDF" in failed["broken.pdf"] and "DOCX" in failed["corrupt.docx"]
    assert "same doc_id" in failed["japan-china.txt"]
    for f in res.failures:
        assert f["path"].startswith(str(corpus))
    assert len(read_table(out, "documents")) == 3  # the good ones are all there
    assert len(json.loads((out / "run.json").read_text())["failures"]) == len(res.failures)


def test_rerun_reuses_and_detects_changes(corpus, tmp_path, mini_model_dir):
    out = tmp_path / "out"
    run(corpus, out, mini_model_dir)
    first = read_table(out, "sentences")
    res = run(corpus, out, mini_model_dir)
    assert res.summary["processed"] == 0 and res.summary["reused"] == 3
    pd.testing.assert_frame_equal(first, read_table(out, "sentences"))
    (corpus / "americas" / "brazil.txt").write_text(BRIEFS["americas/brazil.txt"] + "\nMexico and Canada agreed to talks.\n")
    (corpus / "asia" / "japan-china.txt").unlink()
    res = run(corpus, out, mini_model_dir)
    assert res.summary["processed"] == 1 and res.summary["reused"] == 1
    s = read_table(out, "sentences")
    assert "asia/japan-china" not in set(s["doc_id"])
    assert s["text"].str.contains("Mexico and Canada").any()
    res = run(corpus, out, mini_model_dir, force=True)
    assert res.summary["processed"] == 2


def test_killed_run_leaves_old_outputs_and_resumes_to_the_same_tables(corpus, tmp_path, mini_model_dir, monkeypatch):
    from pipeline import run as run_mod

    for i in range(6):
        (corpus / "more" / f"n{i}.txt").parent.mkdir(exist_ok=True)
        (corpus / "more" / f"n{i}.txt").write_text(f"Note {i}\n\nSeoul and Tokyo held talks number {i}. "
                                                   "Beijing protested the drills.\n")
    clean = tmp_path / "clean"
    run(corpus, clean, mini_model_dir, chunk_docs=2)
    expected = {name: read_table(clean, name) for name in TABLES}

    out = tmp_path / "out"
    (corpus / "more" / "n5.txt").rename(tmp_path / "n5.txt")  # an earlier, smaller run
    run(corpus, out, mini_model_dir, chunk_docs=2)
    before = read_table(out, "sentences")
    shutil.move(tmp_path / "n5.txt", corpus / "more" / "n5.txt")
    (corpus / "more" / "n0.txt").write_text("Note 0\n\nChanged: Hanoi and Manila signed a coast guard pact.\n")

    calls = {"n": 0}
    real = run_mod.Analyzer.analyse

    def dying(self, briefs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real(self, briefs)

    monkeypatch.setattr(run_mod.Analyzer, "analyse", dying)
    with pytest.raises(KeyboardInterrupt):
        run(corpus, out, mini_model_dir, chunk_docs=1)
    # the previous tables are intact and readable
    pd.testing.assert_frame_equal(before, read_table(out, "sentences"))
    assert not list(out.glob(".*.tmp"))
    monkeypatch.setattr(run_mod.Analyzer, "analyse", real)
    (corpus / "more" / "n0.txt").write_text("Note 0\n\nSeoul and Tokyo held talks number 0. Beijing protested the drills.\n")
    res = run(corpus, out, mini_model_dir, chunk_docs=2)
    assert res.summary["reused"] >= 1
    for name in TABLES:
        pd.testing.assert_frame_equal(expected[name], read_table(out, name), obj=name)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_other_formats_round_trip(corpus, tmp_path, mini_model_dir, fmt):
    out = tmp_path / fmt
    run(corpus, out, mini_model_dir, fmt=fmt)
    s = read_table(out, "sentences")
    check_columns("sentences", s)
    assert isinstance(s["actors"].iloc[0], list)
    assert (out / f"sentences.{fmt}").exists() and not (out / "sentences.parquet").exists()


def test_two_workers_give_the_same_tables(corpus, tmp_path, mini_model_dir):
    a, b = tmp_path / "a", tmp_path / "b"
    run(corpus, a, mini_model_dir, chunk_docs=1)
    run(corpus, b, mini_model_dir, chunk_docs=1, workers=2)
    for name in TABLES:
        pd.testing.assert_frame_equal(read_table(a, name), read_table(b, name), obj=name)


def test_cli_process_exit_codes(corpus, tmp_path, mini_model_dir):
    from typer.testing import CliRunner

    from pipeline.cli import app

    runner = CliRunner()
    out = tmp_path / "out"
    r = runner.invoke(app, ["process", str(corpus), "--out", str(out), "--model", str(mini_model_dir), "-q"])
    assert r.exit_code == 0, r.output
    assert "3 documents: 3 processed" in r.output
    (corpus / "bad.txt").write_bytes(b"")
    r = runner.invoke(app, ["process", str(corpus), "--out", str(out), "--model", str(mini_model_dir), "-q"])
    assert r.exit_code == 3
    assert "bad.txt" in r.output and "empty" in r.output
    r = runner.invoke(app, ["process", str(tmp_path / "nope"), "--out", str(out), "--model", str(mini_model_dir)])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["process", str(corpus), "--out", str(out), "--model", str(tmp_path / "nomodel")])
    assert r.exit_code == 2 and "model" in r.output


def test_sample_corpus_with_the_shipped_model(tmp_path, shipped_model_dir):
    """The README's main job: the whole workflow on corpora/ with models/current."""
    out = tmp_path / "demo"
    res = process([ROOT / "corpora"], out, model_dir=None)
    assert res.exit_code == EXIT_OK, res.failures
    docs = read_table(out, "documents")
    assert len(docs) >= 40
    assert (docs["n_stance"] > 0).all()
    s = read_table(out, "sentences")
    shares = s.loc[s["stance_bearing"], "label"].value_counts(normalize=True)
    assert set(shares.index) == {"cooperation", "friction", "hedging"}
    assert 0.4 < s["stance_bearing"].mean() < 0.9
    formats = {p.split(".")[-1] for p in docs["path"]}
    assert {"txt", "md", "html", "docx", "pdf"} <= formats


def test_dask_engine_gives_the_same_tables(corpus, tmp_path, mini_model_dir):
    pytest.importorskip("dask.distributed")
    local, dask = tmp_path / "local", tmp_path / "dask"
    run(corpus, local, mini_model_dir, chunk_docs=1)
    res = run(corpus, dask, mini_model_dir, chunk_docs=1, engine="dask", workers=2)
    assert res.exit_code == EXIT_OK
    for name in TABLES:
        pd.testing.assert_frame_equal(read_table(local, name), read_table(dask, name), obj=name)
    assert json.loads((dask / "run.json").read_text())["settings"]["engine"] == "dask"


def test_unchanged_rerun_keeps_the_tables_and_a_missing_one_is_rebuilt(corpus, tmp_path, mini_model_dir):
    out = tmp_path / "out"
    run(corpus, out, mini_model_dir)
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")}
    res = run(corpus, out, mini_model_dir)
    assert res.summary["rows_sentences"] > 0
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.parquet")} == mtimes  # not rewritten
    expected = read_table(out, "dyads")
    (out / "dyads.parquet").unlink()
    run(corpus, out, mini_model_dir)
    pd.testing.assert_frame_equal(expected, read_table(out, "dyads"))
    run(corpus, out, mini_model_dir, fmt="csv")  # another format is assembled, not skipped
    assert (out / "sentences.csv").exists()


def test_worker_chunks_are_cut_by_bytes_and_keep_doc_order(tmp_path, mini_model_dir):
    """With several workers a chunk ends at a byte budget (here 8,000 bytes: two briefs), and
    chunks keep doc_id order so that a part file holds consecutive documents for assembly."""
    from pipeline.run import STATE_DIR

    root = tmp_path / "in"
    root.mkdir()
    long = "Tokyo and Seoul agreed to resume the shuttle summits and expand defence exchanges. " * 60
    short = "Beijing condemned the port visit. " * 100
    for i, name in enumerate("abcdef"):  # long and short alternate: a size order would scatter them
        (root / f"{name}.txt").write_text(f"Brief {name}\n\n" + (long if i % 2 == 0 else short))
    out = tmp_path / "out"
    assert run(root, out, mini_model_dir, chunk_docs=100, workers=2).exit_code == EXIT_OK
    docs = json.loads((out / STATE_DIR / "manifest.json").read_text())["docs"]
    order = sorted(d["doc_id"] for d in docs)
    parts: dict[str, list[int]] = {}
    for d in docs:
        parts.setdefault(d["part"], []).append(order.index(d["doc_id"]))
    assert len(parts) == 3
    for positions in parts.values():
        positions.sort()
        assert positions == list(range(positions[0], positions[0] + len(positions)))


def test_chunk_budget_shrinks_toward_the_end():
    """Guided scheduling: the first chunks get a 16th of the input per worker, the budget then
    follows what is left (a quarter of it per worker) and never drops below the minimum."""
    from pipeline.run import MIN_CHUNK_BYTES, ChunkBudget

    b = ChunkBudget(3_200_000, workers=2)
    sizes = []
    while b.remaining > 0:
        sizes.append(b.current)
        b.consume(sizes[-1])
    assert sizes[0] == 100_000
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[-1] == MIN_CHUNK_BYTES
    assert 10_000 < sizes[len(sizes) * 3 // 4] < 100_000  # shrinking well before the end
    assert ChunkBudget(1_000, workers=2).current == MIN_CHUNK_BYTES


def test_fast_leaves_out_the_encoder_and_is_not_reused_for_a_full_run(corpus, tmp_path, mini_model_dir):
    out = tmp_path / "out"
    assert run(corpus, out, mini_model_dir, fast=True).exit_code == EXIT_OK
    first = json.loads((out / "run.json").read_text())
    assert first["model"]["encoder"] is False
    fast_p = read_table(out, "sentences").set_index(["doc_id", "start_char"])["p_stance"]
    res = run(corpus, out, mini_model_dir)  # the full model: every document is redone
    second = json.loads((out / "run.json").read_text())
    assert second["model"]["encoder"] is True
    assert res.summary["reused"] == 0 and res.summary["processed"] == len(BRIEFS)
    full_p = read_table(out, "sentences").set_index(["doc_id", "start_char"])["p_stance"]
    assert not full_p.sort_index().equals(fast_p.sort_index())  # the encoder changed the probabilities
    assert run(corpus, out, mini_model_dir).summary["reused"] == len(BRIEFS)
