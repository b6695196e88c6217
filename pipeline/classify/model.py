"""The stance classifier: one scikit-learn Pipeline (features + calibrated logistic regression)
over four outcomes, ``none`` (not stance-bearing) and the three labels, saved with skops next to a
card. P(stance-bearing) = 1 - P(none); the label probabilities are the other three renormalised.
A single model scored as well as a detector + label cascade in grouped cross-validation, with one
vocabulary to compute and load instead of two.

Input: a DataFrame with the columns ``masked`` and ``cues`` made by ``pipeline.extract.features``.
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
from ..labels import LABELS, NONE

FEATURE_COLUMNS = ("masked", "cues", "clean")
MODEL_FILE = "model.skops"
ENCODER_FILE = "encoder.skops"  # optional: the fine-tuned encoder (encoder.py), loaded unless fast
ENCODER_NOTICE = "NOTICE-encoder"
CARD_FILE = "card.json"
CLASSES = (*LABELS, NONE)


def build_pipeline(C: float = 1.0, calibrate_folds: int | None = 5, class_weight="balanced",
                   static: bool = True) -> Pipeline:
    """Features (word and character n-grams of the masked sentence, spaCy cue features and, with
    ``static``, the sentence's distilled MiniLM vector from ``static.StaticEmbedding``) and a
    logistic regression, calibrated by sigmoid on grouped folds when ``calibrate_folds`` is set."""
    from .static import StaticEmbedding

    extra = [("static", StaticEmbedding(), "clean")] if static else []
    features = ColumnTransformer(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=60000), "masked"),
            (
                "char",
                TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=3, sublinear_tf=True, max_features=60000),
                "masked",
            ),
            ("cue", CountVectorizer(token_pattern=r"\S+", lowercase=False, binary=True, min_df=2), "cues"),
            *extra,
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


def evidence(pipe: Pipeline, Z, target_idx: np.ndarray, k: int = 4) -> list[list[str]]:
    """The ``k`` features that pushed each row of the feature matrix ``Z`` most toward its target
    class (contribution = feature value x weight of that class, relative to the mean over classes)."""
    lr = _base_lr(pipe)
    Z = Z.tocsr()
    names = _feature_names(pipe)
    coef = lr.coef_  # one row per class: the pipeline is multinomial over the four outcomes
    rel = coef - coef.mean(axis=0, keepdims=True)
    rel = np.where(_opaque(pipe)[None, :], 0.0, rel)  # embedding dimensions explain nothing
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


def _opaque(pipe: Pipeline) -> np.ndarray:
    """Mask of the features with no readable name (the static sentence vector's dimensions)."""
    cached = getattr(pipe, "_briefs_opaque", None)
    if cached is None:
        cached = np.array([n is None for n in _feature_names(pipe)], dtype=bool)
        pipe._briefs_opaque = cached
    return cached


def _feature_names(pipe: Pipeline) -> np.ndarray:
    cached = getattr(pipe, "_briefs_names", None)
    if cached is None:
        raw = pipe.named_steps["features"].get_feature_names_out()
        cached = np.array([_pretty(n) for n in raw], dtype=object)
        pipe._briefs_names = cached
    return cached


def _pretty(name: str) -> str | None:
    block, _, feat = name.partition("__")
    if block == "word":
        return f'word "{feat}"'
    if block == "char":
        return f'chars "{feat.strip()}"'
    if block == "static":
        return None
    return f"cue {feat}"


# ---------------------------------------------------------------- the model object

@dataclass
class StanceModel:
    pipeline: Pipeline
    threshold: float = 0.5  # stance-bearing when P(stance) = 1 - P(none) >= threshold
    card: dict = field(default_factory=dict)
    path: Path | None = None
    encoder: object = None  # EncoderClassifier (encoder.py): its probabilities are averaged in
    encoder_weight: float = 0.5
    _features: object = field(default=None, repr=False, compare=False)  # FastFeatures, made on first use

    @property
    def version(self) -> str:
        return self.card.get("version", "unsaved")

    def predict(self, rows: pd.DataFrame, with_evidence: bool = True) -> pd.DataFrame:
        """Predictions for sentence feature rows (columns ``masked``, ``cues``, ``eligible``).

        Returns columns: stance_bearing, p_stance, label, confidence, p_<label> for each label,
        evidence. With an ``encoder``, the probabilities are the weighted mean of the pipeline's and
        the encoder's (both calibrated); the evidence is the pipeline's features, which the encoder
        does not have. Sentences whose layout kind cannot bear stance (headings, boilerplate) are never
        stance-bearing; label and probabilities are null where a sentence bears no stance.
        """
        n = len(rows)
        out = pd.DataFrame(index=rows.index)
        eligible = rows["eligible"].to_numpy(bool) if "eligible" in rows else np.ones(n, bool)
        p_stance = np.zeros(n)
        probs = np.full((n, len(LABELS)), np.nan)
        ev: list = [[] for _ in range(n)]
        idx = np.flatnonzero(eligible)
        Z = None
        classes = list(self.pipeline.classes_)
        if len(idx):
            features = self.pipeline.named_steps["features"]
            X = rows.iloc[idx][list(getattr(features, "feature_names_in_", FEATURE_COLUMNS))]
            if self._features is None:
                from .fast import FastFeatures

                self._features = FastFeatures(features)
            Z = self._features.transform(X)  # once: probabilities and evidence
            P = self.pipeline.named_steps["clf"].predict_proba(Z)
            if self.encoder is not None:
                Pe = self.encoder.predict_proba(rows.iloc[idx][[self.encoder.column]])
                Pe = Pe[:, [list(self.encoder.classes_).index(c) for c in classes]]
                P = (1.0 - self.encoder_weight) * P + self.encoder_weight * Pe
            p_none = P[:, classes.index(NONE)]
            p_stance[idx] = 1.0 - p_none
            lab = P[:, [classes.index(c) for c in LABELS]]
            probs[idx] = lab / np.clip(lab.sum(axis=1, keepdims=True), 1e-12, None)
        bearing = eligible & (p_stance >= self.threshold)
        probs[~bearing] = np.nan
        label_idx = np.where(bearing, np.nan_to_num(probs, nan=-1).argmax(axis=1), -1)
        out["stance_bearing"] = bearing
        out["p_stance"] = p_stance
        out["label"] = [LABELS[i] if i >= 0 else None for i in label_idx]
        out["confidence"] = np.where(bearing, np.nan_to_num(probs, nan=0).max(axis=1), np.nan)
        for j, lab in enumerate(LABELS):
            out[f"p_{lab}"] = probs[:, j]
        if with_evidence and Z is not None:
            pos = {row: j for j, row in enumerate(idx)}
            b = np.flatnonzero(bearing)
            if len(b):
                target = np.array([classes.index(LABELS[label_idx[i]]) for i in b])
                for i, e in zip(b, evidence(self.pipeline, Z[[pos[i] for i in b]], target)):
                    ev[i] = e
        out["evidence"] = ev
        return out


# ---------------------------------------------------------------- saving and loading

def _skops_io():
    """``skops.io``, imported with PyTorch hidden (pipeline.torch_hidden says why)."""
    from .. import torch_hidden

    with torch_hidden():
        import skops.io as sio
    return sio


def save_model(model: StanceModel, directory: Path) -> Path:
    """Write ``model.skops`` and ``card.json`` (and a readable card) atomically."""
    sio = _skops_io()

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        model.pipeline.__dict__.pop("_briefs_names", None)
        model.pipeline.__dict__.pop("_briefs_opaque", None)
        packed = _pack_vocabularies(model.pipeline)
        try:
            sio.dump(model.pipeline, tmp / MODEL_FILE, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
        finally:
            _restore_vocabularies(packed)
        if model.encoder is not None:
            sio.dump(model.encoder, tmp / ENCODER_FILE, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
            # the encoder's weights derive from all-MiniLM-L6-v2 (Apache 2.0): its notice goes along
            shutil.copyfile(Path(__file__).resolve().parent / "data" / "MINILM-NOTICE", tmp / ENCODER_NOTICE)
        card = dict(model.card)
        card["threshold"] = model.threshold
        card["encoder_weight"] = model.encoder_weight if model.encoder is not None else None
        (tmp / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=False, default=str) + "\n")
        (tmp / "README.md").write_text(render_card(card))
        os.chmod(tmp, 0o755)
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    model.path = directory
    return directory


# A fitted vectorizer's ``vocabulary_`` is a dict of ~50k numpy integers, which skops stores as one
# node (and one .npy member) per entry: loading took 4 s. Before saving, each vocabulary becomes a
# single numpy unicode array of its terms in column order (attribute ``_briefs_terms``); loading
# rebuilds the dict from it in milliseconds. Pure data, no new type: the skops audit is unchanged.
VOCAB_ATTR = "_briefs_terms"


def _vectorizers(pipe: Pipeline):
    """The fitted text vectorizers of the pipeline's feature step."""
    for _, tr, _ in getattr(pipe.named_steps.get("features"), "transformers_", []):
        if isinstance(tr, CountVectorizer):
            yield tr


def _pack_vocabularies(pipe: Pipeline) -> list[tuple[CountVectorizer, dict]]:
    packed = []
    for vec in _vectorizers(pipe):
        if not hasattr(vec, "vocabulary_"):
            continue
        vocab = vec.vocabulary_
        terms = [""] * len(vocab)
        for term, j in vocab.items():
            terms[int(j)] = term
        arr = np.array(terms, dtype=np.str_)
        if arr.tolist() != terms:  # numpy drops trailing NULs: never silently change a term
            raise ModelError("a vocabulary term cannot be stored as a numpy string", None)
        setattr(vec, VOCAB_ATTR, arr)
        del vec.vocabulary_
        packed.append((vec, vocab))
    return packed


def _restore_vocabularies(packed: list[tuple[CountVectorizer, dict]]) -> None:
    """Put back the dictionaries ``_pack_vocabularies`` took out (after a dump)."""
    for vec, vocab in packed:
        vec.vocabulary_ = vocab
        vec.__dict__.pop(VOCAB_ATTR, None)


def _vocabularies_from_terms(pipe: Pipeline) -> None:
    """Rebuild ``vocabulary_`` from the saved term arrays (after a load)."""
    for vec in _vectorizers(pipe):
        terms = vec.__dict__.pop(VOCAB_ATTR, None)
        if terms is not None:
            vec.vocabulary_ = dict(zip(terms.tolist(), range(len(terms))))


# Types a model file may hold beyond skops' defaults: these are loaded without further ado; any
# other type is audited (get_untrusted_types) and refused unless it is scikit-learn's, numpy's or
# scipy's own.
TRUSTED_TYPES = [
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.GroupKFold",
    "pipeline.classify.static.StaticEmbedding",
]
ENCODER_TRUSTED = ["pipeline.classify.encoder.EncoderClassifier"]
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "builtins.", "collections.")


def load_model(directory: str | Path, fast: bool = False) -> StanceModel:
    """Load a saved model. ``fast`` leaves out the fine-tuned encoder when the model has one: the
    scikit-learn pipeline alone, about 30 times faster to apply, less accurate on real texts."""
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
    f = directory / MODEL_FILE
    if not f.exists():
        raise ModelError(f"missing {MODEL_FILE}", directory)
    pipe = _audited_load(f, TRUSTED_TYPES, TRUSTED_PREFIXES)
    if isinstance(pipe, Pipeline) and "features" in pipe.named_steps:
        _vocabularies_from_terms(pipe)
    if not isinstance(pipe, Pipeline) or set(getattr(pipe, "classes_", [])) != set(CLASSES):
        raise ModelError(f"{MODEL_FILE} is not a stance pipeline over {list(CLASSES)}", f)
    encoder = None
    ef = directory / ENCODER_FILE
    if card.get("encoder_weight") and not ef.exists() and not fast:
        raise ModelError(f"the card names an encoder but {ENCODER_FILE} is missing (use --fast to run "
                         "without it)", directory)
    if ef.exists() and not fast:
        encoder = _load_encoder(ef)
    return StanceModel(pipeline=pipe, threshold=float(card.get("threshold", 0.5)), card=card,
                       path=directory.resolve(), encoder=encoder,
                       encoder_weight=float(card.get("encoder_weight") or 0.5))


def _audited_load(f: Path, trusted: list[str], prefixes: tuple[str, ...]):
    """Load a skops file trusting ``trusted`` and, after an audit, any other type whose name
    starts with one of ``prefixes``; any type beyond those is refused, and so is a file skops
    cannot read. Errors name the file."""
    sio = _skops_io()
    from skops.io.exceptions import UntrustedTypesFoundException

    try:
        return sio.load(f, trusted=trusted)
    except UntrustedTypesFoundException:
        untrusted = sio.get_untrusted_types(file=f)
        bad = [t for t in untrusted if not t.startswith(prefixes)] if prefixes else untrusted
        if bad:
            raise ModelError(f"{f.name} contains types outside the trusted list, refusing to load: {bad}", f)
        return sio.load(f, trusted=untrusted)
    except Exception as e:
        raise ModelError(f"cannot read {f.name} (corrupt or not a skops file): {e}", f)


def _load_encoder(f: Path):
    from .encoder import EncoderClassifier

    enc = _audited_load(f, ENCODER_TRUSTED, ())  # the encoder holds numpy arrays only: no audit leeway
    if not isinstance(enc, EncoderClassifier) or set(getattr(enc, "classes_", [])) != set(CLASSES):
        raise ModelError(f"{ENCODER_FILE} is not a stance encoder over {list(CLASSES)}", f)
    return enc


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
    promo = card.get("promotion")
    if promo:
        lines += ["## Promotion", "", f"{'Promoted' if promo.get('promoted') else 'Not promoted'}: {promo.get('reason')}", ""]
    if card.get("notes"):
        lines += ["## Notes", "", card["notes"], ""]
    return "\n".join(lines)


def library_versions() -> dict:
    import sklearn
    import skops
    import spacy
    import tokenizers

    return {
        "scikit-learn": sklearn.__version__,
        "skops": skops.__version__,
        "spacy": spacy.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "tokenizers": tokenizers.__version__,
    }


def new_version(data_hash: str) -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S") + "-" + data_hash[:8]
