"""scikit-learn stage: build, fit, predict, save/load with a card."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelError
from ..paths import current_model_dir, models_dir
from .model import StanceModel, load_model, save_model  # noqa: F401


def resolve_model_dir(model: str | Path | None = None) -> Path:
    """``None`` -> models/current; a bare version name -> models/<name>; otherwise a path."""
    if model is None:
        path = current_model_dir()
        if not path.exists():
            raise ModelError("no current model (models/current); train one with `briefs train`", path)
        return path.resolve()
    p = Path(model)
    if not p.exists() and (models_dir() / str(model)).exists():
        p = models_dir() / str(model)
    return p.resolve()


def set_current(version_dir: Path, link: Path | None = None) -> Path:
    """Point models/current at ``version_dir`` atomically (a relative symlink)."""
    link = link or current_model_dir()
    tmp = link.with_name(f".{link.name}.tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(os.path.relpath(version_dir, link.parent), tmp)
    os.replace(tmp, link)
    return link
