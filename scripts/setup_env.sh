#!/usr/bin/env bash
# Create .venv and install baler with its test and baseline (SZ3, ZFP, blosc2, pcodec) extras. Torch is installed first, pinned to a release whose
# CPU build is available offline here; set TORCH_SPEC (e.g. "torch==2.13.0" from a CUDA index) to choose another.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip 2>/dev/null || true
if ! python -c "import torch" 2>/dev/null; then
    python -m pip install -q "${TORCH_SPEC:-torch==2.13.0}"
fi
python -m pip install -q -e ".[test,baselines${BALER_EXTRAS:+,$BALER_EXTRAS}]"
python -c "import baler_core, torch; print('baler', baler_core.__version__, 'torch', torch.__version__)"
