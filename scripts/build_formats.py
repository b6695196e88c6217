"""Render the sample briefs written as Markdown sources into DOCX and PDF under corpora/.

    python scripts/build_formats.py            # scripts/format_sources/<region>/<name>.<fmt>.md
                                               #   -> corpora/<region>/<name>.<fmt>

Deterministic: fixed document dates (from the brief's own date line) and reportlab's invariant
mode, so rebuilding gives the same bytes. Needs python-docx and reportlab (``pip install -e .[test]``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.ingest import find_date  # noqa: E402


def parse_md(source: str) -> list[tuple[str, str]]:
    """(kind, text) blocks: title, heading, bullet, para."""
    blocks = []
    para: list[str] = []

    def flush():
        if para:
            blocks.append(("para", " ".join(para)))
            para.clear()

    for line in source.splitlines():
        s = line.strip()
        if not s:
            flush()
            continue
        if s.startswith("# "):
            flush()
            blocks.append(("title", s[2:].strip()))
        elif s.startswith("#"):
            flush()
            blocks.append(("heading", s.lstrip("#").strip()))
        elif re.match(r"^[-*] ", s):
            flush()
            blocks.append(("bullet", s[2:].strip()))
        else:
            para.append(s)
    flush()
    return blocks


def build_docx(blocks, target: Path, date: dt.date) -> None:
    import docx

    d = docx.Document()
    for kind, text in blocks:
        if kind == "title":
            d.add_heading(text, level=0)
        elif kind == "heading":
            d.add_heading(text, level=1)
        elif kind == "bullet":
            d.add_paragraph(text, style="List Bullet")
        else:
            d.add_paragraph(text)
    props = d.core_properties
    title = next((t for k, t in blocks if k == "title"), "")
    props.title = title
    props.author = "Briefs sample corpus"
    stamp = dt.datetime(date.year, date.month, date.day, 9, 0, 0)
    props.created = props.modified = stamp
    props.last_printed = stamp
    props.revision = 1
    d.save(str(target))


def build_pdf(blocks, target: Path, date: dt.date) -> None:
    from reportlab import rl_config

    rl_config.invariant = 1
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    story = []
    for kind, text in blocks:
        t = escape(text)
        if kind == "title":
            story += [Paragraph(t, styles["Title"]), Spacer(1, 0.3 * cm)]
        elif kind == "heading":
            story += [Paragraph(t, styles["Heading2"])]
        elif kind == "bullet":
            story += [ListFlowable([ListItem(Paragraph(t, styles["BodyText"]))], bulletType="bullet")]
        else:
            story += [Paragraph(t, styles["BodyText"]), Spacer(1, 0.2 * cm)]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawCentredString(A4[0] / 2, 1.2 * cm, f"Page {doc.page}")
        canvas.restoreState()

    title = next((t for k, t in blocks if k == "title"), "")
    doc = SimpleDocTemplate(str(target), pagesize=A4, title=title, author="Briefs sample corpus",
                            leftMargin=2.5 * cm, rightMargin=2.5 * cm, topMargin=2.2 * cm, bottomMargin=2.5 * cm)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=Path, default=ROOT / "scripts" / "format_sources")
    ap.add_argument("--out", type=Path, default=ROOT / "corpora")
    args = ap.parse_args(argv)
    n = 0
    for src in sorted(args.sources.rglob("*.md")):
        stem, fmt = src.name[: -len(".md")].rsplit(".", 1)
        if fmt not in ("docx", "pdf"):
            print(f"skip {src}: name it <name>.docx.md or <name>.pdf.md", file=sys.stderr)
            continue
        region = src.parent.relative_to(args.sources)
        target = args.out / region / f"{stem}.{fmt}"
        target.parent.mkdir(parents=True, exist_ok=True)
        source = src.read_text(encoding="utf-8")
        blocks = parse_md(source)
        date = dt.date.fromisoformat(find_date("\n".join(t for _, t in blocks)) or "2020-01-01")
        (build_docx if fmt == "docx" else build_pdf)(blocks, target, date)
        print(f"{src} -> {target}")
        n += 1
    print(f"{n} files built")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
