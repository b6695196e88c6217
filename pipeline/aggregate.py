"""Pure pandas: per-document and per-actor-pair tables from the sentence table."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd

from .labels import LABELS
from .schemas import DOCUMENTS, DYADS


def stance_index(n_coop, n_fric, n_stance):
    """(cooperation - friction) / stance-bearing sentences; null where there are none."""
    n_stance = np.asarray(n_stance, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (np.asarray(n_coop, float) - np.asarray(n_fric, float)) / n_stance
    return np.where(n_stance > 0, out, np.nan)


def documents_table(sentences: pd.DataFrame, meta: pd.DataFrame, top_k: int = 5) -> pd.DataFrame:
    """One row per document in ``meta`` (columns doc_id, path, title, date)."""
    rows = []
    by_doc = {d: g for d, g in sentences.groupby("doc_id", sort=False)} if len(sentences) else {}
    for m in meta.itertuples(index=False):
        g = by_doc.get(m.doc_id)
        n_sent = 0 if g is None else len(g)
        st = g[g["stance_bearing"]] if g is not None else None
        counts = {lab: 0 for lab in LABELS}
        actors: Counter = Counter()
        if st is not None and len(st):
            counts.update(st["label"].value_counts().to_dict())
            for acts in st["actors"]:
                actors.update(acts)
        n_stance = sum(counts.values())
        row = {"doc_id": m.doc_id, "path": m.path, "title": m.title, "date": m.date,
               "n_sentences": n_sent, "n_stance": n_stance}
        for lab in LABELS:
            row[f"n_{lab}"] = counts[lab]
        for lab in LABELS:
            row[f"share_{lab}"] = counts[lab] / n_stance if n_stance else np.nan
        row["stance_index"] = float(stance_index(counts["cooperation"], counts["friction"], n_stance))
        # ties broken by the label order (cooperation, friction, hedging) for determinism
        row["dominant_label"] = max(LABELS, key=lambda lab: (counts[lab], -LABELS.index(lab))) if n_stance else None
        row["top_actors"] = [a for a, _ in sorted(actors.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]
        rows.append(row)
    df = pd.DataFrame(rows, columns=DOCUMENTS)
    return df.astype({"n_sentences": "int64", "n_stance": "int64", **{f"n_{lab}": "int64" for lab in LABELS}})


def dyads_table(sentences: pd.DataFrame) -> pd.DataFrame:
    """Counts per document and sorted actor pair over stance-bearing sentences naming both."""
    counts: dict[tuple[str, str, str], list[int]] = {}
    if len(sentences):
        st = sentences[sentences["stance_bearing"]]
        index = {lab: i for i, lab in enumerate(LABELS)}
        for doc_id, acts, label in zip(st["doc_id"], st["actors"], st["label"]):
            for a, b in combinations(sorted(set(acts)), 2):
                counts.setdefault((doc_id, a, b), [0] * len(LABELS))[index[label]] += 1
    if not counts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c.startswith("n_") else "object") for c in DYADS})
    keys = sorted(counts)
    df = pd.DataFrame(keys, columns=["doc_id", "actor_a", "actor_b"])
    n = np.array([counts[k] for k in keys], dtype="int64")
    for i, lab in enumerate(LABELS):
        df[f"n_{lab}"] = n[:, i]
    df["n_stance"] = n.sum(axis=1)
    df["stance_index"] = stance_index(df["n_cooperation"], df["n_friction"], df["n_stance"])
    return df[DYADS]


def corpus_dyads(dyads: pd.DataFrame, min_stance: int = 1) -> pd.DataFrame:
    """Actor pairs over the whole corpus: summed counts, stance index, documents."""
    if dyads.empty:
        return pd.DataFrame(columns=["actor_a", "actor_b", "n_docs", "n_stance",
                                     *[f"n_{lab}" for lab in LABELS], "stance_index"])
    g = dyads.groupby(["actor_a", "actor_b"], as_index=False).agg(
        n_docs=("doc_id", "nunique"), n_stance=("n_stance", "sum"),
        **{f"n_{lab}": (f"n_{lab}", "sum") for lab in LABELS},
    )
    g["stance_index"] = stance_index(g["n_cooperation"], g["n_friction"], g["n_stance"])
    return g[g["n_stance"] >= min_stance].sort_values("n_stance", ascending=False, ignore_index=True)
