"""Turn annotation drafts (sentence texts and labels in document order) into annotation records
with exact character offsets into the extracted text of each brief.

    python scripts/import_drafts.py DRAFTS_DIR --annotator-prefix agent --out annotations/starter

A draft is ``<DRAFTS_DIR>/<region>/<name>.jsonl`` for the brief ``corpora/<region>/<name>.*``; each
line holds text, stance_bearing, label, actors (+ optional hard_case, note). Texts are located in
order; whitespace, bullet markers and page-break gaps may differ. Records that cannot be located
are reported (file and line) and not written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.ingest import read_brief  # noqa: E402
from pipeline.labels import GUIDELINE_VERSION  # noqa: E402
from pipeline.paths import corpora_dir  # noqa: E402
from pipeline.train.evaluate import find_doc  # noqa: E402

GAP = r"(?:\s+(?:(?:[Pp]age\s+)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s+)?)"


def _pattern(text: str) -> re.Pattern:
    words = text.split()
    return re.compile(GAP.join(re.escape(w) for w in words))


def locate(doc: str, text: str, pos: int) -> tuple[int, int] | None:
    i = doc.find(text, pos)
    if i >= 0:
        return i, i + len(text)
    m = _pattern(text).search(doc, pos)
    if m:
        return m.start(), m.end()
    # last resort: anywhere in the document (drafts occasionally reorder a heading)
    m = _pattern(text).search(doc)
    return (m.start(), m.end()) if m else None


def import_draft(draft: Path, doc_path: Path, doc_id: str, annotator: str, created_at: str):
    brief = read_brief(doc_path, doc_id)
    text = brief.text
    records, problems = [], []
    pos = 0
    for lineno, line in enumerate(draft.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{draft}:{lineno}: bad JSON: {e}")
            continue
        span = locate(text, d["text"], pos)
        if span is None:
            problems.append(f"{draft}:{lineno}: text not found in {doc_path}: {d['text'][:80]!r}")
            continue
        s, e = span
        pos = max(pos, e)
        label = d.get("label") if d.get("stance_bearing") else None
        rec = {
            "doc_id": doc_id, "start_char": s, "end_char": e, "text": text[s:e],
            "stance_bearing": bool(d.get("stance_bearing")), "label": label,
            "actors": list(d.get("actors") or []), "annotator": annotator, "source": "human",
            "created_at": created_at, "guideline_version": GUIDELINE_VERSION,
        }
        if d.get("hard_case"):
            rec["hard_case"] = d["hard_case"]
        if d.get("note"):
            rec["note"] = d["note"]
        records.append(rec)
    return records, problems


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("drafts", type=Path)
    ap.add_argument("--corpora", type=Path, default=corpora_dir())
    ap.add_argument("--out", type=Path, required=True, help="folder for <region>.jsonl files")
    ap.add_argument("--annotator-prefix", default="agent")
    ap.add_argument("--annotator", default=None, help="one annotator id for every record (else prefix:region)")
    args = ap.parse_args(argv)
    created_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    args.out.mkdir(parents=True, exist_ok=True)
    all_problems = []
    total = 0
    for region_dir in sorted(p for p in args.drafts.iterdir() if p.is_dir()):
        region = region_dir.name
        annotator = args.annotator or f"{args.annotator_prefix}:{region}"
        out_records = []
        for draft in sorted(region_dir.glob("*.jsonl")):
            doc_id = f"{region}/{draft.stem}"
            doc_path = find_doc(args.corpora, doc_id)
            if doc_path is None:
                all_problems.append(f"{draft}: no brief {doc_id}.* under {args.corpora}")
                continue
            recs, probs = import_draft(draft, doc_path, doc_id, annotator, created_at)
            out_records.extend(recs)
            all_problems.extend(probs)
        if out_records:
            target = args.out / f"{region}.jsonl"
            # keep the creation time of records that did not change, so re-imports do not churn
            if target.exists():
                old = {}
                for line in target.read_text(encoding="utf-8").splitlines():
                    o = json.loads(line)
                    old[(o["doc_id"], o["start_char"], o["end_char"], o["label"], o["text"])] = o["created_at"]
                for r in out_records:
                    r["created_at"] = old.get((r["doc_id"], r["start_char"], r["end_char"], r["label"], r["text"]),
                                              r["created_at"])
            with open(target, "w", encoding="utf-8") as fh:
                for r in out_records:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")
            total += len(out_records)
            print(f"{target}: {len(out_records)} records")
    for p in all_problems:
        print("PROBLEM", p, file=sys.stderr)
    print(f"{total} records written, {len(all_problems)} problems")
    return 1 if all_problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
