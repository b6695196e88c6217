"""Shared fixtures. spaCy is loaded once per session; a tiny model is trained once from the
hand-written fixture tests/data/mini_annotations.jsonl (our own sentences)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SHARED = Path(os.environ.get("BRIEFS_SHARED", ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def nlp():
    from pipeline.extract.nlp import load_nlp

    return load_nlp()


@pytest.fixture(scope="session")
def mini_model_dir(tmp_path_factory):
    """A model trained on the mini fixture (8 documents), with its own models/ folder."""
    from pipeline.train.fit import TrainConfig, train

    models = tmp_path_factory.mktemp("models")
    cfg = TrainConfig(annotation_paths=[str(DATA / "mini_annotations.jsonl")], models_dir=models,
                      folds=3, c_grid=(1.0, 10.0), heldout_fraction=0.3, devset=None)
    res = train(cfg, log=lambda *a: None)
    return res.model_dir


@pytest.fixture(scope="session")
def analyzer(mini_model_dir):
    from pipeline.run import Analyzer, Settings

    return Analyzer(Settings(model_dir=str(mini_model_dir)))


@pytest.fixture(scope="session")
def shipped_model_dir():
    path = ROOT / "models" / "current"
    assert path.exists(), "the starter model must ship in models/current"
    return path.resolve()


@pytest.fixture
def shared():
    if not (SHARED / "corpora").is_dir():
        pytest.skip("../shared is not present (developer machines and CI only)")
    return SHARED
