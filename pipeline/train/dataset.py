"""Annotation records -> a validated, de-duplicated training set, split by document.

Record schema (one JSON object per line; ``annotations/README.md`` documents it):
doc_id, start_char, end_char, text, stance_bearing, label, actors, annotator, source,
created_at, guideline_version; optional: hard_case, note, meta.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import AnnotationError, UsageError
from ..labels import LABELS

SOURCES = ("human", "model-accepted", "model-corrected")
REQUIRED = ("doc_id", "start_char", "end_char", "text", "stance_bearing", "label", "actors",
            "annotator", "source", "created_at", "guideline_version")
# Conflict rule, rank of a record's source: a label a person chose beats a suggestion accepted.
SOURCE_RANK = {"human": 2, "model-corrected": 2, "model-accepted": 1}


def validate_record(rec: object) -> list[str]:
    """Problems of one record (empty when valid)."""
    if not isinstance(rec, dict):
        return ["not a JSON object"]
    problems = [f"missing field {k!r}" for k in REQUIRED if k not in rec]
    if problems:
        return problems
    if not isinstance(rec["doc_id"], str) or not rec["doc_id"]:
        problems.append("doc_id must be a non-empty string")
    s, e = rec["start_char"], rec["end_char"]
    if not (isinstance(s, int) and isinstance(e, int)) or isinstance(s, bool) or isinstance(e, bool):
        problems.append("start_char and end_char must be integers")
    elif not 0 <= s < e:
        problems.append(f"bad span: start_char={s}, end_char={e}")
    if not isinstance(rec["text"], str) or not rec["text"].strip():
        problems.append("text must be a non-empty string")
    sb = rec["stance_bearing"]
    if not isinstance(sb, bool):
        problems.append("stance_bearing must be true or false")
    elif sb and rec["label"] not in LABELS:
        problems.append(f"label must be one of {', '.join(LABELS)} when stance_bearing is true, got {rec['label']!r}")
    elif not sb and rec["label"] is not None:
        problems.append(f"label must be null when stance_bearing is false, got {rec['label']!r}")
    if not isinstance(rec["actors"], list) or not all(isinstance(a, str) for a in rec["actors"]):
        problems.append("actors must be a list of strings")
    if not isinstance(rec["annotator"], str) or not rec["annotator"]:
        problems.append("annotator must be a non-empty string")
    if rec["source"] not in SOURCES:
        problems.append(f"source must be one of {', '.join(SOURCES)}, got {rec['source']!r}")
    try:
        dt.datetime.fromisoformat(str(rec["created_at"]).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"created_at is not an ISO date-time: {rec['created_at']!r}")
    return problems


def annotation_files(paths: list[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*.jsonl") if not any(x.startswith(".") for x in f.parts)))
        elif p.exists():
            files.append(p)
        else:
            raise UsageError(f"annotation path does not exist: {p}")
    return files


@dataclass
class LoadReport:
    files: int
    lines: int
    valid: int
    problems: list[str]
    duplicates: int
    conflicts: int
    records: int


def read_records(paths: list[str | Path]) -> tuple[list[dict], list[str], list[Path], int]:
    """Every valid record of the files (raw: before de-duplication), the problems as
    ``file:line: problem``, the files read and the number of non-blank lines."""
    files = annotation_files(paths)
    problems: list[str] = []
    rows: list[dict] = []
    n_lines = 0
    for f in files:
        with open(f, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                n_lines += 1
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{f}:{lineno}: not valid JSON ({e.msg})")
                    continue
                bad = validate_record(rec)
                if bad:
                    problems.append(f"{f}:{lineno}: " + "; ".join(bad))
                    continue
                rec = dict(rec)
                rec["_file"], rec["_line"] = str(f), lineno
                rows.append(rec)
    return rows, problems, files, n_lines


def load_annotations(paths: list[str | Path], strict: bool = True) -> tuple[pd.DataFrame, LoadReport]:
    """Read, validate, de-duplicate and resolve annotation records.

    Every bad line is reported as ``file:line: problem``; with ``strict`` any bad line raises
    ``AnnotationError`` listing them all, otherwise they are counted in the report and left out.

    Duplicates (same doc_id and span, same label) collapse to one. Conflicts (same doc_id and span,
    different labels) are resolved by: (1) a person's label (human, model-corrected) beats a
    suggestion merely accepted (model-accepted); (2) then the majority among those; (3) then the
    most recent created_at.
    """
    rows, problems, files, n_lines = read_records(paths)
    if problems and strict:
        raise AnnotationError(problems)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["doc_id"], r["start_char"], r["end_char"])].append(r)
    resolved = []
    duplicates = conflicts = 0
    for recs in groups.values():
        if len(recs) > 1:
            outcomes = {_outcome(r) for r in recs}
            if len(outcomes) == 1:
                duplicates += len(recs) - 1
            else:
                conflicts += 1
        resolved.append(resolve(recs))
    df = pd.DataFrame(resolved)
    if len(df):
        df = df.sort_values(["doc_id", "start_char"], ignore_index=True)
    report = LoadReport(len(files), n_lines, len(rows), problems, duplicates, conflicts, len(df))
    return df, report


def _outcome(r: dict) -> str:
    return r["label"] if r["stance_bearing"] else "none"


def resolve(recs: list[dict]) -> dict:
    if len(recs) == 1:
        return recs[0]
    top = max(SOURCE_RANK[r["source"]] for r in recs)
    best = [r for r in recs if SOURCE_RANK[r["source"]] == top]
    votes = Counter(_outcome(r) for r in best)
    most = max(votes.values())
    winners = [r for r in best if votes[_outcome(r)] == most]
    return max(winners, key=lambda r: str(r["created_at"]))


def data_hash(df: pd.DataFrame) -> str:
    """sha256 over the resolved records' identity and labels (order-independent)."""
    h = hashlib.sha256()
    cols = ["doc_id", "start_char", "end_char", "text", "stance_bearing", "label"]
    rows = (tuple(str(v) for v in r) for r in df[cols].itertuples(index=False, name=None))
    for row in sorted(rows):
        h.update("\x1f".join(row).encode())
        h.update(b"\x1e")
    return h.hexdigest()


def heldout_docs(doc_ids, fraction: float = 0.2, salt: str = "briefs-heldout-v1") -> set[str]:
    """A stable document-level split: a document is held out by a hash of its id, so it stays
    held out as more data arrives, and models trained at different times share the held-out set."""
    buckets = 1000
    cut = int(round(fraction * buckets))
    return {d for d in set(doc_ids)
            if int(hashlib.sha256(f"{salt}:{d}".encode()).hexdigest(), 16) % buckets < cut}


def outcome_column(df: pd.DataFrame) -> pd.Series:
    return df["label"].where(df["stance_bearing"], "none").fillna("none")
