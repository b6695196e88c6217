"""annotations -> features -> grouped CV -> fit -> held-out and dev-set scores -> gated promotion."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from ..errors import ModelError, UsageError
from ..labels import GUIDELINE_VERSION, LABELS, NONE
from .dataset import data_hash, heldout_docs, load_annotations, outcome_column
from .metrics import score

C_GRID = (0.3, 1.0, 3.0, 10.0)


@dataclass
class TrainConfig:
    annotation_paths: list[str]
    models_dir: Path
    spacy_model: str | None = None
    heldout_fraction: float = 0.2
    folds: int = 5
    c_grid: tuple[float, ...] = C_GRID
    margin: float = 0.0  # promote when new held-out macro-F1 >= current - margin
    guard: Path | None = None  # real-text gold set: also refuse a model significantly worse on it
    guard_confidence: float = 0.95
    promote: bool = True
    devset: Path | None = None  # shared dev set, scored end to end when present
    direction_gold: Path | None = None  # event-coded real sentences (PLOVER): direction check, reported only
    strict: bool = True
    placeholder: str | None = None
    curve: bool = False
    seed: int = 13
    encoder: bool = True  # fine-tune the MiniLM encoder (classify/encoder.py) and average it in
    encoder_epochs: int = 3


@dataclass
class TrainResult:
    model_dir: Path
    card: dict
    promoted: bool
    reason: str
    previous: dict | None = None
    curve: list[dict] = field(default_factory=list)
    report: object = None


class Featurizer:
    """spaCy + actor index, to compute classifier features for annotation sentences."""

    def __init__(self, spacy_model: str | None = None):
        from ..extract.actors import ActorNormaliser, build_matcher
        from ..extract.nlp import load_nlp, nlp_info

        self.nlp = load_nlp(spacy_model)
        self.info = nlp_info(self.nlp)
        self.normaliser = ActorNormaliser()
        self.matcher = build_matcher(self.nlp, self.normaliser.index)

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        from ..extract.features import analyse_sentences

        feats = analyse_sentences(self.nlp, df["text"].tolist(), self.normaliser, self.matcher)
        f = pd.DataFrame(feats, index=df.index)
        out = df.copy()
        for col in ("masked", "cues", "clean", "eligible", "kind"):
            out[col] = f[col]
        out["actors_found"] = f["actors"]
        return out


def _grid(X, y, groups, c_grid, folds, scoring) -> tuple[float, dict]:
    """Pick C by grouped cross-validation (uncalibrated pipelines: the ranking is what matters)."""
    from sklearn.model_selection import GridSearchCV

    from ..classify.model import build_pipeline

    n_groups = len(set(groups))
    k = min(folds, n_groups)
    search = GridSearchCV(build_pipeline(calibrate_folds=None), {"clf__C": list(c_grid)},
                          cv=GroupKFold(k), scoring=scoring, n_jobs=1)
    search.fit(X, y, groups=groups)
    table = {str(c): float(s) for c, s in zip(c_grid, search.cv_results_["mean_test_score"])}
    return float(search.best_params_["clf__C"]), table


def _oof_stance_proba(X, y, groups, C, folds) -> np.ndarray:
    """Out-of-fold calibrated P(stance-bearing) = 1 - P(none), grouped by document."""
    from ..classify.model import build_pipeline, fit_pipeline

    k = min(folds, len(set(groups)))
    out = np.zeros(len(y))
    for tr, te in GroupKFold(k).split(X, y, groups):
        inner = min(folds, len(set(groups[tr])))
        pipe = fit_pipeline(build_pipeline(C, calibrate_folds=inner), X.iloc[tr], y[tr], groups[tr])
        out[te] = 1.0 - pipe.predict_proba(X.iloc[te])[:, list(pipe.classes_).index(NONE)]
    return out


def choose_threshold(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Threshold maximising the mean F1 of the two classes (stance-bearing and not)."""
    from sklearn.metrics import f1_score

    best = (0.5, -1.0)
    for t in np.arange(0.2, 0.81, 0.025):
        pred = p >= t
        f = (f1_score(y, pred, zero_division=0) + f1_score(~y, ~pred, zero_division=0)) / 2
        if f > best[1] + 1e-9:
            best = (round(float(t), 3), float(f))
    return best


