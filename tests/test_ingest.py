"""Readers, decoding, ids, dates, and the clear errors for bad input."""

from __future__ import annotations

import codecs

import pytest

from pipeline.errors import (BinaryInput, CorruptInput, EmptyInput, TooLarge, UnsupportedFormat, UsageError,
                             Vanished)
from pipeline.ingest import discover, find_date, markdown_to_text, read_brief

TEXT = "Tokyo and Beijing agreed to resume talks. Café diplomacy – “a thaw” – followed.\n"


@pytest.mark.parametrize("encoding,bom", [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-16-le", b""), ("cp1252", b""),
])
def test_encodings_decode_to_the_same_text(tmp_path, encoding, bom):
    f = tmp_path / "brief.txt"
    f.write_bytes(bom + TEXT.encode(encoding))
    assert read_brief(f).text == TEXT


def test_txt_offsets_are_the_decoded_file(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(codecs.BOM_UTF8 + "Title\r\n\r\nBody text here.\r\n".encode())
    b = read_brief(f)
    assert b.text == "Title\n\nBody text here.\n"  # BOM dropped, CRLF normalised


def test_markdown_syntax_is_read_not_kept(tmp_path):
    f = tmp_path / "a.md"
    f.write_text("# Japan and China\n\nThe deal was [released](#) on **Monday**.\n\n"
                 "## Key takeaways\n\n- first *point*\n- second point\n")
    b = read_brief(f)
    assert "The deal was released on Monday." in b.text
    assert "[" not in b.text and "**" not in b.text and "#" not in b.text
    assert "- first point\n- second point" in b.text
    assert b.title == "Japan and China"


def test_markdown_headings_become_their_own_blocks():
    text, _ = markdown_to_text("## Background\nThe ministers met.\n")
    assert text.startswith("Background\n\nThe ministers met.")


def test_html_keeps_main_text_only(tmp_path):
    f = tmp_path / "page.html"
    f.write_text("""<html><head><title>T</title><style>.x{color:red}</style>
    <script>var tracking = 'SCRIPT_TEXT';</script></head><body>
    <nav><a href='/'>Home</a> <a href='/about'>NAVIGATION_TEXT</a></nav>
    <article><h1>Seoul and Tokyo mend ties</h1>
    <p>The two governments agreed on Tuesday to restore their intelligence-sharing pact after a long freeze.</p>
    <p>Officials in both capitals described the talks as constructive &amp; candid and promised further meetings.</p>
    <p>Analysts expect trade restrictions imposed in 2019 to be lifted within months as relations improve.</p>
    </article><footer>FOOTER_TEXT Copyright</footer></body></html>""")
    b = read_brief(f)
    assert "restore their intelligence-sharing pact" in b.text
    assert "constructive & candid" in b.text
    for junk in ("SCRIPT_TEXT", "NAVIGATION_TEXT", "color:red"):
        assert junk not in b.text


def test_docx_and_pdf(tmp_path):
    pytest.importorskip("reportlab")
    import datetime as dt
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from build_formats import build_docx, build_pdf

    blocks = [("title", "Ankara and Athens"), ("para", "Published 2 March 2021"), ("heading", "Background"),
              ("bullet", "Both sides agreed to talks."),
              ("para", "The two governments resumed exploratory talks on maritime boundaries after a pause.")]
    build_docx(blocks, tmp_path / "a.docx", dt.date(2021, 3, 2))
    build_pdf(blocks, tmp_path / "b.pdf", dt.date(2021, 3, 2))
    for name in ("a.docx", "b.pdf"):
        b = read_brief(tmp_path / name)
        assert "resumed exploratory talks on maritime boundaries" in b.text, name
        assert b.date == "2021-03-02", name
        assert b.title == "Ankara and Athens", name
        # the heading stays a line of its own and the bullet an item of its own
        assert "\n\nBackground\n\n- Both sides agreed to talks.\n\n" in b.text, (name, b.text)


@pytest.mark.parametrize("name,content,error,words", [
    ("empty.txt", b"", EmptyInput, "empty"),
    ("blank.md", b"   \n\n  ", EmptyInput, "empty"),
    ("binary.txt", bytes(range(256)) * 20, BinaryInput, "binary"),
    ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", CorruptInput, "PDF"),
    ("broken.docx", b"PK\x03\x04 not a zip", CorruptInput, "DOCX"),
    ("notes.rtf", b"{\\rtf1 hello}", UnsupportedFormat, "unsupported"),
])
def test_bad_inputs_raise_clear_errors_naming_the_file(tmp_path, name, content, error, words):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(error) as exc:
        read_brief(f)
    assert name in str(exc.value) and words.lower() in str(exc.value).lower()


def test_too_large_and_vanished(tmp_path):
    f = tmp_path / "big.txt"
    f.write_text("word " * 1000)
    with pytest.raises(TooLarge, match="limit"):
        read_brief(f, max_bytes=100)
    with pytest.raises(Vanished, match="disappeared"):
        read_brief(tmp_path / "gone.txt")


def test_discover_ids_are_relative_paths_without_extension(tmp_path):
    (tmp_path / "asia" / "japan").mkdir(parents=True)
    (tmp_path / "asia" / "japan" / "note.md").write_text("x")
    (tmp_path / "top.txt").write_text("x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "skip.txt").write_text("x")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    ids = [d for _, d in discover([tmp_path])]
    assert ids == ["asia/japan/note", "top"]
    with pytest.raises(UsageError):
        discover([tmp_path / "missing"])


@pytest.mark.parametrize("text,date", [
    ("Title\n\nPublished 14 March 2021\n\nBody.", "2021-03-14"),
    ("Title\nUpdated: 2024-06-02\n", "2024-06-02"),
    ("SEOUL, 4 May 2023 — The ministers met.", "2023-05-04"),
    ("Title\n\nBy Jane Doe | March 3, 2022\n", "2022-03-03"),
    ("Title\n\nThe 1972 communique was signed in Shanghai after long talks between the two delegations, "
     "who met again on 5 June 1973 to review it in great detail over many days.", None),
])
def test_find_date(text, date):
    assert find_date(text) == date
