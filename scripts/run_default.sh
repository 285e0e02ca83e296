#!/usr/bin/env bash
# Set up .venv and run the default pipeline (generated Pythia events, real ROOT jets, the simulated CFD field).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
snakemake --cores "${CORES:-all}" "$@"