def fit_model(train: pd.DataFrame, cfg: TrainConfig, log=print, fixed: dict | None = None):
    """Fit the pipeline on feature rows; returns (StanceModel, hyperparameters, cv metrics).
    Only sentences whose layout can bear stance are learned from (headings and boilerplate are
    decided by the segmenter). ``fixed`` (C, threshold) skips the search (learning curves)."""
    from ..classify.model import FEATURE_COLUMNS, StanceModel, build_pipeline, fit_pipeline

    rows = train[train["eligible"]]
    X, y, g = rows[list(FEATURE_COLUMNS)], outcome_column(rows).to_numpy(), rows["doc_id"].to_numpy()
    if len(set(g)) < 2 or set(y) != {*LABELS, NONE}:
        raise UsageError("too little training data: need at least 2 documents, non-stance sentences and every label")
    t = time.perf_counter()
    if fixed:
        C, threshold, grid, thr_f1 = fixed["C"], fixed["threshold"], {}, None
    else:
        C, grid = _grid(X, y, g, cfg.c_grid, cfg.folds, "f1_macro")
        log(f"  grouped CV: C={C} (macro-F1 over the four outcomes {grid[str(C)]:.3f})  [{time.perf_counter() - t:.0f}s]")
        p_oof = _oof_stance_proba(X, y, g, C, cfg.folds)
        threshold, thr_f1 = choose_threshold(p_oof, y != NONE)
        log(f"  stance threshold {threshold} (out-of-fold mean F1 of stance/none {thr_f1:.3f})")
    pipe = fit_pipeline(build_pipeline(C, calibrate_folds=min(cfg.folds, len(set(g)))), X, y, g)
    hyper = {"C": C, "threshold": threshold, "class_weight": "balanced", "classes": [*LABELS, NONE],
             "calibration": "sigmoid, folds grouped by document",
             "features": "word 1-2gram tf-idf + char_wb 3-5gram tf-idf on actor-masked text; spaCy cue features "
                         "(negation, modal, hedge, contrast, condition, actor counts, actor-predicate relations); "
                         "IDF-weighted static MiniLM-L6 sentence vector (pipeline/classify/static.py)"}
    cv = {"macro_f1_4_outcomes_by_C": grid, "stance_threshold_oof_mean_f1": thr_f1}
    model = StanceModel(pipeline=pipe, threshold=threshold)
    if cfg.encoder:
        from ..classify.encoder import EncoderClassifier

        t = time.perf_counter()
        enc = EncoderClassifier(epochs=cfg.encoder_epochs, seed=cfg.seed).fit(rows[["clean"]], y, groups=g)
        model.encoder = enc
        cal = enc.calibration_
        log(f"  encoder fine-tuned: {enc.train_info_['steps']} steps on {enc.train_info_['sentences']} sentences, "
            f"calibrated on {cal['sentences']} sentences of {cal['documents']} held-back documents "
            f"(log-loss {cal.get('log_loss_before', float('nan')):.3f} -> {cal.get('log_loss_after', float('nan')):.3f})"
            f"  [{time.perf_counter() - t:.0f}s]")
        hyper["encoder"] = {
            "model": "all-MiniLM-L6-v2 fine-tuned, 4-way head on the mean-pooled output (pipeline/classify/encoder.py)",
            "params": {k: v for k, v in enc.get_params().items() if k not in ("base", "threads")},
            "base_sha256": enc.base_sha256_, "calibration": cal, "training": enc.train_info_,
            "ensemble": f"mean of the pipeline's and the encoder's calibrated probabilities, weight "
                        f"{model.encoder_weight} (fixed, not tuned); the stance threshold is the pipeline's",
        }
    return model, hyper, cv


def score_rows(model, rows: pd.DataFrame) -> dict:
    """Score a model on annotation rows with their own segmentation (held-out evaluation)."""
    pred = model.predict(rows, with_evidence=False)
    p = pred["label"].where(pred["stance_bearing"], NONE).fillna(NONE)
    return score(outcome_column(rows).tolist(), p.tolist())


