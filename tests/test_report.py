"""The HTML report: generated for runs, opened in headless Chromium (Debian's chromium package)."""

from __future__ import annotations

import shutil

import pytest

from pipeline.report import build_report
from pipeline.run import process
from tests.conftest import ROOT

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory, mini_model_dir):
    out = tmp_path_factory.mktemp("run")
    src = tmp_path_factory.mktemp("briefs")
    docs = {
        "2021-a.txt": "Tokyo and Beijing\n\nPublished 3 March 2021\n\nJapan and China agreed to resume talks. "
                      "Beijing condemned Tokyo's export controls. Seoul courts Beijing while keeping its alliance.\n",
        "2023-b.txt": "Tokyo and Beijing again\n\nPublished 5 May 2023\n\nJapan and China signed a trade accord. "
                      "Japan and China held a summit and agreed on a hotline.\n",
        "c.md": "# Undated\n\nRussia and Ukraine exchanged prisoners. Moscow shelled Kyiv again.\n",
    }
    for name, text in docs.items():
        (src / name).write_text(text)
    (src / "bad.txt").write_bytes(b"")
    process([src], out, model_dir=str(mini_model_dir))
    return out


def test_report_files_are_self_contained(sample_run):
    index = build_report(sample_run)
    assert index == sample_run / "report" / "index.html"
    html = index.read_text()
    # plotly.js is inlined (it mentions its CDN internally, for map data we do not use): nothing is loaded
    assert "Plotly.newPlot" in html and "<script src=" not in html and "<link " not in html
    pages = list((sample_run / "report" / "docs").glob("*.html"))
    assert len(pages) == 3
    assert all("http" not in p.read_text().split("<body>")[0] for p in pages)
    assert "bad.txt" in html  # failures are shown


def _browser():
    if not CHROMIUM:
        pytest.skip("no chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    return sync_api.sync_playwright()


def test_report_in_chromium(sample_run):
    build_report(sample_run)
    ARTIFACTS.mkdir(exist_ok=True)
    with _browser() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((sample_run / "report" / "index.html").as_uri())
        page.wait_for_selector("#chart-mix .main-svg")
        for sel in ("#summary", "#chart-matrix", "#documents", "#pairs", "#model", "#failures"):
            assert page.locator(sel).count() == 1, sel
        assert "bad.txt" in page.locator("#failures").inner_text()
        page.screenshot(path=str(ARTIFACTS / "report-index.png"))
        page.locator("#doc-table a", has_text="2021-a").click()
        page.wait_for_selector("#text .sent")
        labelled = page.locator("#text .sent.cooperation, #text .sent.friction, #text .sent.hedging").first
        assert not labelled.locator(".ev").is_visible()
        labelled.click()
        assert labelled.locator(".ev").is_visible()
        assert "features that pushed most" in labelled.locator(".ev").inner_text()
        assert page.locator("#text .sent.heading, #text .sent.none").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "report-document.png"))
        browser.close()
    assert errors == []


def test_report_for_a_run_where_everything_failed(tmp_path, mini_model_dir):
    src = tmp_path / "in"
    src.mkdir()
    (src / "empty.txt").write_bytes(b"")
    (src / "broken.pdf").write_bytes(b"%PDF nothing")
    out = tmp_path / "out"
    process([src], out, model_dir=str(mini_model_dir))
    index = build_report(out)
    html = index.read_text()
    assert "No documents in this run" in html and "every input failed" in html
    assert "broken.pdf" in html and "empty.txt" in html
    with _browser() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(index.as_uri())
        assert page.locator("#empty").is_visible()
        browser.close()
    assert errors == []


def test_report_cli(sample_run, tmp_path):
    from typer.testing import CliRunner

    from pipeline.cli import app

    r = CliRunner().invoke(app, ["report", str(sample_run), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0 and (tmp_path / "rep" / "index.html").exists()
    r = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert r.exit_code == 2
