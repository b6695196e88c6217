"""Atomic, chunked writers for the output tables (Parquet, CSV, JSONL) and JSON files.

Every file is written to a temporary name in the same folder and renamed over the target only
when complete, so a run killed at any point leaves the previous outputs readable.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .labels import LABELS
from .schemas import LIST_COLUMNS, TABLES

FORMATS = ("parquet", "csv", "jsonl")
EXTENSIONS = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".jsonl"}

_S, _I, _F, _B, _L = pa.string(), pa.int64(), pa.float64(), pa.bool_(), pa.list_(pa.string())
ARROW_TYPES = {
    "sentences": {
        "doc_id": _S, "sent_id": _I, "start_char": _I, "end_char": _I, "text": _S, "stance_bearing": _B,
        "label": _S, "confidence": _F, **{f"p_{lab}": _F for lab in LABELS}, "actors": _L, "evidence": _L,
        "kind": _S, "p_stance": _F,
    },
    "entities": {
        "doc_id": _S, "sent_id": _I, "start_char": _I, "end_char": _I, "text": _S, "spacy_label": _S, "actor": _S,
    },
    "documents": {
        "doc_id": _S, "path": _S, "title": _S, "date": _S, "n_sentences": _I, "n_stance": _I,
        **{f"n_{lab}": _I for lab in LABELS}, **{f"share_{lab}": _F for lab in LABELS},
        "stance_index": _F, "dominant_label": _S, "top_actors": _L,
    },
    "dyads": {
        "doc_id": _S, "actor_a": _S, "actor_b": _S, "n_stance": _I, **{f"n_{lab}": _I for lab in LABELS},
        "stance_index": _F,
    },
}


def arrow_schema(name: str) -> pa.Schema:
    types = ARROW_TYPES[name]
    return pa.schema([(col, types[col]) for col in TABLES[name]])


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    df = df[TABLES[name]]
    return pa.Table.from_pandas(df, schema=arrow_schema(name), preserve_index=False)


@contextmanager
def atomic_path(target: Path):
    """Yield a temporary path beside ``target``; rename it over ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(target: Path, obj) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default, allow_nan=False) + "\n")


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def _clean(v):
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "tolist"):
        return v.tolist()
    if hasattr(v, "item"):
        return v.item()
    return v


class TableWriter:
    """Append DataFrame chunks to one table file; ``commit()`` renames it into place."""

    def __init__(self, out_dir: Path, name: str, fmt: str = "parquet"):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")
        self.name, self.fmt = name, fmt
        self.target = Path(out_dir) / f"{name}{EXTENSIONS[fmt]}"
        self._ctx = atomic_path(self.target)
        self.tmp = self._ctx.__enter__()
        self.rows = 0
        self._pq = None
        self._fh = None
        if fmt == "parquet":
            self._pq = pq.ParquetWriter(self.tmp, arrow_schema(name), compression="zstd")
        else:
            self._fh = open(self.tmp, "w", encoding="utf-8", newline="")
            if fmt == "csv":
                pd.DataFrame(columns=TABLES[name]).to_csv(self._fh, index=False)

    def write(self, df: pd.DataFrame) -> None:
        if df is None or not len(df):
            return
        df = df[TABLES[self.name]]
        self.rows += len(df)
        if self._pq is not None:
            self._pq.write_table(to_arrow(self.name, df))
        elif self.fmt == "csv":
            out = df.copy()
            for col in LIST_COLUMNS & set(out.columns):
                out[col] = [json.dumps(list(v) if v is not None else []) for v in out[col]]
            out.to_csv(self._fh, index=False, header=False)
        else:
            cols = list(df.columns)
            for row in df.itertuples(index=False, name=None):
                rec = {c: _clean(v) for c, v in zip(cols, row)}
                self._fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    def commit(self) -> Path:
        if self._pq is not None:
            self._pq.close()
        if self._fh is not None:
            self._fh.close()
        self._ctx.__exit__(None, None, None)
        return self.target

    def abort(self) -> None:
        try:
            if self._pq is not None:
                self._pq.close()
            if self._fh is not None:
                self._fh.close()
        finally:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)


def read_table(out_dir: Path, name: str) -> pd.DataFrame:
    """Read a table written by ``TableWriter`` in whichever format is present."""
    out_dir = Path(out_dir)
    for fmt in FORMATS:
        path = out_dir / f"{name}{EXTENSIONS[fmt]}"
        if path.exists():
            if fmt == "parquet":
                df = pq.read_table(path).to_pandas()
                for col in LIST_COLUMNS & set(df.columns):
                    df[col] = [list(v) if v is not None else [] for v in df[col]]
                return df
            if fmt == "csv":
                df = pd.read_csv(path, keep_default_na=True)
                for col in LIST_COLUMNS & set(df.columns):
                    df[col] = [json.loads(v) if isinstance(v, str) else [] for v in df[col]]
                return df
            return pd.read_json(path, lines=True)
    raise FileNotFoundError(f"no {name} table in {out_dir}")
