"""Turn an adjudication pass (a second look at sentences of one label) into annotation records.

    python scripts/import_adjudication.py ADJ_DIR --annotations annotations/starter \
        --out annotations/adjudication/hedging.jsonl --annotator agent:adjudication

``ADJ_DIR/*.out.jsonl`` hold one verdict per line: id (``doc_id:start-end``), stance_bearing,
label, reason. For every verdict that differs from the record it reviews, a new record is written
with the same span, text and actors, the adjudicated label, the reason as ``note``, and a later
``created_at``; ``briefs train``'s conflict rule (human over accepted, then majority, then most
recent) then uses it, unless an independent second pass agrees with the first label. Verdicts
that keep the label write nothing. Records carry ``meta.adjudication`` so that
``briefs agreement`` leaves them out (a file of changed labels only is not an independent pass). Bad verdicts are reported with file and line, not written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.export import atomic_path  # noqa: E402
from pipeline.labels import GUIDELINE_VERSION, LABELS  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("adjudication", type=Path, help="folder with *.out.jsonl verdicts")
    ap.add_argument("--annotations", type=Path, required=True, help="folder of the reviewed records")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--annotator", required=True)
    args = ap.parse_args(argv)

    reviewed: dict[str, dict] = {}
    for f in sorted(args.annotations.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            reviewed[f"{r['doc_id']}:{r['start_char']}-{r['end_char']}"] = r
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    out, problems, kept, seen = [], [], 0, set()
    for f in sorted(args.adjudication.glob("*.out.jsonl")):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            try:
                v = json.loads(line)
                rid, sb, label = v["id"], v["stance_bearing"], v["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                problems.append(f"{f}:{n}: not a verdict ({e})")
                continue
            if rid not in reviewed:
                problems.append(f"{f}:{n}: unknown id {rid!r}")
                continue
            if rid in seen:
                problems.append(f"{f}:{n}: second verdict for {rid!r}")
                continue
            if not isinstance(sb, bool) or (sb and label not in LABELS) or (not sb and label is not None):
                problems.append(f"{f}:{n}: stance_bearing {sb!r} and label {label!r} do not fit")
                continue
            seen.add(rid)
            old = reviewed[rid]
            if old["stance_bearing"] == sb and old["label"] == label:
                kept += 1
                continue
            rec = {k: old[k] for k in ("doc_id", "start_char", "end_char", "text", "actors")}
            rec.update({"stance_bearing": sb, "label": label, "annotator": args.annotator, "source": "human",
                        "created_at": now, "guideline_version": GUIDELINE_VERSION,
                        "note": f"adjudicated from {old['label'] or 'none'}: {str(v.get('reason', ''))[:200]}",
                        "meta": {"adjudication": True, "reviews": old["annotator"]}})
            out.append(rec)
    with atomic_path(args.out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(seen)} verdicts: {kept} kept the label, {len(out)} changed -> {args.out}; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
