"""The review loop: run outputs -> doccano suggestions -> reviewers -> annotation records.

Project model: a doccano document-classification project, single label, *collaborative*, so the
model's suggestion (set by the service account that pushes) is what every reviewer sees. A
reviewer accepts a suggestion by confirming the example (doccano's checkmark), corrects it by
choosing another label and confirming, and marks a sentence not stance-bearing by removing the
label and confirming. Only confirmed examples become annotations.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ReviewError, UsageError
from ..export import read_table
from ..labels import GUIDELINE_SUMMARY
from .convert import now, select_for_review, sentence_key, to_annotation, to_example


@dataclass
class PushResult:
    project_id: int
    project_created: bool
    selected: int
    added: int
    skipped_existing: int
    sampled_none: int
    model_version: str


def push(run_dir: str | Path, project: str, client, *, limit: int | None = None, order: str = "uncertainty",
         sample_none: int = 0, seed: int = 0, guideline: str = GUIDELINE_SUMMARY) -> PushResult:
    """Upload a run's stance-bearing sentences as suggestions, most uncertain first; idempotent."""
    run_dir = Path(run_dir)
    try:
        sentences = read_table(run_dir, "sentences")
        run = json.loads((run_dir / "run.json").read_text())
    except FileNotFoundError as e:
        raise UsageError(f"not a run directory (no sentences table or run.json): {e}", run_dir)
    model_version = run.get("model", {}).get("id") or "unknown"
    selected = select_for_review(sentences, order=order, limit=limit, sample_none=sample_none, seed=seed)
    proj, labels, created = client.ensure_project(project, guideline)
    existing = {(ex.get("meta") or {}).get("key") for ex in client.examples(proj["id"])}
    added = skipped = sampled = 0
    for row in selected.to_dict("records"):
        ex = to_example(row, model_version)
        if ex["meta"]["key"] in existing:
            skipped += 1
            continue
        created_ex = client.create_example(proj["id"], ex["text"], ex["meta"], score=ex["meta"]["uncertainty"])
        if row.get("suggestion") in labels:
            client.set_category(proj["id"], created_ex["id"], labels[row["suggestion"]])
        else:
            sampled += 1
        existing.add(ex["meta"]["key"])
        added += 1
    return PushResult(proj["id"], created, len(selected), added, skipped, sampled, model_version)


@dataclass
class PullResult:
    path: Path | None
    confirmed: int
    new: int
    changed: int
    unchanged: int
    accepted: int
    corrected: int
    not_stance: int
    kept_human: int
    reviewers: dict = field(default_factory=dict)
    agreement: dict | None = None

    @property
    def acceptance_rate(self) -> float | None:
        n = self.accepted + self.corrected
        return self.accepted / n if n else None


def pull(project: str, client, to_dir: str | Path) -> PullResult:
    """Confirmed examples -> annotation records appended to a new file under ``to_dir``.

    Records already pulled (same sentence key, reviewer and label) are not written again; a
    sentence whose label changed since an earlier pull gets a new record (counted as changed).
    A sentence that already has a ``human`` label on disk is never overridden: it is reported.
    """
    from ..train.dataset import read_records

    to_dir = Path(to_dir)
    proj = client.find_project(project)
    if proj is None:
        raise ReviewError(f"no doccano project named {project!r}")
    _, labels, _ = client.ensure_project(project, "")
    label_of = {v: k for k, v in labels.items()}
    users = client.users()
    service_id = client.me.get("id")
    on_disk, _, _, _ = read_records([to_dir]) if to_dir.exists() else ([], [], [], 0)
    latest: dict[str, dict] = {}
    human_keys = set()
    for r in on_disk:
        key = (r.get("meta") or {}).get("key") or sentence_key(r["doc_id"], r["start_char"], r["end_char"], r["text"])
        if r["source"] == "human":
            human_keys.add(key)
        elif key not in latest or str(r["created_at"]) >= str(latest[key]["created_at"]):
            latest[key] = r
    records, counts = [], Counter()
    reviewers: Counter = Counter()
    for ex in client.examples(proj["id"], confirmed=True):
        meta = ex.get("meta") or {}
        if "key" not in meta:
            continue  # not one of ours
        counts["confirmed"] += 1
        cats = client.categories(proj["id"], ex["id"])
        states = client.states(proj["id"], ex["id"])
        label = label_of.get(cats[-1]["label"]) if cats else None
        labeller = cats[-1].get("user") if cats else None
        confirmers = [s for s in states if s.get("confirmed_by")]
        if labeller and labeller != service_id:
            reviewer_id = labeller
        else:
            reviewer_id = confirmers[-1]["confirmed_by"] if confirmers else labeller
        reviewer = users.get(reviewer_id, f"user-{reviewer_id}")
        when = max((s.get("confirmed_at") or "" for s in confirmers), default="") or now()
        key = meta["key"]
        if key in human_keys:
            counts["kept_human"] += 1
            continue
        rec = to_annotation(meta, ex["text"], label, reviewer, when)
        prev = latest.get(key)
        if prev is not None and prev["label"] == rec["label"] and prev["annotator"] == reviewer:
            counts["unchanged"] += 1
            continue
        counts["changed" if prev is not None else "new"] += 1
        counts["accepted" if rec["source"] == "model-accepted" else "corrected"] += 1
        if label is None:
            counts["not_stance"] += 1
        reviewers[reviewer] += 1
        records.append(rec)
    path = None
    if records:
        to_dir.mkdir(parents=True, exist_ok=True)
        stamp = now().replace(":", "").replace("-", "")
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in project)
        path = to_dir / f"review-{safe}-{stamp}.jsonl"
        n = 1
        while path.exists():
            n += 1
            path = to_dir / f"review-{safe}-{stamp}-{n}.jsonl"
        from ..export import atomic_path

        with atomic_path(path) as tmp:
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    agreement = _reviewer_agreement(on_disk + records)
    return PullResult(path, counts["confirmed"], counts["new"], counts["changed"], counts["unchanged"],
                      counts["accepted"], counts["corrected"], counts["not_stance"], counts["kept_human"],
                      dict(reviewers), agreement)


def _reviewer_agreement(records: list[dict]) -> dict | None:
    """Agreement between reviewers on sentences two or more of them labelled (review records)."""
    from ..train.agreement import agreement

    review = [r for r in records if r.get("source") in ("model-accepted", "model-corrected")]
    by_key: dict = {}
    for r in review:
        by_key.setdefault((r["doc_id"], r["start_char"], r["end_char"]), set()).add(r["annotator"])
    if not any(len(v) > 1 for v in by_key.values()):
        return None
    res = agreement(review)
    return {"pairs": res["pairs"], "overall": res["overall"]}


__all__ = ["push", "pull", "PushResult", "PullResult"]
