"""Pick annotation records worth a second look, and write them as blind audit batches.

    python scripts/audit_select.py --out AUDIT_DIR [--threshold 0.75] [--controls 160] [--batches 4]
    python scripts/audit_select.py --out AUDIT_DIR --label none --skip OLD_AUDIT/key.jsonl --prefix b

A label-noise audit in the manner of confident learning: every eligible record of
``annotations/`` gets an out-of-fold prediction from the stance pipeline (grouped 5-fold
cross-validation by document, so no record is predicted by a model that saw its brief). Records
whose label the out-of-fold model contradicts with probability >= ``--threshold`` are flagged;
``--controls`` records the model agrees with are mixed in at random, so auditors cannot assume an
item is wrong and the audit's agreement on ordinary records can be measured.

Each batch line holds only ``id``, ``doc_id``, the sentence and its two neighbours: no label, no
model output (the audit is blind). With ``--label L`` no model is used: every eligible record
labelled ``L`` (``none`` for not stance-bearing) is audited, except spans already in a ``--skip``
key, and the controls are drawn from the other labels. ``AUDIT_DIR/key.jsonl`` maps ids to spans and keeps the
given label and the model's, for ``scripts/import_audit.py`` and for reporting. The model chooses
which records are looked at, never which label they get.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.classify.model import FEATURE_COLUMNS, build_pipeline  # noqa: E402
from pipeline.paths import annotations_dir  # noqa: E402
from pipeline.train.dataset import load_annotations, outcome_column  # noqa: E402
from pipeline.train.fit import Featurizer  # noqa: E402


def out_of_fold(rows: pd.DataFrame, folds: int = 5, C: float = 3.0) -> pd.DataFrame:
    """Out-of-fold class probabilities for ``rows`` (grouped by doc_id)."""
    from sklearn.model_selection import GroupKFold

    y = outcome_column(rows).to_numpy()
    P = np.zeros((len(rows), 4))
    classes = None
    for train, test in GroupKFold(folds).split(rows, y, rows["doc_id"]):
        pipe = build_pipeline(C, calibrate_folds=None)
        pipe.fit(rows.iloc[train][list(FEATURE_COLUMNS)], y[train])
        classes = list(pipe.classes_)
        P[test] = pipe.predict_proba(rows.iloc[test][list(FEATURE_COLUMNS)])
    out = pd.DataFrame(P, index=rows.index, columns=[f"p_{c}" for c in classes])
    out["given"] = y
    out["oof"] = np.array(classes)[P.argmax(axis=1)]
    out["p_oof"] = P.max(axis=1)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--annotations", type=Path, default=annotations_dir())
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--threshold", type=float, default=0.75)
    ap.add_argument("--controls", type=int, default=160)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--label", help="audit every eligible record with this outcome instead of model-flagged ones")
    ap.add_argument("--skip", type=Path, nargs="*", default=[], help="key.jsonl of earlier audits: spans left out")
    ap.add_argument("--prefix", default="a", help="item id prefix (distinct per audit round)")
    args = ap.parse_args(argv)

    df, _ = load_annotations([args.annotations], strict=True)
    rows = Featurizer()(df)
    ordered = rows.sort_values(["doc_id", "start_char"])
    prev, nxt = {}, {}
    for _, g in ordered.groupby("doc_id"):
        texts, idx = g["text"].tolist(), g.index.tolist()
        for k, i in enumerate(idx):
            prev[i] = texts[k - 1] if k else ""
            nxt[i] = texts[k + 1] if k + 1 < len(texts) else ""
    elig = rows[rows["eligible"]]
    done = {(r["doc_id"], r["start_char"], r["end_char"]) for k in args.skip
            for r in map(json.loads, k.read_text(encoding="utf-8").splitlines())}
    if done:
        elig = elig[[(d, s, e) not in done for d, s, e in zip(elig["doc_id"], elig["start_char"], elig["end_char"])]]
    if args.label:
        oof = pd.DataFrame({"given": outcome_column(elig), "oof": None, "p_oof": np.nan}, index=elig.index)
        flagged = oof[oof["given"] == args.label]
    else:
        oof = out_of_fold(elig)
        flagged = oof[(oof["oof"] != oof["given"]) & (oof["p_oof"] >= args.threshold)]
    rng = np.random.default_rng(args.seed)
    rest = oof.index[~oof.index.isin(flagged.index)]  # with --label: the other labels
    controls = rng.choice(rest, min(args.controls, len(rest)), replace=False)
    items = pd.concat([flagged.assign(kind="flagged"), oof.loc[controls].assign(kind="control")])
    items = items.join(rows[["doc_id", "start_char", "end_char", "text"]]).sort_values(["doc_id", "start_char"])

    # whole documents per batch (auditors read a brief's items together), balanced by item count
    counts = items["doc_id"].value_counts()
    docs = items["doc_id"].unique().tolist()
    rng.shuffle(docs)  # ties in size are broken at random, not by name
    sizes = [0] * args.batches
    batch_of: dict[str, int] = {}
    for doc in sorted(docs, key=lambda d: -counts[d]):
        k = int(np.argmin(sizes))
        batch_of[doc] = k
        sizes[k] += int(counts[doc])
    args.out.mkdir(parents=True, exist_ok=True)
    key, files = [], [open(args.out / f"batch_{k}.jsonl", "w", encoding="utf-8") for k in range(args.batches)]
    try:
        n = 0
        for k in range(args.batches):
            for i, it in items[items["doc_id"].map(batch_of) == k].iterrows():
                iid = f"{args.prefix}{k}-{n}"
                n += 1
                files[k].write(json.dumps({"id": iid, "doc_id": it["doc_id"], "previous": prev[i],
                                           "sentence": it["text"], "next": nxt[i]}, ensure_ascii=False) + "\n")
                key.append({"id": iid, "doc_id": it["doc_id"], "start_char": int(it["start_char"]),
                            "end_char": int(it["end_char"]), "given": it["given"], "oof": it["oof"],
                            "p_oof": None if pd.isna(it["p_oof"]) else round(float(it["p_oof"]), 4),
                            "kind": it["kind"]})
    finally:
        for f in files:
            f.close()
    (args.out / "key.jsonl").write_text("".join(json.dumps(r) + "\n" for r in key), encoding="utf-8")
    if args.label:
        print(f"{len(oof)} eligible records not audited before; {len(flagged)} labelled {args.label}, "
              f"{len(controls)} controls; batches {sizes} -> {args.out}")
    else:
        agree = float((oof["oof"] == oof["given"]).mean())
        print(f"{len(oof)} eligible records, out-of-fold agreement {agree:.3f}; {len(flagged)} flagged at "
              f"p >= {args.threshold}, {len(controls)} controls; batches {sizes} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
