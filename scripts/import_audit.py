"""Turn a blind two-pass audit (see scripts/audit_select.py) into annotation records.

    python scripts/import_audit.py AUDIT_DIR --out annotations/audit/label-noise.jsonl

``AUDIT_DIR`` holds ``key.jsonl`` (written by audit_select.py) and the auditors' verdicts
``out_<batch>_<pass>.jsonl`` (one line per item: id, stance_bearing, label, reason), two
independent passes per batch. Rule: a record's label changes only when **both** passes agree with
each other and disagree with the label training currently uses; then a record with the agreed
label is written (annotator ``agent:audit``, both reasons in ``note``, a later ``created_at``), and
``briefs train``'s conflict rule (majority, then most recent) lets it win unless more of the
earlier annotators agree with the old label. Where the passes disagree, nothing is written. The
model's prediction chose which records were audited; it plays no part in the new label.

Also prints agreement (Cohen's kappa, four outcomes) between the two passes, and between the
audit and the given labels, on flagged and on control items. Bad lines are reported with file and
line and written nowhere.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.metrics import cohen_kappa_score  # noqa: E402

from pipeline.export import atomic_path  # noqa: E402
from pipeline.labels import GUIDELINE_VERSION, LABELS  # noqa: E402
from pipeline.paths import annotations_dir  # noqa: E402
from pipeline.train.dataset import annotation_files, load_annotations  # noqa: E402

OUT_NAME = re.compile(r"out_(\d+)_([A-Za-z0-9]+)\.jsonl$")


def read_verdicts(audit_dir: Path, ids: set[str]) -> tuple[dict[str, dict[str, dict]], list[str]]:
    """pass name -> id -> verdict, and the problems as ``file:line: problem``."""
    passes: dict[str, dict[str, dict]] = defaultdict(dict)
    problems = []
    for f in sorted(audit_dir.glob("out_*.jsonl")):
        m = OUT_NAME.search(f.name)
        if not m:
            continue
        p = m.group(2)
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                v = json.loads(line)
                vid, sb, label = v["id"], v["stance_bearing"], v["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                problems.append(f"{f}:{n}: not a verdict ({e})")
                continue
            if vid not in ids:
                problems.append(f"{f}:{n}: unknown id {vid!r}")
            elif not isinstance(sb, bool) or (sb and label not in LABELS) or (not sb and label is not None):
                problems.append(f"{f}:{n}: stance_bearing {sb!r} and label {label!r} do not fit")
            elif vid in passes[p]:
                problems.append(f"{f}:{n}: second verdict for {vid!r} in pass {p}")
            else:
                passes[p][vid] = v
    return passes, problems


def outcome(v: dict) -> str:
    return v["label"] if v["stance_bearing"] else "none"


def kappa(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return "n=0"
    a, b = zip(*pairs)
    obs = sum(x == y for x, y in pairs) / len(pairs)
    if len(set(a)) < 2 or len(set(b)) < 2:  # kappa says nothing when one side is constant
        return f"n={len(pairs)} agreement {obs:.3f}"
    return f"n={len(pairs)} agreement {obs:.3f} kappa {cohen_kappa_score(a, b):.3f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audit", type=Path, help="folder with key.jsonl and out_<batch>_<pass>.jsonl")
    ap.add_argument("--annotations", type=Path, default=annotations_dir())
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--annotator", default="agent:audit")
    args = ap.parse_args(argv)

    key = {r["id"]: r for r in map(json.loads, (args.audit / "key.jsonl").read_text().splitlines())}
    passes, problems = read_verdicts(args.audit, set(key))
    if len(passes) != 2:
        print(f"expected two passes, found {sorted(passes)}", file=sys.stderr)
        return 2
    pa, pb = (passes[p] for p in sorted(passes))
    missing = [i for i in key if i not in pa or i not in pb]
    # the records training uses now (after earlier conflicts were resolved), minus earlier audit output
    files = [f for f in annotation_files([args.annotations]) if f.resolve() != args.out.resolve()]
    current, _ = load_annotations(files, strict=True)
    by_span = {(r.doc_id, r.start_char, r.end_char): r for r in current.itertuples(index=False)}

    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    out, changes = [], Counter()
    both: dict[str, list] = defaultdict(list)
    for iid, k in key.items():
        if iid in missing:
            continue
        a, b = outcome(pa[iid]), outcome(pb[iid])
        both[k["kind"]].append((a, b))
        both[k["kind"] + "_given"].extend([(k["given"], a), (k["given"], b)])
        rec = by_span.get((k["doc_id"], k["start_char"], k["end_char"]))
        if rec is None:
            problems.append(f"{args.audit / 'key.jsonl'}: {iid}: span no longer in the annotations")
            continue
        old = rec.label if rec.stance_bearing else "none"
        if a != b or a == old:
            continue
        changes[(old, a, k["kind"])] += 1
        note = f"audit: both passes {a} (was {old}): {pa[iid].get('reason', '')} / {pb[iid].get('reason', '')}"
        out.append({
            "doc_id": rec.doc_id, "start_char": int(rec.start_char), "end_char": int(rec.end_char),
            "text": rec.text, "actors": list(rec.actors) if isinstance(rec.actors, (list, tuple)) else [],
            "stance_bearing": a != "none", "label": None if a == "none" else a,
            "annotator": args.annotator, "source": "human", "created_at": now,
            "guideline_version": GUIDELINE_VERSION, "note": note[:400],
            "meta": {"adjudication": True, "audit": k["kind"], "reviews": rec.annotator},
        })
    with atomic_path(args.out) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out), encoding="utf-8")
    for p in problems:
        print(p, file=sys.stderr)
    print(f"{len(key)} items, {len(missing)} without two verdicts, {len(problems)} problems")
    for kind in ("flagged", "control"):
        print(f"{kind:8s} pass A vs pass B: {kappa(both[kind])}")
        print(f"{kind:8s} audit vs given label: {kappa(both[kind + '_given'])}")
    print(f"{len(out)} labels changed -> {args.out}")
    for (old, new, kind), n in sorted(changes.items(), key=lambda x: -x[1]):
        print(f"  {old:>11s} -> {new:11s} {kind:8s} {n}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
