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


# ---------------------------------------------------------------- direction gold (event data)

DIRECTIONS = ("cooperation", "conflict")


def load_direction_gold(path: str | Path) -> pd.DataFrame:
    """Sentences with only a direction, cooperation or conflict: event data such as PLOVER's gold
    records, whose ``quad_class`` ("verbal cooperation", "material conflict", ...) gives it, or any
    JSONL with ``text`` and ``direction``. Returns id, text, direction. A bad line raises
    ``UsageError`` naming the file and line."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no direction gold file at {path}")
    rows, seen = [], set()
    for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            text = r["text"]
            raw = r.get("direction") or r["quad_class"]
            direction = next(d for d in DIRECTIONS if d in str(raw).lower())
        except (json.JSONDecodeError, KeyError, TypeError, StopIteration) as e:
            raise UsageError(f"{p}:{lineno}: not a direction record (needs text and direction or quad_class; {e!r})")
        rid = str(r.get("id", f"line{lineno}"))
        if rid in seen or not str(text).strip():
            continue  # the same record twice, or no text: nothing to score
        seen.add(rid)
        rows.append({"id": rid, "text": str(text), "direction": direction})
    if not rows:
        raise UsageError(f"{p}: no direction records")
    return pd.DataFrame(rows)


def evaluate_direction(path: str | Path, analyzer) -> dict:
    """How often the model's label points the same way as event-coded gold. Each record is analysed
    as a short document; its label is that of its most confident stance-bearing sentence (friction
    counts as conflict). Records the model calls hedging or not stance-bearing are counted apart:
    the direction figures cover only records it called cooperation or friction (event data has no
    hedging, and much of it is domestic)."""
    from ..ingest import brief_from_text

    gold = load_direction_gold(path)
    res = analyzer.analyse([brief_from_text(t, i) for i, t in zip(gold["id"], gold["text"])])
    s = res["sentences"]
    s = s[s["stance_bearing"]].sort_values("confidence", ascending=False).drop_duplicates("doc_id")
    pred = dict(zip(s["doc_id"], s["label"]))
    gold["pred"] = [pred.get(i) or NONE for i in gold["id"]]
    return score_direction(gold)


def score_direction(gold: pd.DataFrame) -> dict:
    """Direction figures from a table with ``direction`` (gold) and ``pred`` (a label or none)."""
    from sklearn.metrics import f1_score

    decided = gold[gold["pred"].isin(["cooperation", "friction"])]
    g = (decided["direction"] == "cooperation").to_numpy()
    p = (decided["pred"] == "cooperation").to_numpy()
    out = {"n": int(len(gold)), "decided": int(len(decided)),
           "hedging": int((gold["pred"] == "hedging").sum()), "none": int((gold["pred"] == NONE).sum()),
           "confusion": {d: {lab: int(((gold["direction"] == d) & (gold["pred"] == lab)).sum())
                             for lab in ("cooperation", "friction", "hedging", NONE)} for d in DIRECTIONS}}
    if len(decided):
        f = f1_score(g, p, labels=[True, False], average=None, zero_division=0)
        out.update({"accuracy": float((g == p).mean()), "cooperation_f1": float(f[0]),
                    "conflict_f1": float(f[1]), "macro_f1": float(f.mean())})
    return out


def format_direction(m: dict, title: str) -> str:
    lines = [title]
    if "accuracy" in m:
        lines.append(f"direction on the {m['decided']} of {m['n']} records called cooperation or friction: accuracy "
                     f"{m['accuracy']:.3f}, F1 cooperation {m['cooperation_f1']:.3f}, conflict {m['conflict_f1']:.3f}, "
                     f"macro {m['macro_f1']:.3f}")
    lines.append(f"called hedging: {m['hedging']}, not stance-bearing: {m['none']}")
    lines.append(f"{'gold':<12}{'coop':>7}{'fric':>7}{'hedg':>7}{'none':>7}")
    for d, row in m["confusion"].items():
        lines.append(f"{d:<12}" + "".join(f"{row[k]:>7}" for k in ("cooperation", "friction", "hedging", NONE)))
    return "\n".join(lines)