def train(cfg: TrainConfig, log=print) -> TrainResult:
    from ..classify import set_current
    from ..classify.model import library_versions, load_model, new_version, save_model

    df, report = load_annotations(cfg.annotation_paths, strict=cfg.strict)
    log(f"annotations: {report.valid}/{report.lines} valid lines in {report.files} files, "
        f"{report.duplicates} duplicates collapsed, {report.conflicts} conflicts resolved -> {report.records} records")
    if report.problems:
        log(f"  left out {len(report.problems)} bad lines (see --strict); first: {report.problems[0]}")
    if df.empty:
        raise UsageError("no annotation records to train on")
    featurizer = Featurizer(cfg.spacy_model)
    t = time.perf_counter()
    rows = featurizer(df)
    log(f"features for {len(rows)} sentences [{time.perf_counter() - t:.0f}s]")
    held = heldout_docs(rows["doc_id"], cfg.heldout_fraction)
    if len(held) == 0 or len(held) == rows["doc_id"].nunique():
        raise UsageError("the document-level split left no training or no held-out documents; add documents")
    test = rows[rows["doc_id"].isin(held)]
    train_rows = rows[~rows["doc_id"].isin(held)]
    log(f"split by document: {train_rows['doc_id'].nunique()} training docs ({len(train_rows)} sentences), "
        f"{len(held)} held-out docs ({len(test)} sentences)")
    model, hyper, cv = fit_model(train_rows, cfg, log)
    heldout = score_rows(model, test)
    log(f"held-out: macro-F1 {heldout['macro_f1']:.3f}, none F1 {heldout['none_f1']:.3f}, "
        f"stance F1 {heldout['stance_f1']:.3f}")
    curve = learning_curve(train_rows, test, cfg, log, fixed=hyper, full=(model, heldout)) if cfg.curve else []

    dh = data_hash(df)
    version = new_version(dh)
    counts = outcome_column(df).value_counts().to_dict()
    model.card = {
        "version": version,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "labels": list(LABELS),
        "guideline_version": GUIDELINE_VERSION,
        "placeholder": cfg.placeholder,
        "libraries": library_versions(),
        "spacy_model": featurizer.info,
        "data": {
            "sha256": dh, "files": [str(p) for p in cfg.annotation_paths], "n_records": int(len(df)),
            "n_documents": int(df["doc_id"].nunique()), "n_train_documents": int(train_rows["doc_id"].nunique()),
            "n_heldout_documents": len(held), "heldout_rule": "sha256('briefs-heldout-v1:'+doc_id) % 1000 < "
            f"{int(round(cfg.heldout_fraction * 1000))}",
            "outcome_counts": {k: int(v) for k, v in counts.items()},
            "duplicates_collapsed": report.duplicates, "conflicts_resolved": report.conflicts,
        },
        "hyperparameters": hyper,
        "metrics": {"cv": cv, "heldout": {**heldout, "command": "briefs train"}},
        "curve": curve,
    }
    dev_eval = None  # the new model's end-to-end result on the dev set, reused by the guard on it
    analyzer = None  # one spaCy pipeline for the dev set and the direction check
    if (cfg.devset and Path(cfg.devset).exists()) or (cfg.direction_gold and Path(cfg.direction_gold).exists()):
        from ..run import Analyzer, Settings

        analyzer = Analyzer(Settings(spacy_model=cfg.spacy_model), model=model)
    if cfg.devset and Path(cfg.devset).exists():
        from .evaluate import evaluate_gold

        dev_eval = evaluate_gold(cfg.devset, analyzer)
        dev = dev_eval["metrics"]
        model.card["metrics"]["devset"] = {**dev, "command": "briefs evaluate --gold ../shared/devset"}
        log(f"dev set (end to end): macro-F1 {dev['macro_f1']:.3f}, none F1 {dev['none_f1']:.3f}, "
            f"stance F1 {dev['stance_f1']:.3f}")
    if cfg.direction_gold and Path(cfg.direction_gold).exists():
        from .evaluate import evaluate_direction

        d = evaluate_direction(cfg.direction_gold, analyzer)
        model.card["metrics"]["direction"] = {**d, "path": Path(cfg.direction_gold).name,
                                              "command": f"briefs evaluate --direction {cfg.direction_gold}"}
        if "accuracy" in d:
            log(f"direction check {Path(cfg.direction_gold).name}: accuracy {d['accuracy']:.3f}, macro-F1 "
                f"{d['macro_f1']:.3f} on the {d['decided']} of {d['n']} records called cooperation or friction")

    # the promotion gate: compare with the current model on the same held-out documents
    current_link = cfg.models_dir / "current"
    previous = None
    promoted, reason = True, "no current model"
    if current_link.exists():
        try:
            cur = load_model(current_link)
            previous = {"version": cur.version, "heldout": score_rows(cur, test)}
            old, new = previous["heldout"]["macro_f1"], heldout["macro_f1"]
            if cur.card.get("placeholder") and not cfg.placeholder:
                promoted, reason = True, f"current model {cur.version} is a placeholder"
            elif new >= old - cfg.margin:
                promoted, reason = True, f"held-out macro-F1 {new:.3f} >= current {old:.3f} - margin {cfg.margin}"
            else:
                promoted, reason = False, (f"held-out macro-F1 {new:.3f} is below the current model's "
                                           f"{old:.3f} by more than the margin {cfg.margin}")
            if promoted and cfg.guard and not cur.card.get("placeholder"):
                same = dev_eval is not None and Path(cfg.guard).resolve() == Path(cfg.devset).resolve()
                previous["guard"] = guard = guard_compare(model, cur, cfg, log, new_eval=dev_eval if same else None)
                if guard["p_not_worse"] < 1.0 - cfg.guard_confidence:
                    promoted, reason = False, (
                        f"{reason}, but on the guard set {cfg.guard} it is worse: macro-F1 {guard['new']['macro_f1']:.3f} "
                        f"against {guard['current']['macro_f1']:.3f} (new is at least as good in only "
                        f"{guard['p_not_worse']:.1%} of {guard['rounds']} {guard['unit']} bootstrap draws; "
                        f"the guard needs {1.0 - cfg.guard_confidence:.0%})")
                else:
                    reason += (f"; guard set {cfg.guard}: macro-F1 {guard['new']['macro_f1']:.3f} against "
                               f"{guard['current']['macro_f1']:.3f}, not significantly worse "
                               f"(at least as good in {guard['p_not_worse']:.1%} of draws)")
        except ModelError as e:
            promoted, reason = True, f"current model unreadable ({e})"
    if not cfg.promote:
        promoted, reason = False, "--no-promote given"
    model.card["promotion"] = {"promoted": promoted, "reason": reason, "previous": previous}
    out_dir = save_model(model, cfg.models_dir / version)
    if promoted:
        set_current(out_dir, current_link)
    return TrainResult(out_dir, model.card, promoted, reason, previous, curve, report)


