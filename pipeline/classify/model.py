"""The stance classifier: two scikit-learn Pipelines (stance-bearing detector and three-way label
model) over the same feature design, saved with skops next to a card.

Input of both pipelines: a DataFrame with the columns ``masked`` and ``cues`` made by
``pipeline.extract.features`` (or by ``features_from_text`` for a bare sentence).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import Pipeline

from ..errors import ModelError
from ..labels import LABELS

FEATURE_COLUMNS = ("masked", "cues")
MODEL_FILES = {"stance": "stance.skops", "label": "label.skops"}
CARD_FILE = "card.json"


def build_pipeline(C: float = 1.0, calibrate_folds: int | None = 5, class_weight="balanced") -> Pipeline:
    """Features (word and character n-grams of the masked sentence, spaCy cue features) and a
    logistic regression, calibrated by sigmoid on grouped folds when ``calibrate_folds`` is set."""
    features = ColumnTransformer(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=60000), "masked"),
            (
                "char",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True, max_features=60000),
                "masked",
            ),
            ("cue", CountVectorizer(token_pattern=r"\S+", lowercase=False, binary=True, min_df=2), "cues"),
        ],
        sparse_threshold=1.0,
    )
    clf = LogisticRegression(C=C, class_weight=class_weight, max_iter=3000)
    if calibrate_folds:
        clf = CalibratedClassifierCV(clf, method="sigmoid", cv=GroupKFold(calibrate_folds), ensemble=False)
    return Pipeline([("features", features), ("clf", clf)])


def fit_pipeline(pipe: Pipeline, X: pd.DataFrame, y, groups) -> Pipeline:
    """Fit; the calibration folds are grouped by document (``groups``), so calibration is
    learned on predictions for documents the classifier did not see."""
    clf = pipe.named_steps["clf"]
    if isinstance(clf, CalibratedClassifierCV) and groups is not None:
        splitter = clf.cv
        clf.set_params(cv=list(splitter.split(X, y, groups)))
        try:
            pipe.fit(X, y)
        finally:
            clf.set_params(cv=splitter)  # keep the splitter, not the index arrays, in the saved model
    else:
        pipe.fit(X, y)
    return pipe


def _base_lr(pipe: Pipeline) -> LogisticRegression:
    clf = pipe.named_steps["clf"]
    if isinstance(clf, CalibratedClassifierCV):
        return clf.calibrated_classifiers_[0].estimator
    return clf


def evidence(pipe: Pipeline, X: pd.DataFrame, target_idx: np.ndarray, k: int = 4) -> list[list[str]]:
    """The ``k`` features that pushed each row most toward its target class (contribution
    = feature value x weight of that class, relative to the mean over classes)."""
    feats = pipe.named_steps["features"]
    lr = _base_lr(pipe)
    Z = feats.transform(X).tocsr()
    names = _feature_names(pipe)
    coef = lr.coef_
    if coef.shape[0] == 1:  # binary: class 1 has +coef, class 0 has -coef
        rel = np.vstack([-coef[0], coef[0]])
    else:
        rel = coef - coef.mean(axis=0, keepdims=True)
    out = []
    for i in range(Z.shape[0]):
        row = Z.getrow(i)
        if row.nnz == 0:
            out.append([])
            continue
        contrib = row.data * rel[target_idx[i], row.indices]
        order = np.argsort(-contrib)[:k]
        out.append([names[row.indices[j]] for j in order if contrib[j] > 0])
    return out


def _feature_names(pipe: Pipeline) -> np.ndarray:
    cached = getattr(pipe, "_briefs_names", None)
    if cached is None:
        raw = pipe.named_steps["features"].get_feature_names_out()
        cached = np.array([_pretty(n) for n in raw], dtype=object)
        pipe._briefs_names = cached
    return cached


def _pretty(name: str) -> str:
    block, _, feat = name.partition("__")
    if block == "word":
        return f'word "{feat}"'
    if block == "char":
        return f'chars "{feat.strip()}"'
    return f"cue {feat}"


# ---------------------------------------------------------------- the model object

@dataclass
class StanceModel:
    stance: Pipeline
    label: Pipeline
    threshold: float = 0.5
    card: dict = field(default_factory=dict)
    path: Path | None = None

    @property
    def version(self) -> str:
        return self.card.get("version", "unsaved")

    def predict(self, rows: pd.DataFrame, with_evidence: bool = True) -> pd.DataFrame:
        """Predictions for sentence feature rows (columns ``masked``, ``cues``, ``eligible``).

        Returns columns: stance_bearing, p_stance, label, confidence, p_<label> for each label,
        evidence. Sentences whose layout kind cannot bear stance (headings, boilerplate) are never
        stance-bearing; label and probabilities are null where a sentence bears no stance.
        """
        n = len(rows)
        out = pd.DataFrame(index=rows.index)
        eligible = rows["eligible"].to_numpy(bool) if "eligible" in rows else np.ones(n, bool)
        p_stance = np.zeros(n)
        probs = np.full((n, len(LABELS)), np.nan)
        ev: list = [[] for _ in range(n)]
        idx = np.flatnonzero(eligible)
        if len(idx):
            X = rows.iloc[idx][list(FEATURE_COLUMNS)]
            p_stance[idx] = self.stance.predict_proba(X)[:, list(self.stance.classes_).index(True)]
            P = self.label.predict_proba(X)
            order = [list(self.label.classes_).index(lab) for lab in LABELS]
            probs[idx] = P[:, order]
        bearing = eligible & (p_stance >= self.threshold)
        probs[~bearing] = np.nan
        label_idx = np.where(bearing, np.nan_to_num(probs, nan=-1).argmax(axis=1), -1)
        out["stance_bearing"] = bearing
        out["p_stance"] = np.where(eligible, p_stance, 0.0)
        out["label"] = [LABELS[i] if i >= 0 else None for i in label_idx]
        out["confidence"] = np.where(bearing, np.nan_to_num(probs, nan=0).max(axis=1), np.nan)
        for j, lab in enumerate(LABELS):
            out[f"p_{lab}"] = probs[:, j]
        if with_evidence:
            b = np.flatnonzero(bearing)
            if len(b):
                X = rows.iloc[b][list(FEATURE_COLUMNS)]
                cls = list(self.label.classes_)
                target = np.array([cls.index(LABELS[label_idx[i]]) for i in b])
                for i, e in zip(b, evidence(self.label, X, target)):
                    ev[i] = e
        out["evidence"] = ev
        return out


# ---------------------------------------------------------------- saving and loading

def save_model(model: StanceModel, directory: Path) -> Path:
    """Write ``stance.skops``, ``label.skops`` and ``card.json`` (and a readable card) atomically."""
    import skops.io as sio

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for attr, fname in MODEL_FILES.items():
            pipe = getattr(model, attr)
            pipe.__dict__.pop("_briefs_names", None)
            # vocabularies live in skops' JSON schema: deflate it (about 20x smaller on disk)
            sio.dump(pipe, tmp / fname, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        card = dict(model.card)
        card["threshold"] = model.threshold
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=False, default=str) + "\n")
        (tmp / "README.md").write_text(render_card(card))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    model.path = directory
    return directory


# Types a model file may contain beyond skops' defaults. Anything else is refused.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "collections.")


def load_model(directory: str | Path) -> StanceModel:
    import skops.io as sio

    directory = Path(directory)
    if not directory.exists():
        raise ModelError("model directory does not exist (train one with `briefs train`, or pass --model)", directory)
    card_path = directory / CARD_FILE
    if not card_path.exists():
        raise ModelError("no card.json in the model directory: not a model saved by `briefs train`", directory)
    try:
        card = json.loads(card_path.read_text())
    except json.JSONDecodeError as e:
        raise ModelError(f"card.json is not valid JSON: {e}", card_path)
    pipes = {}
    for attr, fname in MODEL_FILES.items():
        f = directory / fname
        if not f.exists():
            raise ModelError(f"missing {fname}", directory)
        try:
            untrusted = sio.get_untrusted_types(file=f)
        except Exception as e:
            raise ModelError(f"cannot read {fname} (corrupt or not a skops file): {e}", f)
        bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if bad:
            raise ModelError(f"{fname} contains types outside the trusted list, refusing to load: {bad}", f)
        pipes[attr] = sio.load(f, trusted=untrusted)
    return StanceModel(
        stance=pipes["stance"],
        label=pipes["label"],
        threshold=float(card.get("threshold", 0.5)),
        card=card,
        path=directory.resolve(),
    )


def render_card(card: dict) -> str:
    """A readable Markdown model card from the card's fields."""
    lines = [f"# Model card: {card.get('version', '?')}", ""]
    if card.get("placeholder"):
        lines += [f"**PLACEHOLDER MODEL**: {card['placeholder']}", ""]
    lines += [
        f"- Created: {card.get('created_at')}",
        f"- Labels: {', '.join(card.get('labels', []))}",
        f"- Training data: {card.get('data', {}).get('n_records')} records from "
        f"{card.get('data', {}).get('n_documents')} documents, sha256 {card.get('data', {}).get('sha256', '')[:16]}…",
        f"- Stance-bearing threshold: {card.get('threshold')}",
        f"- Hyper-parameters: {json.dumps(card.get('hyperparameters', {}))}",
        f"- Libraries: {json.dumps(card.get('libraries', {}))}",
        "",
        "## Metrics",
        "",
    ]
    for name, metrics in (card.get("metrics") or {}).items():
        if not isinstance(metrics, dict):
            continue
        lines.append(f"### {name}")
        if metrics.get("command"):
            lines.append(f"Command: `{metrics['command']}`")
        lines.append("")
        lines.append("| metric | value |")
        lines.append("|---|---|")
        for k, v in metrics.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                lines.append(f"| {k} | {v:.3f} |" if isinstance(v, float) else f"| {k} | {v} |")
        lines.append("")
    if card.get("notes"):
        lines += ["## Notes", "", card["notes"], ""]
    return "\n".join(lines)


def library_versions() -> dict:
    import sklearn
    import skops
    import spacy

    return {
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "spacy": spacy.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }


def new_version(data_hash: str) -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S") + "-" + data_hash[:8]
