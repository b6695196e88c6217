"""Inter-annotator agreement (Cohen's kappa, Krippendorff's alpha), per label and overall, between
annotators and between the model and each annotator."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from ..labels import EVAL_CLASSES

MODEL = "model"


def outcomes_table(records: list[dict]) -> pd.DataFrame:
    """Rows: sentence (doc_id, start_char, end_char); columns: annotators; values: outcome."""
    rows = [{"doc_id": r["doc_id"], "start_char": r["start_char"], "end_char": r["end_char"], "text": r["text"],
             "annotator": r["annotator"], "outcome": r["label"] if r["stance_bearing"] else "none"}
            for r in records]
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    texts = df.groupby(["doc_id", "start_char", "end_char"])["text"].first()
    wide = df.pivot_table(index=["doc_id", "start_char", "end_char"], columns="annotator", values="outcome",
                          aggfunc="last")
    wide.insert(0, "text", texts)
    return wide


def _alpha(matrix: list[list]) -> float:
    """Krippendorff's alpha (nominal) over annotators x items, None for missing."""
    import krippendorff

    codes = {v: i for i, v in enumerate(sorted({x for row in matrix for x in row if x is not None}))}
    if len(codes) < 2:
        return float("nan")
    data = np.array([[codes[x] if x is not None else np.nan for x in row] for row in matrix], dtype=float)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def pair_agreement(a: pd.Series, b: pd.Series) -> dict | None:
    both = a.notna() & b.notna()
    if both.sum() == 0:
        return None
    x, y = a[both].tolist(), b[both].tolist()
    out = {"n": int(both.sum()), "observed": float(np.mean([p == q for p, q in zip(x, y)]))}
    out["kappa"] = float(cohen_kappa_score(x, y, labels=list(EVAL_CLASSES)))
    out["alpha"] = _alpha([x, y])
    for lab in EVAL_CLASSES:
        xb, yb = [v == lab for v in x], [v == lab for v in y]
        if len(set(xb) | set(yb)) < 2:
            out[f"kappa_{lab}"] = out[f"alpha_{lab}"] = float("nan")
            continue
        out[f"kappa_{lab}"] = float(cohen_kappa_score(xb, yb))
        out[f"alpha_{lab}"] = _alpha([xb, yb])
    return out


def agreement(records: list[dict], model_outcomes: pd.Series | None = None) -> dict:
    """Agreement for every pair of annotators that labelled the same sentences, overall alpha
    across all annotators on sentences labelled by two or more, and (when ``model_outcomes`` is
    given, indexed like the wide table) the model against each annotator."""
    wide = outcomes_table(records)
    annotators = [c for c in wide.columns if c != "text"]
    pairs = {}
    for a, b in combinations(annotators, 2):
        res = pair_agreement(wide[a], wide[b])
        if res:
            pairs[f"{a} ~ {b}"] = res
    multi = wide[annotators].notna().sum(axis=1) >= 2
    overall = {"items_with_2plus": int(multi.sum())}
    if multi.any():
        sub = wide.loc[multi, annotators]
        overall["alpha"] = _alpha([[v if isinstance(v, str) else None for v in sub[c]] for c in annotators])
        for lab in EVAL_CLASSES:
            overall[f"alpha_{lab}"] = _alpha([[(v == lab) if isinstance(v, str) else None for v in sub[c]]
                                              for c in annotators])
    model = {}
    if model_outcomes is not None:
        for a in annotators:
            res = pair_agreement(wide[a], model_outcomes.reindex(wide.index))
            if res:
                model[f"{MODEL} ~ {a}"] = res
    return {"annotators": annotators, "pairs": pairs, "overall": overall, "model": model,
            "items": int(len(wide))}


def format_agreement(res: dict) -> str:
    lines = [f"{res['items']} sentences, annotators: {', '.join(res['annotators'])}"]
    head = f"{'pair':<58}{'n':>6}{'obs':>7}{'kappa':>7}{'alpha':>7}  " + " ".join(
        f"{'k_' + c[:4]:>7}{'a_' + c[:4]:>7}" for c in EVAL_CLASSES)
    for title, block in (("between annotators", res["pairs"]), ("model vs annotators", res["model"])):
        if not block:
            continue
        lines += ["", title + ":", head]
        for name, m in block.items():
            lines.append(f"{name[:57]:<58}{m['n']:>6}{m['observed']:>7.3f}{m['kappa']:>7.3f}{m['alpha']:>7.3f}  "
                         + " ".join(f"{m[f'kappa_{c}']:>7.3f}{m[f'alpha_{c}']:>7.3f}" for c in EVAL_CLASSES))
    o = res["overall"]
    if o.get("items_with_2plus"):
        lines += ["", f"Krippendorff's alpha over all annotators ({o['items_with_2plus']} sentences with 2+ labels): "
                  f"{o['alpha']:.3f}; per class: " + ", ".join(f"{c} {o[f'alpha_{c}']:.3f}" for c in EVAL_CLASSES)]
    return "\n".join(lines)
