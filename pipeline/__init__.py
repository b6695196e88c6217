"""Stance annotation for foreign-policy briefs.

Stages (each a plain function, no stage imports a later one):
ingest -> segment -> extract -> classify -> aggregate -> export; ``run`` and ``cli`` wire them.
"""

import sys
from contextlib import contextmanager

__version__ = "0.1.0"


@contextmanager
def torch_hidden():
    """Make ``import torch`` fail inside the block (unless PyTorch is already imported).

    Two libraries import PyTorch whenever it is installed, for things briefs never uses: thinc
    (spaCy's backend) at import time, and skops, whose list of trusted types walks every
    scikit-learn module, including the array-API adapter for PyTorch. That costs about 250 MB of
    memory and 2-3 s in every process, worker and Dask task runner. PyTorch is installed here only
    to fine-tune the encoder (``briefs train``), so these imports happen with it hidden; after the
    block it is importable again as usual (``encoder.fit`` imports it, and so can the user's code).
    """
    if "torch" in sys.modules:
        yield
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
    try:
        yield
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


def _thinc_without_torch() -> None:
    """Import thinc's compatibility module with PyTorch hidden (see ``torch_hidden``)."""
    if "thinc.compat" in sys.modules:
        return
    with torch_hidden():
        try:
            import thinc.compat  # noqa: F401
        except ImportError:
            pass


_thinc_without_torch()
