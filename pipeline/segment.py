"""Layout-aware segmentation.

``layout_blocks(text)`` is a pure function of the extracted text: it finds the blocks that are
sentence boundaries whatever the parser thinks (blank-line paragraphs, headings, bullet items,
bylines, datelines, legal notices, page numbers), and re-joins a sentence that a page break split
across two paragraphs. The ``brief_layout`` spaCy component writes those boundaries onto the Doc
before the parser runs, and ``sentence_spans`` reads the resulting sentences back as exact
character spans with the kind of block they came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from spacy.attrs import IDX
from spacy.language import Language
from spacy.tokens import Doc

# Block kinds. Only "body" and "bullet" sentences can bear stance.
TITLE, HEADING, BULLET, BODY, BOILERPLATE, PAGENUM = (
    "title", "heading", "bullet", "body", "boilerplate", "pagenum",
)
STANCE_ELIGIBLE = frozenset({BODY, BULLET})


@dataclass(frozen=True)
class Block:
    start: int
    end: int
    kind: str
    joined: tuple[tuple[int, int], ...] = ()  # page-break gaps inside the block (start, end)


_TERMINAL = re.compile(r"[.!?…][\"'”’)\]]*$|[.!?][\"'”’)\]]*\s*\[\d+\]$")
_BULLET_MARK = r"\s*(?:[-*•●▪–]|\(?\d{1,2}[.)]|\(?[a-z][.)])\s+"
_BULLET = re.compile("^" + _BULLET_MARK)
_BULLET_AT = re.compile(_BULLET_MARK)  # for .match(text, pos): "^" would not anchor at pos
_PAGENUM = re.compile(r"^\s*(?:page\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$|^\s*[-–]\s*\d{1,4}\s*[-–]\s*$", re.I)
_COPYRIGHT = re.compile(r"©|\(c\)\s*\d{4}|\bcopyright\b|all rights reserved", re.I)
_DISCLAIMER = re.compile(
    r"\bviews (expressed|and opinions)\b|\bdo(es)? not necessarily (reflect|represent)\b|"
    r"\bsole responsibility of the author|\bfor (informational|information) purposes\b|"
    r"\bshould not be (construed|taken as)\b|\bsuggested citation\b|\bcite (this|as)\b|"
    r"\b(subscribe|sign up) (to|for)\b|\bfollow us\b|\bterms of (use|service)\b|\bprivacy policy\b|"
    r"\bmay be reproduced\b|\breproduction (is )?(authori[sz]ed|permitted|prohibited)\b|"
    r"\bnot (an official|the official) (position|policy)\b|\bfor (more|further) information,? (contact|see|visit)\b",
    re.I,
)
_CONTACT = re.compile(r"^\s*(e-?mail|tel(ephone)?|phone|fax|contact|website|www\.|https?://)\b", re.I)
_BYLINE = re.compile(
    r"^\s*(by|authors?|written by|prepared by|analysis by|commentary by|from)\s*[:\s]\s*[A-Z]", re.I
)
_DATE_WORDS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_DATE_ANY = re.compile(
    rf"\b(?:\d{{4}}-\d\d-\d\d|\d{{1,2}}\s+{_DATE_WORDS}\.?,?\s+\d{{4}}|{_DATE_WORDS}\.?\s+\d{{1,2}},?\s+\d{{4}}|{_DATE_WORDS}\s+\d{{4}})\b",
    re.I,
)
_DATE_LINE = re.compile(
    r"^\s*(?:(?:published|updated|last updated|date|dated|issued|released|posted|as of)\b[:\s]*)?", re.I
)
# "SEOUL, 4 May 2023 — " or "WASHINGTON (March 3, 2022) - " at the start of a paragraph
_DATELINE_PREFIX = re.compile(  # city in capitals (case-sensitive), then a date, then a dash
    rf"(?P<dl>[A-Z][A-Z.'/-]+(?: [A-Z][A-Z.'/-]+){{0,3}}(?:,\s*[A-Z][A-Za-z.'-]+(?: [A-Z][A-Za-z.'-]+){{0,2}})?"
    rf"\s*[,(]\s*[^—–\n]{{0,12}}?(?i:\d{{1,2}}\s+{_DATE_WORDS}|{_DATE_WORDS}\.?\s+\d{{1,2}})"
    rf"[^—–\n]{{0,12}}?\)?\s*(?:—|–|--|-)\s*)"
)
_ALPHA = re.compile(r"[A-Za-z]")


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _is_pagenum(line: str) -> bool:
    return bool(_PAGENUM.match(line))


def _is_date_line(line: str) -> bool:
    m = _DATE_ANY.search(line)
    if not m:
        return False
    rest = (line[: m.start()] + line[m.end():]).strip(" \t:|·,-–—()")
    rest = _DATE_LINE.sub("", rest).strip(" \t:|·,-–—()")
    return len(rest.split()) <= 3


def classify_line(line: str, *, first: bool = False) -> str:
    """Kind of a one-line block: boilerplate, heading, pagenum, bullet or body."""
    s = line.strip()
    if not s:
        return PAGENUM
    if _is_pagenum(s):
        return PAGENUM
    words = s.split()
    if _COPYRIGHT.search(s) or _DISCLAIMER.search(s) or _CONTACT.match(s):
        return BOILERPLATE
    if _BYLINE.match(s) and len(words) <= 25 and not _TERMINAL.search(s.rstrip(".")):
        return BOILERPLATE
    if len(words) <= 14 and _is_date_line(s):
        return BOILERPLATE
    if _BULLET.match(s):
        return BULLET
    if not _ALPHA.search(s):
        return BOILERPLATE
    if s.endswith(":") and len(words) <= 10:
        return TITLE if first else HEADING
    # a short Title Case line that ends with a full stop ("U.S. Tariff Actions and Trade Talks.")
    if s.endswith(".") and len(words) <= 10 and not _INNER_STOP.search(s[:-1]) and _title_case_ratio(words) >= 0.85 \
            and sum(1 for w in words if w[:1].isupper()) >= 2:
        return TITLE if first else HEADING
    if not _TERMINAL.search(s) and not _INNER_STOP.search(s) and (len(words) <= 12 or (
            len(words) <= 20 and _title_case_ratio(words) >= 0.6)):
        return TITLE if first else HEADING
    return BODY


_INNER_STOP = re.compile(r"[a-z0-9)\]][.!?]\s+[A-Z]")
_SMALL_WORDS = frozenset({"a", "an", "and", "the", "of", "in", "on", "for", "to", "with", "at", "by", "vs", "or",
                          "as", "from", "after", "over", "under", "between", "into", "amid"})


def _title_case_ratio(words: list[str]) -> float:
    """Share of words that are capitalised (or small function words): headings are Title Case."""
    ok = sum(1 for w in words if w[:1].isupper() or not w[:1].isalpha() or w.lower() in _SMALL_WORDS)
    return ok / len(words)


def _looks_like_heading_line(line: str, next_line: str) -> bool:
    """First line of a block that is a heading glued to its paragraph without a blank line."""
    s = line.strip()
    words = s.split()
    if not words or len(words) > 12 or _TERMINAL.search(s) or s.endswith((",", ";", "-", "—")):
        return False
    if not next_line.strip()[:1].isupper():
        return False
    return s.isupper() or _title_case_ratio(words) >= 1.0 or s.endswith(":")


def _raw_blocks(text: str) -> list[tuple[int, int]]:
    """Spans of blank-line-separated paragraphs (form feeds count as blank lines)."""
    spans = []
    for m in re.finditer(r"(?:[^\n\f]*\S[^\n\f]*(?:\n|$))+", text):
        s, e = _strip_span(text, m.start(), m.end())
        if s < e:
            spans.append((s, e))
    return spans


def _split_block(text: str, start: int, end: int, first: bool) -> list[Block]:
    """Split one paragraph into line-level blocks where its lines are units of their own."""
    lines = []
    pos = start
    for line in text[start:end].split("\n"):
        lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    out: list[Block] = []
    buf_start = None
    buf_end = None

    def flush():
        nonlocal buf_start, buf_end
        if buf_start is not None:
            s, e = _strip_span(text, buf_start, buf_end)
            if s < e:
                kind = classify_line(text[s:e], first=first and not out) if "\n" not in text[s:e] else BODY
                if kind in (TITLE, HEADING) and "\n" in text[s:e]:
                    kind = BODY
                out.append(Block(s, e, kind))
        buf_start = buf_end = None

    for i, (ls, le) in enumerate(lines):
        line = text[ls:le]
        if not line.strip():
            continue
        kind = classify_line(line, first=first and not out and buf_start is None)
        nxt = text[lines[i + 1][0]:lines[i + 1][1]] if i + 1 < len(lines) else ""
        standalone = kind in (BOILERPLATE, PAGENUM, BULLET) or (
            buf_start is None and i + 1 < len(lines) and kind in (TITLE, HEADING)
            and _looks_like_heading_line(line, nxt)
        )
        if kind == BULLET:
            flush()
            buf_start, buf_end = ls, le  # a bullet may wrap onto following lines
            continue
        if standalone:
            flush()
            s, e = _strip_span(text, ls, le)
            out.append(Block(s, e, kind))
            continue
        if buf_start is None:
            buf_start = ls
        buf_end = le
    flush()
    # bullets that wrapped onto continuation lines were buffered: re-mark them as bullets
    fixed = []
    for b in out:
        if _BULLET.match(text[b.start:b.end]) and b.kind != BULLET:
            b = Block(b.start, b.end, BULLET)
        fixed.append(b)
    return fixed


def _split_dateline(text: str, block: Block) -> list[Block]:
    if block.kind != BODY:
        return [block]
    m = _DATELINE_PREFIX.match(text, block.start, block.end)
    if not m or m.end() >= block.end:
        return [block]
    dl_end = _strip_span(text, block.start, m.end())[1]
    body_start = _strip_span(text, m.end(), block.end)[0]
    return [Block(block.start, dl_end, BOILERPLATE), Block(body_start, block.end, BODY)]


def layout_blocks(text: str) -> list[Block]:
    """Blocks of the text in order, each a boundary for sentences, with page-break repair."""
    blocks: list[Block] = []
    for i, (s, e) in enumerate(_raw_blocks(text)):
        for b in _split_block(text, s, e, first=(i == 0)):
            blocks.extend(_split_dateline(text, b))
    return _repair_page_breaks(text, blocks)


def _repair_page_breaks(text: str, blocks: list[Block]) -> list[Block]:
    """Re-join a body sentence split by a page break: "... at both the leader" / "and ministerial levels."."""
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        b = blocks[i]
        if b.kind in (BODY, BULLET) and not _TERMINAL.search(text[b.start:b.end]) and not text[b.end - 1] in ":;":
            j = i + 1
            while j < len(blocks) and blocks[j].kind == PAGENUM:
                j += 1
            if j < len(blocks) and blocks[j].kind in (BODY, HEADING) and text[blocks[j].start].islower():
                nxt = blocks[j]
                gaps = b.joined + ((b.end, nxt.start),) + nxt.joined
                merged = Block(b.start, nxt.end, b.kind, gaps)
                blocks = blocks[:i] + [merged] + blocks[j + 1:]
                continue  # the merged block may itself continue over another break
        out.append(b)
        i += 1
    return out


def clean_sentence_text(text: str, start: int, end: int, gaps: tuple[tuple[int, int], ...] = ()) -> str:
    """Sentence text for reading and features: page-break gaps (page numbers too) and runs of
    whitespace collapsed to one space. The exact slice stays available through the offsets."""
    pieces = []
    pos = start
    for gs, ge in gaps:
        if start <= gs and ge <= end:
            pieces.append(text[pos:gs])
            pos = ge
    pieces.append(text[pos:end])
    return " ".join(" ".join(pieces).split())


# ---------------------------------------------------------------- spaCy integration

BLOCKS_KEY = "brief_blocks"


@Language.factory(
    "brief_layout",
    assigns=["token.is_sent_start"],
    default_config={},
)
def make_brief_layout(nlp: Language, name: str):
    return BriefLayout()


class BriefLayout:
    """Pre-sets sentence boundaries from the layout; the parser/senter then fills in the rest."""

    def __call__(self, doc: Doc) -> Doc:
        text = doc.text  # Doc.text joins every token: read it once
        blocks = layout_blocks(text)
        doc.user_data[BLOCKS_KEY] = [(b.start, b.end, b.kind, b.joined) for b in blocks]
        if not len(doc):
            return doc
        # Vectorised over token offsets: only the tokens whose value is set are touched (a Python
        # loop over every token cost 5% of the parse).
        idx = doc.to_array(IDX).astype(np.int64)
        value = np.zeros(len(doc), dtype=np.int8)  # 1 start, -1 no start, 0 the parser decides
        for b in blocks:
            if b.kind not in (BODY, BULLET):  # inside a heading or boilerplate line
                value[np.searchsorted(idx, b.start, "right"):np.searchsorted(idx, b.end, "left")] = -1
            for gs, ge in b.joined:  # across a repaired page break
                value[np.searchsorted(idx, gs, "left"):np.searchsorted(idx, ge, "right")] = -1
            if b.kind == BULLET:
                m = _BULLET_AT.match(text, b.start)
                if m:  # the marker and the first word stay together
                    lo, hi = np.searchsorted(idx, b.start + 1, "left"), np.searchsorted(idx, m.end(), "right")
                    value[lo:hi] = -1
        starts = np.searchsorted(idx, [b.start for b in blocks], "left")
        for i, b in zip(starts, blocks):
            if i < len(idx) and idx[i] == b.start:
                value[i] = 1
        value[0] = 0
        for i in np.flatnonzero(value):
            doc[int(i)].is_sent_start = bool(value[i] > 0)
        return doc


_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"})


def _is_run_in_heading(doc: Doc, ts: int, te: int, s: str) -> bool:
    """A paragraph's first sentence that is a run-in heading ("Sectoral Tariffs. In 2025, ...",
    "War powers. Some Members ..."): at most 4 words, or up to 8 in Title Case, capitalised,
    ending in a full stop or colon, with no subject in the parse. Headings are never
    stance-bearing (guideline rule 8)."""
    words = s.split()
    if not 1 <= len(words) <= 8 or not s[:1].isupper() or not s.endswith((".", ":")) or s.endswith("..."):
        return False
    # short, or in Title Case: the small model sometimes parses a real sentence as one noun
    # phrase ("Cairo's tone hardened within days ..."), which the subject test alone would take
    if len(words) > 4 and _title_case_ratio(words) < 0.75:
        return False
    return not any(doc[i].dep_ in _SUBJECT_DEPS for i in range(ts, te))


@dataclass(frozen=True)
class SentenceSpan:
    sent_id: int
    start_char: int
    end_char: int
    token_start: int
    token_end: int
    kind: str
    gaps: tuple[tuple[int, int], ...]


def sentence_spans(doc: Doc) -> list[SentenceSpan]:
    """Sentences of a Doc processed with ``brief_layout``: trimmed, exact character spans, each
    tagged with the kind of block it lies in. Bullet markers are left outside the span."""
    text = doc.text  # Doc.text joins every token: read it once
    blocks = doc.user_data.get(BLOCKS_KEY)
    if blocks is None:
        blocks = [(b.start, b.end, b.kind, b.joined) for b in layout_blocks(text)]
    out: list[SentenceSpan] = []
    bi = 0
    for sent in doc.sents:
        ts, te = sent.start, sent.end
        while ts < te and (doc[ts].is_space or not doc[ts].text.strip()):
            ts += 1
        while te > ts and (doc[te - 1].is_space or not doc[te - 1].text.strip()):
            te -= 1
        if ts >= te:
            continue
        while bi < len(blocks) and blocks[bi][1] <= doc[ts].idx:
            bi += 1
        kind, gaps = (blocks[bi][2], tuple(blocks[bi][3])) if bi < len(blocks) else (BODY, ())
        if kind == BULLET and doc[ts].idx == blocks[bi][0]:
            m = _BULLET_AT.match(text, doc[ts].idx)
            if m:
                while ts < te and doc[ts].idx < m.end():
                    ts += 1
        if ts >= te:
            continue
        start = doc[ts].idx
        end = doc[te - 1].idx + len(doc[te - 1].text)
        if not _ALPHA.search(text[start:end]):
            kind = PAGENUM if _is_pagenum(text[start:end]) else BOILERPLATE
        elif kind == BODY and bi < len(blocks) and start == blocks[bi][0] and _is_run_in_heading(doc, ts, te, text[start:end]):
            kind = HEADING
        gaps = tuple(g for g in gaps if start <= g[0] and g[1] <= end)
        out.append(SentenceSpan(len(out), start, end, ts, te, kind, gaps))
    return out
