"""Pure converters between run outputs, doccano examples and annotation records (no network)."""

from __future__ import annotations

import datetime as dt
import hashlib
import math

import numpy as np
import pandas as pd

from ..labels import GUIDELINE_VERSION, LABELS

ORDERS = ("uncertainty", "document")


def sentence_key(doc_id: str, start: int, end: int, text: str) -> str:
    """Identity of a sentence across pushes: doc_id, span and a hash of the text."""
    th = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"{doc_id}|{start}|{end}|{th}"


def margin(row) -> float:
    """Top-1 minus top-2 label probability (small = uncertain)."""
    p = sorted((row[f"p_{lab}"] for lab in LABELS), reverse=True)
    return float(p[0] - p[1])


def entropy(row) -> float:
    return float(-sum(row[f"p_{lab}"] * math.log(row[f"p_{lab}"]) for lab in LABELS if row[f"p_{lab}"] > 0))


def select_for_review(sentences: pd.DataFrame, *, order: str = "uncertainty", limit: int | None = None,
                      sample_none: int = 0, seed: int = 0, strategy: str = "margin") -> pd.DataFrame:
    """Stance-bearing sentences, most uncertain first (or in document order), plus an optional
    random sample of sentences the model called not stance-bearing (eligible body/bullet text
    only), so reviewers can check recall. Adds ``context_prev``, ``context_next``, ``uncertainty``
    and ``suggestion`` (None for the sample)."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}")
    s = sentences.sort_values(["doc_id", "sent_id"]).reset_index(drop=True)
    s["context_prev"] = s.groupby("doc_id")["text"].shift(1)
    s["context_next"] = s.groupby("doc_id")["text"].shift(-1)
    bearing = s[s["stance_bearing"]].copy()
    score = margin if strategy == "margin" else (lambda r: -entropy(r))
    bearing["uncertainty"] = [1.0 - score(r) if strategy == "margin" else -score(r)
                              for r in bearing.to_dict("records")]
    bearing["suggestion"] = bearing["label"]
    if order == "uncertainty":
        bearing = bearing.sort_values(["uncertainty", "doc_id", "sent_id"], ascending=[False, True, True])
    if limit is not None:
        bearing = bearing.head(limit)
    parts = [bearing]
    if sample_none:
        pool = s[(~s["stance_bearing"]) & s["kind"].isin(["body", "bullet"])]
        if len(pool):
            sample = pool.sample(n=min(sample_none, len(pool)), random_state=seed).copy()
            sample["uncertainty"] = np.nan
            sample["suggestion"] = None
            parts.append(sample)
    return pd.concat(parts, ignore_index=True)


def to_example(row: dict, model_version: str) -> dict:
    """A doccano example (text + meta) for a selected sentence."""
    meta = {
        "key": sentence_key(row["doc_id"], int(row["start_char"]), int(row["end_char"]), row["text"]),
        "doc_id": row["doc_id"], "sent_id": int(row["sent_id"]),
        "start_char": int(row["start_char"]), "end_char": int(row["end_char"]),
        "context_prev": _none(row.get("context_prev")), "context_next": _none(row.get("context_next")),
        "model_version": model_version, "model_label": _none(row.get("suggestion")),
        "model_stance_bearing": bool(row["stance_bearing"]),
        "confidence": _none(row.get("confidence")), "p_stance": _none(row.get("p_stance")),
        **{f"p_{lab}": _none(row.get(f"p_{lab}")) for lab in LABELS},
        "uncertainty": _none(row.get("uncertainty")),
        "actors": list(row.get("actors") or []),
    }
    return {"text": " ".join(str(row["text"]).split()), "meta": meta}


def _none(v):
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def to_annotation(meta: dict, text: str, label: str | None, reviewer: str, created_at: str) -> dict:
    """An annotation record (``annotations/`` schema) from a reviewed example. A confirmed example
    with no label means the reviewer judged it not stance-bearing."""
    suggestion = meta.get("model_label")
    source = "model-accepted" if label == suggestion else "model-corrected"
    return {
        "doc_id": meta["doc_id"], "start_char": int(meta["start_char"]), "end_char": int(meta["end_char"]),
        "text": text, "stance_bearing": label is not None, "label": label,
        "actors": list(meta.get("actors") or []), "annotator": reviewer, "source": source,
        "created_at": created_at, "guideline_version": GUIDELINE_VERSION,
        "meta": {"key": meta.get("key"), "model_version": meta.get("model_version"), "model_label": suggestion,
                 "confidence": meta.get("confidence")},
    }


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
