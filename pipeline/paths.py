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
