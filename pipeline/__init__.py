"""Stance annotation for foreign-policy briefs.

Stages (each a plain function, no stage imports a later one):
ingest -> segment -> extract -> classify -> aggregate -> export; ``run`` and ``cli`` wire them.
"""

__version__ = "0.1.0"


def _thinc_without_torch() -> None:
    """thinc (spaCy's backend) imports PyTorch at import time whenever it is installed, for
    wrappers briefs never uses: about 250 MB of memory and 2-3 s in every process, worker and
    Dask task runner. PyTorch is installed here only to fine-tune the encoder (``briefs train``),
    so thinc's compatibility module is imported once with PyTorch hidden, and then PyTorch is
    importable again as usual (``encoder.fit`` imports it; so can the user's own code). Nothing
    changes when PyTorch or thinc is already imported, or when thinc is not installed."""
    import sys

    if "torch" in sys.modules or "thinc.compat" in sys.modules:
        return
    sys.modules["torch"] = None  # type: ignore[assignment]  # makes `import torch` raise ImportError
    try:
        import thinc.compat  # noqa: F401
    except ImportError:
        pass
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]


_thinc_without_torch()
