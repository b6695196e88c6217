"""End-to-end evaluation against gold sentences with their own segmentation.

The system segments and labels the gold documents itself; each gold sentence is matched to the
predicted sentence that overlaps it most, and a predicted sentence that is not stance-bearing
counts as "none". This scores segmentation, stance-bearing detection and labels together.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..errors import UsageError
from ..ingest import SUPPORTED_SUFFIXES, read_brief
from ..labels import NONE
from .metrics import match_by_overlap, score


def load_gold(path: str | Path) -> pd.DataFrame:
    """Gold sentences from a .jsonl file or a folder of them (a folder with ``gold/`` inside, as the
    dev set has, works too). Accepts our annotation schema (start_char/end_char) and the dev set's
    (start/end). Returns doc_id, start_char, end_char, text, gold."""
    p = Path(path)
    if p.is_dir() and (p / "gold").is_dir():
        p = p / "gold"
    files = sorted(p.rglob("*.jsonl")) if p.is_dir() else [p]
    if not files or not all(f.exists() for f in files):
        raise UsageError(f"no gold .jsonl files at {path}")
    rows = []
    for f in files:
        for lineno, line in enumerate(f.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                start = r["start_char"] if "start_char" in r else r["start"]
                end = r["end_char"] if "end_char" in r else r["end"]
                gold = r["label"] if r["stance_bearing"] else NONE
                rows.append({"doc_id": r["doc_id"], "start_char": int(start), "end_char": int(end),
                             "text": r.get("text", ""), "gold": gold or NONE})
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise UsageError(f"{f}:{lineno}: not a gold sentence record ({e})")
    return pd.DataFrame(rows)


def default_docs_dir(gold_path: str | Path) -> Path:
    p = Path(gold_path)
    base = p if p.is_dir() else p.parent
    for cand in (base / "docs", base.parent / "docs"):
        if cand.is_dir():
            return cand
    from ..paths import corpora_dir

    return corpora_dir()


def find_doc(docs_dir: Path, doc_id: str) -> Path | None:
    for suffix in SUPPORTED_SUFFIXES:
        f = docs_dir / f"{doc_id}{suffix}"
        if f.exists():
            return f
    return None


def evaluate_gold(gold_path: str | Path, analyzer, docs_dir: str | Path | None = None,
                  predictor=None) -> dict:
    """Score ``analyzer`` (an ``run.Analyzer``) on gold sentences; returns metrics, the joined
    table (gold and predicted per gold sentence) and the documents that could not be found.

    ``predictor`` optionally replaces the analyzer's classifier on the sentence table (used for the
    keyword baseline): a function DataFrame -> list of predicted outcomes.
    """
    gold = load_gold(gold_path)
    docs_dir = Path(docs_dir) if docs_dir else default_docs_dir(gold_path)
    briefs, missing = [], []
    for doc_id in sorted(gold["doc_id"].unique()):
        f = find_doc(docs_dir, doc_id)
        if f is None:
            missing.append(doc_id)
            continue
        briefs.append(read_brief(f, doc_id))
    if not briefs:
        raise UsageError(f"none of the gold documents were found under {docs_dir} (use --docs)")
    res = analyzer.analyse(briefs)
    pred = res["sentences"].reset_index(drop=True)
    if predictor is not None:
        pred["pred"] = predictor(pred)
    else:
        pred["pred"] = pred["label"].where(pred["stance_bearing"], NONE).fillna(NONE)
    gold = gold[~gold["doc_id"].isin(missing)].reset_index(drop=True)
    matched = match_by_overlap(gold, pred)
    has = matched["pred_index"] >= 0
    matched["pred"] = NONE
    matched.loc[has, "pred"] = pred.loc[matched.loc[has, "pred_index"], "pred"].to_numpy()
    for col in ("confidence", "evidence", "p_stance"):
        matched[col] = None
        matched.loc[has, col] = pd.Series(pred.loc[matched.loc[has, "pred_index"], col].to_numpy(),
                                          index=matched.index[has])
    matched["pred_text"] = ""
    matched.loc[has, "pred_text"] = pred.loc[matched.loc[has, "pred_index"], "text"].to_numpy()
    metrics = score(matched["gold"].tolist(), matched["pred"].tolist())
    metrics["documents"] = len(briefs)
    metrics["unmatched_gold"] = int((~has).sum())
    return {"metrics": metrics, "joined": matched, "missing_docs": missing}


def write_errors(joined: pd.DataFrame, path: str | Path) -> int:
    """Misclassified gold sentences with the prediction and its evidence, as JSONL."""
    wrong = joined[joined["gold"] != joined["pred"]]
    with open(path, "w", encoding="utf-8") as fh:
        for r in wrong.itertuples(index=False):
            fh.write(json.dumps({
                "doc_id": r.doc_id, "start_char": r.start_char, "end_char": r.end_char, "text": r.text,
                "gold": r.gold, "pred": r.pred,
                "confidence": None if pd.isna(r.confidence) else float(r.confidence),
                "p_stance": None if r.p_stance is None or pd.isna(r.p_stance) else float(r.p_stance),
                "evidence": list(r.evidence) if isinstance(r.evidence, (list, tuple)) else [],
                "pred_text": r.pred_text,
            }, ensure_ascii=False) + "\n")
    return len(wrong)
