"""Processing does not load PyTorch (only fine-tuning the encoder does)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_processing_does_not_import_torch_but_training_can():
    code = (
        "import sys, pipeline.run, pipeline.classify.model, spacy, thinc.compat\n"
        "from pipeline.classify.model import load_model\n"
        f"load_model({str(ROOT / 'models' / 'current')!r})  # skops walks sklearn, which imports torch\n"
        "assert 'torch' not in sys.modules, 'spaCy/thinc or skops pulled in torch'\n"
        "assert not thinc.compat.has_torch\n"
        "try:\n"
        "    import torch\n"
        "except ImportError:\n"
        "    print('no torch installed')\n"
        "else:\n"
        "    assert torch.zeros(1).sum().item() == 0\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("ok")