def guard_compare(new_model, current_model, cfg: TrainConfig, log=print, new_eval: dict | None = None) -> dict:
    """Score the new and the current model end to end on the guard gold set (real texts, as a
    user's reviewed briefs or the dev set) and compare them with a paired bootstrap over its
    documents (``metrics.paired_bootstrap``). ``new_eval``: the new model's ``evaluate_gold``
    result on that same set when it was already computed (the guard is the dev set)."""
    from ..run import Analyzer, Settings

    from .evaluate import evaluate_gold
    from .metrics import paired_bootstrap

    settings = Settings(spacy_model=cfg.spacy_model)
    new = new_eval or evaluate_gold(cfg.guard, Analyzer(settings, model=new_model))
    cur = evaluate_gold(cfg.guard, Analyzer(settings, model=current_model))
    j_new, j_cur = new["joined"], cur["joined"]
    boot = paired_bootstrap(j_new["gold"], j_new["pred"], j_cur["pred"], groups=j_new["doc_id"], seed=cfg.seed)
    log(f"  guard set {cfg.guard}: macro-F1 new {new['metrics']['macro_f1']:.3f}, current "
        f"{cur['metrics']['macro_f1']:.3f}; difference {boot['difference']:+.3f}, 95% interval "
        f"[{boot['ci95'][0]:+.3f}, {boot['ci95'][1]:+.3f}] over {boot['units']} {boot['unit']}s")
    keep = ("macro_f1", "none_f1", "stance_f1")
    return {"path": str(cfg.guard), "new": {k: new["metrics"][k] for k in keep},
            "current": {k: cur["metrics"][k] for k in keep}, "confidence": cfg.guard_confidence, **boot}


def learning_curve(train_rows: pd.DataFrame, test: pd.DataFrame, cfg: TrainConfig, log=print,
                   fixed: dict | None = None, full: tuple | None = None) -> list[dict]:
    """Held-out scores when training on 25/50/75/100% of the training documents (with the full
    run's hyper-parameters, so the curve shows the effect of data alone). ``full`` (the model
    fitted on all of them and its held-out scores) is reused for the 100% point."""
    rng = np.random.default_rng(cfg.seed)
    docs = np.array(sorted(train_rows["doc_id"].unique()))
    rng.shuffle(docs)
    out = []
    for frac in (0.25, 0.5, 0.75, 1.0):
        keep = set(docs[: max(2, int(round(frac * len(docs))))])
        sub = train_rows[train_rows["doc_id"].isin(keep)]
        if frac == 1.0 and full is not None:
            m = full[1]
        else:
            try:
                model, _, _ = fit_model(sub, cfg, log=lambda *_: None, fixed=fixed)
            except UsageError as e:
                out.append({"fraction": frac, "documents": len(keep), "error": str(e)})
                continue
            m = score_rows(model, test)
        out.append({"fraction": frac, "documents": len(keep), "sentences": int(len(sub)),
                    "macro_f1": m["macro_f1"], "none_f1": m["none_f1"], "stance_f1": m["stance_f1"]})
        log(f"  curve {int(frac * 100):>3}% ({len(keep)} docs, {len(sub)} sentences): macro-F1 "
            f"{m['macro_f1']:.3f}, none F1 {m['none_f1']:.3f}")
    return out
