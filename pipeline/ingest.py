"""Files -> Brief objects.

Every reader returns *extracted text* whose layout survives as plain-text conventions that the
segmenter understands: blocks separated by blank lines, one heading per line (``kind`` hints are
kept in ``Brief.blocks``), bullet items on their own lines. Character offsets in every output table
refer to this extracted text; for ``.txt`` it is the decoded file itself.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import (
    BinaryInput,
    CorruptInput,
    DecodeError,
    EmptyInput,
    InputError,
    TooLarge,
    UnsupportedFormat,
    Vanished,
)

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")
DEFAULT_MAX_BYTES = 25 * 1024 * 1024  # documented limit: 25 MiB per file


@dataclass
class Brief:
    doc_id: str
    text: str
    path: str = ""
    title: str | None = None
    date: str | None = None  # ISO date (YYYY-MM-DD) of publication, when known
    content_hash: str = ""
    fmt: str = "txt"
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------- discovery and ids

def doc_id_for(path: Path, root: Path) -> str:
    """Path relative to the input root, without extension, with ``/`` separators."""
    rel = path.relative_to(root) if path != root else Path(path.name)
    return rel.with_suffix("").as_posix()


def discover(inputs: list[str | Path]) -> list[tuple[Path, str]]:
    """Expand files and folders (recursively) into ``(path, doc_id)`` pairs, sorted, unique.

    A folder's files get ids relative to that folder; a file given directly gets its stem.
    Hidden files and folders are skipped. Raises ``UsageError`` for a path that does not exist.
    """
    from .errors import UsageError

    found: dict[Path, str] = {}
    for raw in inputs:
        p = Path(raw)
        if not p.exists():
            raise UsageError(f"input does not exist: {p}")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                rel_parts = f.relative_to(p).parts
                if any(part.startswith(".") for part in rel_parts):
                    continue
                if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.setdefault(Path(os.path.abspath(f)), doc_id_for(f, p))
        else:
            found.setdefault(Path(os.path.abspath(p)), p.with_suffix("").name)
    # abspath, not resolve(): a symlink is a document of its own (same file twice is not).
    # Two files may map to one doc_id (note.md and note.pdf): both are returned, and the caller
    # reports the second as a failure rather than silently dropping one.
    return sorted(((path, doc_id) for path, doc_id in found.items()), key=lambda t: (t[1], str(t[0])))


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- decoding

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode_bytes(data: bytes, path: str = "") -> str:
    """Decode text bytes: BOM first, then strict UTF-8, then charset detection.

    Handles UTF-8 with or without BOM, UTF-16/32 with BOM, BOM-less UTF-16 (by its NUL pattern)
    and legacy single-byte encodings such as Windows-1252 (via charset-normalizer).
    """
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc)
            except UnicodeDecodeError as e:
                raise DecodeError(f"starts with a {enc} byte-order mark but does not decode: {e}", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    sample = data[:4096]
    if b"\x00" in sample:
        # BOM-less UTF-16 puts a NUL in every other byte of ASCII text
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
            enc = "utf-16-le"
        elif even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
            enc = "utf-16-be"
        else:
            raise BinaryInput("looks like a binary file (NUL bytes), not text", path)
        try:
            return data.decode(enc)
        except UnicodeDecodeError as e:
            raise DecodeError(f"looks like {enc} but does not decode: {e}", path)
    western = _as_windows_1252(data)
    if western is not None:
        return western
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise DecodeError("cannot detect the text encoding (not UTF-8, UTF-16 or a known legacy encoding)", path)
    text = str(best)
    if _control_ratio(text) > 0.05:
        raise BinaryInput("looks like a binary file, not text", path)
    return text


_WESTERN_EXTRA = set("‘’‚“”„–—…•€©®™°±×÷§¶·«»¡¿ªº£¥¢")


def _as_windows_1252(data: bytes) -> str | None:
    """Windows-1252 is the legacy encoding English briefs come in; statistical detectors often
    mistake short Western text for a Baltic or DOS code page. Accept it when the text reads as
    English with a few accents and typographic marks: non-ASCII characters are rare and all are
    Latin-1 letters or common punctuation."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    non_ascii = [ch for ch in text if ord(ch) > 127]
    letters = sum(1 for ch in text if ch.isalpha())
    if not non_ascii or not letters or len(non_ascii) > 0.1 * letters:
        return None
    if all(("\u00c0" <= ch <= "\u00ff" and ch not in "×÷") or ch in _WESTERN_EXTRA for ch in non_ascii):
        return text
    return None


