"""3-D fields at equal error (issue 19): baler without a model against SZ3 and ZFP on 3-D turbulence, in one run.

Data: ``baler_core.sim.turbulence3d`` (pseudo-spectral decaying turbulence on a periodic box), the velocity
components u, v, w, each T x N x N x N float32. Every coder gets the same absolute bound per variable, 1e-3 (or
``--bound``) times that variable's range; every value of every output is checked. Ratio = float32 bytes / coded
bytes; MB/s = input MB per wall second (median of 3).

    python benchmarks/fields3d.py [--size 64] [--frames 24] [--bound 1e-3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from baler_core.codec import CompressionOptions, compress_field, decompress
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.evaluation.baselines import run_error_bounded
from baler_core.sim.turbulence3d import simulate_turbulence_3d


def median_time(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--bound", type=float, default=1e-3, help="range-relative bound per variable")
    a = ap.parse_args()
    flow = simulate_turbulence_3d(n_frames=a.frames, size=a.size, steps_per_frame=4, seed=0)
    tmp = Path(tempfile.mkdtemp(prefix="fields3d-"))
    rows = []
    for name in ("u", "v", "w"):
        x = getattr(flow, name)
        tol = a.bound * float(np.ptp(x))
        mb = x.nbytes / 1e6
        out = tmp / f"{name}.baler"
        opts = CompressionOptions(BoundSpec(parse_bound(f"abs={tol!r}")))
        _, t_c = median_time(lambda: compress_field(x, None, out, opts))
        y, t_d = median_time(lambda: decompress(out))
        assert np.abs(y.astype(np.float64) - x).max() <= tol * (1 + 1e-6)
        rows.append((name, "baler -m none", x.nbytes / out.stat().st_size, mb / t_c, mb / t_d))
        for codec in ("sz3", "zfp"):
            try:
                res, rec = run_error_bounded(x, codec, "abs", tol)
            except ImportError:
                continue
            assert np.abs(rec.astype(np.float64) - x).max() <= tol * (1 + 1e-6), codec
            rows.append((name, codec, res.ratio, res.compress_MBps, res.decompress_MBps))
    print(f"3-D turbulence {a.frames} x {a.size}^3 per variable ({flow.u.nbytes / 1e6:.1f} MB each), "
          f"abs bound = {a.bound:g} x range")
    print(f"{'var':4s} {'method':16s} {'ratio':>8s} {'comp MB/s':>10s} {'dec MB/s':>10s}")
    for r in rows:
        print(f"{r[0]:4s} {r[1]:16s} {r[2]:8.2f} {r[3]:10.1f} {r[4]:10.1f}")
    for method in sorted({r[1] for r in rows}):
        total = sum(getattr(flow, v).nbytes for v in "uvw")
        coded = sum(getattr(flow, r[0]).nbytes / r[2] for r in rows if r[1] == method)
        print(f"all  {method:16s} {total / coded:8.2f}")


if __name__ == "__main__":
    main()
