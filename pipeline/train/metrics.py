"""Scores over the four outcomes (three labels + "none"), and gold-to-prediction matching."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score, confusion_matrix, precision_recall_fscore_support

from ..labels import EVAL_CLASSES, LABELS, NONE


def score(gold: list[str], pred: list[str]) -> dict:
    """Per-class P/R/F1, macro-F1 over the three labels, "none" F1, stance-bearing P/R/F1,
    accuracy, Cohen's kappa and the confusion matrix (rows gold, columns predicted)."""
    gold = [g if g in LABELS else NONE for g in gold]
    pred = [p if p in LABELS else NONE for p in pred]
    p, r, f, support = precision_recall_fscore_support(gold, pred, labels=list(EVAL_CLASSES), zero_division=0)
    out: dict = {"n": len(gold)}
    for i, c in enumerate(EVAL_CLASSES):
        out[f"{c}_precision"] = float(p[i])
        out[f"{c}_recall"] = float(r[i])
        out[f"{c}_f1"] = float(f[i])
        out[f"{c}_support"] = int(support[i])
    out["macro_f1"] = macro_f1(gold, pred)
    gb = [g != NONE for g in gold]
    pb = [q != NONE for q in pred]
    sp, sr, sf, _ = precision_recall_fscore_support(gb, pb, labels=[True], zero_division=0)
    out["stance_precision"], out["stance_recall"], out["stance_f1"] = float(sp[0]), float(sr[0]), float(sf[0])
    out["accuracy"] = float(np.mean([g == q for g, q in zip(gold, pred)])) if gold else 0.0
    out["kappa"] = float(cohen_kappa_score(gold, pred, labels=list(EVAL_CLASSES))) if len(set(gold) | set(pred)) > 1 else 1.0
    out["confusion"] = {
        "labels": list(EVAL_CLASSES),
        "matrix": confusion_matrix(gold, pred, labels=list(EVAL_CLASSES)).tolist(),
    }
    return out


def match_by_overlap(gold: pd.DataFrame, pred: pd.DataFrame) -> pd.DataFrame:
    """For each gold sentence (doc_id, start_char, end_char) the predicted sentence of the same
    document that overlaps it most (ties: the earlier one). Adds ``pred_index`` (-1 when none
    overlaps) and ``overlap`` (characters)."""
    out = gold.copy()
    idx = np.full(len(gold), -1, dtype=int)
    ov = np.zeros(len(gold), dtype=int)
    by_doc = {d: g for d, g in pred.groupby("doc_id", sort=False)}
    for k, (doc_id, s, e) in enumerate(zip(gold["doc_id"], gold["start_char"], gold["end_char"])):
        cand = by_doc.get(doc_id)
        if cand is None:
            continue
        starts = cand["start_char"].to_numpy()
        ends = cand["end_char"].to_numpy()
        overlap = np.minimum(ends, e) - np.maximum(starts, s)
        j = int(np.argmax(overlap))
        if overlap[j] > 0:
            idx[k] = cand.index[j]
            ov[k] = overlap[j]
    out["pred_index"] = idx
    out["overlap"] = ov
    return out


def macro_f1(gold, pred) -> float:
    """Macro-F1 over the three labels ("none" counts as a wrong or missing label): the headline
    figure of ``score`` and of the promotion guard."""
    f = precision_recall_fscore_support(gold, pred, labels=list(LABELS), zero_division=0)[2]
    return float(np.mean(f))


def paired_bootstrap(gold, new, old, groups=None, rounds: int = 2000, seed: int = 0) -> dict:
    """How sure is it that ``new`` predictions are not worse than ``old`` ones on the same gold?

    Resamples with replacement, both models on the same draw, and records new minus old macro-F1.
    ``groups`` (document ids) makes the draw resample whole documents: sentences of one document
    are not independent, so this is the honest unit when there are enough documents (at least 5);
    otherwise sentences are drawn. Returns the observed difference, a 95% interval, and
    ``p_not_worse``: the share of draws in which new scores at least as well as old."""
    gold, new, old = (np.asarray(x, dtype=object) for x in (gold, new, old))
    rng = np.random.default_rng(seed)
    units = None
    if groups is not None:
        groups = np.asarray(groups)
        names = np.unique(groups)
        if len(names) >= 5:
            units = [np.flatnonzero(groups == g) for g in names]
    diffs = np.empty(rounds)
    n = len(gold)
    for r in range(rounds):
        if units is not None:
            idx = np.concatenate([units[k] for k in rng.integers(0, len(units), len(units))])
        else:
            idx = rng.integers(0, n, n)
        diffs[r] = macro_f1(gold[idx], new[idx]) - macro_f1(gold[idx], old[idx])
    return {
        "difference": macro_f1(gold, new) - macro_f1(gold, old),
        "ci95": [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))],
        "p_not_worse": float(np.mean(diffs >= 0)),
        "unit": "document" if units is not None else "sentence",
        "units": len(units) if units is not None else n,
        "rounds": rounds,
    }


def format_scores(m: dict, title: str = "") -> str:
    """A plain-text table of the scores, for the terminal."""
    lines = [title] if title else []
    lines.append(f"{'class':<12}{'prec':>7}{'rec':>7}{'f1':>7}{'n':>6}")
    for c in EVAL_CLASSES:
        lines.append(f"{c:<12}{m[f'{c}_precision']:>7.3f}{m[f'{c}_recall']:>7.3f}{m[f'{c}_f1']:>7.3f}{m[f'{c}_support']:>6}")
    lines.append(f"macro-F1 (3 labels) {m['macro_f1']:.3f}   none F1 {m['none_f1']:.3f}   "
                 f"stance-bearing P/R/F1 {m['stance_precision']:.3f}/{m['stance_recall']:.3f}/{m['stance_f1']:.3f}   "
                 f"accuracy {m['accuracy']:.3f}   kappa {m['kappa']:.3f}")
    conf = m["confusion"]
    lines.append("confusion (rows gold, columns predicted): " + " ".join(f"{c[:5]:>6}" for c in conf["labels"]))
    for c, row in zip(conf["labels"], conf["matrix"]):
        lines.append(f"  {c:<10}" + "".join(f"{v:>7}" for v in row))
    return "\n".join(lines)
