#!/usr/bin/env bash
# Set up .venv and run the default pipeline (real ROOT jets + the simulated CFD field, a ratio sweep).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
. .venv/bin/activate
snakemake --cores "${CORES:-all}" "$@"
