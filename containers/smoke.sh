#!/usr/bin/env bash
# Checks run inside the baler image (the CI's container stage; `podman run --rm IMAGE bash /opt/baler/smoke.sh`):
# the CLI, a model-free and a learned round trip on a table made here with every value checked against its bound,
# and the default pipeline's dry run. Prints one line per check; exits non-zero at the first that fails.
set -euo pipefail
work=$(mktemp -d)
cd "$work"
baler --version
python - <<'PY'
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
n = 4000
pt = rng.lognormal(3.5, 0.6, n)
pd.DataFrame({"pt": pt.astype(np.float32), "eta": rng.normal(0, 2, n).astype(np.float32),
              "mass": (pt * rng.uniform(0.05, 0.2, n)).astype(np.float32),
              "n": rng.integers(1, 40, n).astype(np.int32)}).to_parquet("t.parquet")
PY
baler compress t.parquet -m none -o none.baler --error-bound range=1e-3 >/dev/null 2>&1
baler decompress none.baler -o none.parquet >/dev/null 2>&1
baler train t.parquet -o m.safetensors --epochs 3 >/dev/null 2>&1
baler compress t.parquet -m m.safetensors -o seq.baler --error-bound range=1e-3 >/dev/null 2>&1
baler decompress seq.baler -m m.safetensors -o seq.parquet >/dev/null 2>&1
python - <<'PY'
import numpy as np, pandas as pd
a = pd.read_parquet("t.parquet")
for name in ("none", "seq"):
    b = pd.read_parquet(f"{name}.parquet")
    assert list(b.columns) == list(a.columns) and len(b) == len(a), name
    for c in a.columns:
        assert b[c].dtype == a[c].dtype, (name, c)
        x, y = a[c].to_numpy(np.float64), b[c].to_numpy(np.float64)
        assert np.max(np.abs(x - y)) <= 1e-3 * np.ptp(x), (name, c)
    print(f"round trip {name}: {len(b)} rows within range=1e-3")
PY
cp -r /opt/baler/config .
jobs=$(snakemake -s /opt/baler/Snakefile -n --cores 2 2>&1 | awk '$1 == "total" && !n {print $2; n = 1}')
[ -n "$jobs" ] || { echo "dry run of the default pipeline failed" >&2; exit 1; }
echo "dry run of the default pipeline: $jobs jobs"
