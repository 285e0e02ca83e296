#!/usr/bin/env bash
# Create .venv and install baler with its test, baseline (SZ3, ZFP, blosc2, pcodec), cfd (HDF5, NetCDF, zarr) and
# sim (Pythia 8 and FastJet wheels, for the default pipeline's generated events) extras. Torch is installed first, pinned to a release whose CPU build is available offline here; set TORCH_SPEC to choose another where .venv has no torch yet (pip arguments,
# e.g. "torch==2.13.0 --index-url https://download.pytorch.org/whl/cu126").
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip 2>/dev/null || true
if ! python -c "import torch" 2>/dev/null; then
    # shellcheck disable=SC2086  # split on purpose: TORCH_SPEC may carry pip options such as --index-url
    python -m pip install -q ${TORCH_SPEC:-torch==2.13.0}
fi
python -m pip install -q -e ".[test,baselines,cfd,sim${BALER_EXTRAS:+,$BALER_EXTRAS}]"
python -c "import baler_core, torch; print('baler', baler_core.__version__, 'torch', torch.__version__)"
