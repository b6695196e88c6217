"""Join a second annotation pass (labels by line number ``i``) to the spans it was given.

    python scripts/import_second_pass.py PASS_DIR --annotator agent:second-pass --out annotations/second-pass.jsonl

PASS_DIR holds input/<name>.jsonl (i, doc_id, start_char, end_char, text) and output/<name>.jsonl
(i, text, stance_bearing, label, actors, note). A line whose text differs from its input is an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from pipeline.labels import GUIDELINE_VERSION  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("pass_dir", type=Path)
    ap.add_argument("--annotator", required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    created = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    out, problems = [], []
    for inp in sorted((args.pass_dir / "input").glob("*.jsonl")):
        outp = args.pass_dir / "output" / inp.name
        if not outp.exists():
            problems.append(f"{outp}: missing")
            continue
        given = [json.loads(x) for x in inp.read_text().splitlines() if x.strip()]
        got = {r["i"]: r for r in (json.loads(x) for x in outp.read_text().splitlines() if x.strip())}
        for g in given:
            r = got.get(g["i"])
            if r is None or r["text"] != g["text"]:
                problems.append(f"{outp}: line i={g['i']} missing or text differs")
                continue
            rec = {"doc_id": g["doc_id"], "start_char": g["start_char"], "end_char": g["end_char"], "text": g["text"],
                   "stance_bearing": bool(r["stance_bearing"]), "label": r["label"] if r["stance_bearing"] else None,
                   "actors": r.get("actors") or [], "annotator": args.annotator, "source": "human",
                   "created_at": created, "guideline_version": GUIDELINE_VERSION}
            if r.get("note"):
                rec["note"] = r["note"]
            out.append(rec)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out))
    for p in problems:
        print("PROBLEM", p, file=sys.stderr)
    print(f"{len(out)} records -> {args.out}; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