def _control_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(1 for ch in text[:20000] if ord(ch) < 32 and ch not in "\n\r\t\f")
    return bad / min(len(text), 20000)


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---------------------------------------------------------------- readers

def read_txt(data: bytes, path: str) -> tuple[str, dict]:
    text = decode_bytes(data, path)
    if text.startswith("\ufeff"):
        text = text[1:]
    if _control_ratio(text) > 0.05:
        raise BinaryInput("looks like a binary file, not text", path)
    # Offsets refer to the decoded file itself; only line endings are normalised.
    return normalise_newlines(text), {}


def _inline_text(token) -> str:
    """Text of a markdown-it inline token with the syntax removed."""
    out = []
    for child in token.children or []:
        if child.type in ("text", "code_inline", "html_inline"):
            out.append(child.content if child.type != "html_inline" else "")
        elif child.type in ("softbreak", "hardbreak"):
            out.append(" " if child.type == "softbreak" else "\n")
        elif child.type == "image":
            out.append(child.content)
    return "".join(out)


def markdown_to_text(source: str) -> tuple[str, dict]:
    """Render Markdown to layout-preserving plain text (syntax read, not kept)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    tokens = md.parse(source)
    blocks: list[str] = []
    title = None
    list_depth = 0
    pending_prefix = ""
    in_heading = False
    table_row: list[str] | None = None
    for tok in tokens:
        t = tok.type
        if t in ("bullet_list_open", "ordered_list_open"):
            list_depth += 1
        elif t in ("bullet_list_close", "ordered_list_close"):
            list_depth -= 1
        elif t == "list_item_open":
            pending_prefix = "- " if tok.markup in "-*+" else f"{tok.info or '1'}. "
        elif t == "heading_open":
            in_heading = True
        elif t == "heading_close":
            in_heading = False
        elif t == "tr_open":
            table_row = []
        elif t == "tr_close":
            if table_row is not None:
                blocks.append(" | ".join(c for c in table_row if c))
            table_row = None
        elif t == "inline":
            content = _inline_text(tok).strip()
            if not content:
                continue
            if table_row is not None:
                table_row.append(content)
                continue
            if in_heading and title is None:
                title = content
            if list_depth and pending_prefix:
                blocks.append(pending_prefix + content)
                pending_prefix = ""
            elif list_depth:
                blocks.append(content)
            else:
                blocks.append(content)
        elif t in ("fence", "code_block"):
            code = tok.content.strip()
            if code:
                blocks.append(code)
        elif t == "hr":
            continue
    # Consecutive list items stay on adjacent lines; everything else is separated by a blank line.
    out: list[str] = []
    for block in blocks:
        if out and _is_item(block) and _is_item(out[-1].rsplit("\n", 1)[-1]):
            out[-1] += "\n" + block
        else:
            out.append(block)
    return "\n\n".join(out) + "\n", {"title": title}


def _is_item(line: str) -> bool:
    return bool(re.match(r"^(- |\d+\. )", line))


def read_md(data: bytes, path: str) -> tuple[str, dict]:
    source, _ = read_txt(data, path)
    return markdown_to_text(source)


def read_html(data: bytes, path: str) -> tuple[str, dict]:
    import trafilatura

    html = decode_bytes(data, path)
    if not re.search(r"<\s*(html|body|p|div|article|h1|h2)\b", html[:200000], re.I):
        raise CorruptInput("does not look like HTML (no html, body, p or div element)", path)
    extracted = trafilatura.extract(
        html,
        output_format="markdown",
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        favor_recall=True,
        with_metadata=False,
        deduplicate=False,
    )
    if not extracted or not extracted.strip():
        raise EmptyInput("HTML has no main text to extract", path)
    text, meta = markdown_to_text(extracted)
    meta = dict(meta)
    try:
        md = trafilatura.extract_metadata(html)
        if md is not None:
            if md.title:
                meta["title"] = md.title
            if md.date:
                meta["file_date"] = md.date
    except Exception:  # metadata is optional; extraction already succeeded
        pass
    return text, meta


def read_pdf(data: bytes, path: str) -> tuple[str, dict]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text(extraction_mode="layout") or "" for page in reader.pages]
        info = reader.metadata or {}
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as e:
        raise CorruptInput(f"cannot read PDF: {e}", path)
    except Exception as e:  # pypdf raises assorted errors on damaged files
        raise CorruptInput(f"cannot read PDF ({type(e).__name__}): {e}", path)
    paragraphs: list[str] = []
    for page in pages:
        paragraphs.extend(_layout_paragraphs(page))
        paragraphs.append("\f")  # page break marker, turned into a blank line below
    text = "\n\n".join(p for p in paragraphs if p != "\f").strip()
    if not text:
        raise EmptyInput("PDF has no text layer (scanned image?)", path)
    meta: dict = {}
    title = getattr(info, "title", None) if info else None
    if title:
        meta["title"] = str(title)
    created = getattr(info, "creation_date", None) if info else None
    if created:
        meta["file_date"] = created.date().isoformat()
    return text + "\n", meta


# Bullet glyphs as PDF text layers give them: Symbol-font bullets often arrive as DEL (\x7f) or
# a private-use code point (\uf0b7, \uf0a7).
_PDF_BULLET = re.compile(r"^(?:[-•●▪◦‣·\x7f\uf0b7\uf0a7\uf076]|\d{1,2}[.)])\s+")


def _layout_paragraphs(page: str) -> list[str]:
    """Group the lines of a layout-mode PDF page into paragraphs: a blank line or a bullet starts a
    new one, and bullets are written as "- item" so the segmenter sees them as bullet items."""
    paras: list[str] = []
    current: list[str] = []
    bullet_indent = None  # column where the current bullet's text starts
    for line in page.splitlines():
        line = line.replace("\x7f", "\u2022")
        stripped = " ".join(line.split())
        if not stripped:
            if current:
                paras.append(" ".join(current))
                current = []
            bullet_indent = None
            continue
        indent = len(line) - len(line.lstrip())
        m = _PDF_BULLET.match(stripped)
        if m:
            if current:
                paras.append(" ".join(current))
                current = []
            raw = _PDF_BULLET.match(line.lstrip())
            bullet_indent = indent + (raw.end() if raw else 2)
            if not re.match(r"\d", stripped):
                stripped = "- " + stripped[m.end():]
        elif bullet_indent is not None and indent < bullet_indent - 1:
            # back at the margin: the bullet ended and a paragraph begins
            if current:
                paras.append(" ".join(current))
                current = []
            bullet_indent = None
        current.append(stripped)
    if current:
        paras.append(" ".join(current))
    # de-hyphenate words broken at line ends ("diplo- macy")
    return [re.sub(r"(\w)- (\w)", r"\1\2", p) if re.search(r"\w- [a-z]", p) else p for p in paras]


def read_docx(data: bytes, path: str) -> tuple[str, dict]:
    import zipfile

    try:
        import docx

        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise CorruptInput(f"cannot read DOCX (not a valid Word document): {e}", path)
    except Exception as e:
        raise CorruptInput(f"cannot read DOCX ({type(e).__name__}): {e}", path)
    blocks: list[str] = []
    title = None
    for para in document.paragraphs:
        content = " ".join(para.text.split())
        if not content:
            continue
        style = (para.style.name if para.style is not None else "") or ""
        if style.lower().startswith(("title", "heading")) and title is None:
            title = content
        if style.lower().startswith("list"):
            content = "- " + content
            if blocks and _is_item(blocks[-1].rsplit("\n", 1)[-1]):
                blocks[-1] += "\n" + content
                continue
        blocks.append(content)
    for table in document.tables:
        for row in table.rows:
            cells = [" ".join(c.text.split()) for c in row.cells]
            if any(cells):
                blocks.append(" | ".join(c for c in cells if c))
    if not blocks:
        raise EmptyInput("DOCX has no text", path)
    meta: dict = {}
    props = document.core_properties
    if props.title:
        meta["title"] = props.title
    elif title:
        meta["title"] = title
    if props.created:
        meta["file_date"] = props.created.date().isoformat()
    return "\n\n".join(blocks) + "\n", meta


READERS = {
    ".txt": read_txt,
    ".md": read_md,
    ".markdown": read_md,
    ".html": read_html,
    ".htm": read_html,
    ".pdf": read_pdf,
    ".docx": read_docx,
}


# ---------------------------------------------------------------- metadata from text

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december|"
    "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
)
_DATE_PATTERNS = [
    re.compile(r"\b(?P<y>(19|20)\d\d)-(?P<m>[01]\d)-(?P<d>[0-3]\d)\b"),
    re.compile(rf"\b(?P<d>[0-3]?\d)(st|nd|rd|th)?\s+(?P<mon>{_MONTHS})\.?,?\s+(?P<y>(19|20)\d\d)\b", re.I),
    re.compile(rf"\b(?P<mon>{_MONTHS})\.?\s+(?P<d>[0-3]?\d)(st|nd|rd|th)?,?\s+(?P<y>(19|20)\d\d)\b", re.I),
]
_DATE_CUE = re.compile(
    r"(published|updated|date[d]?|issued|released|posted|as of|—|–|\s-\s|^[A-Z][A-Z .'-]{2,},)", re.I
)
_MONTH_NUM = {name: i for i, name in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}


def _month(name: str) -> int:
    name = name.lower().rstrip(".")
    for full, num in _MONTH_NUM.items():
        if full.startswith(name[:3]):
            return num
    raise ValueError(name)


def _parse_date(match: re.Match) -> str | None:
    g = match.groupdict()
    try:
        month = int(g["m"]) if g.get("m") else _month(g["mon"])
        return dt.date(int(g["y"]), month, int(g["d"])).isoformat()
    except (ValueError, KeyError, TypeError):
        return None


def find_date(text: str) -> str | None:
    """The publication date stated in the brief's header lines (first ~12 lines or 1,200 chars).

    Only a date on a line that looks like a dateline/byline/"Published" line counts, so dates of
    events mentioned in the body are not taken for the publication date.
    """
    head_lines = [ln for ln in text[:1500].splitlines() if ln.strip()][:12]
    for line in head_lines:
        short = len(line) < 160
        for pat in _DATE_PATTERNS:
            m = pat.search(line)
            if m and (short or _DATE_CUE.search(line[: m.start() + 1])):
                date = _parse_date(m)
                if date:
                    return date
    return None


def find_title(text: str) -> str | None:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:300]
    return None


# ---------------------------------------------------------------- the entry point

def read_brief(path: str | Path, doc_id: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> Brief:
    """Read one file into a Brief, or raise an ``InputError`` naming the file and the problem."""
    p = Path(path)
    suffix = p.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None:
        raise UnsupportedFormat(
            f"unsupported file type '{suffix}' (supported: {', '.join(SUPPORTED_SUFFIXES)})", p
        )
    try:
        size = p.stat().st_size
        if size > max_bytes:
            raise TooLarge(f"file is {size:,} bytes, over the {max_bytes:,}-byte limit (--max-bytes)", p)
        data = p.read_bytes()
    except FileNotFoundError:
        raise Vanished("file disappeared before it could be read", p)
    except IsADirectoryError:
        raise UnsupportedFormat("is a directory", p)
    except PermissionError as e:
        raise InputError(f"permission denied: {e}", p)
    return brief_from_bytes(data, p, doc_id or p.with_suffix("").name)


def brief_from_bytes(data: bytes, path: str | Path, doc_id: str) -> Brief:
    p = Path(path)
    if not data.strip():
        raise EmptyInput("file is empty", p)
    text, meta = READERS[p.suffix.lower()](data, str(p))
    if not text.strip():
        raise EmptyInput("no text after extraction", p)
    title = meta.pop("title", None) or find_title(text)
    date = find_date(text) or meta.get("file_date")
    return Brief(
        doc_id=doc_id,
        text=text,
        path=str(p),
        title=title,
        date=date,
        content_hash=content_hash(data),
        fmt=p.suffix.lower().lstrip("."),
        meta=meta,
    )


def brief_from_text(text: str, doc_id: str, title: str | None = None, date: str | None = None) -> Brief:
    """A Brief from an in-memory string (Python API, tests)."""
    text = normalise_newlines(text)
    return Brief(
        doc_id=doc_id,
        text=text,
        path="",
        title=title or find_title(text),
        date=date or find_date(text),
        content_hash=content_hash(text.encode("utf-8")),
        fmt="txt",
    )
