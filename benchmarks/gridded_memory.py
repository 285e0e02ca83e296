"""Peak memory of ``baler compress`` / ``baler decompress`` on a large HDF5 field (issue 19: a 2 GB field with
peak RSS under 1.5 GB).

The field: 3-D turbulence frames (``baler_core.sim.turbulence3d``, 64^3 float32, 1 MiB a frame) tiled in time to
``--gb`` GB, each tile rolled by a random periodic shift so no two tiles repeat, written as one HDF5 dataset
chunked by frame. Each CLI call runs in a fresh process; its peak resident memory is that process's ``VmHWM``.
Every value of the output is checked against the bound, frame block by frame block.

    python benchmarks/gridded_memory.py [--gb 2] [--bound range=1e-3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RUN = ("import sys; sys.argv = ['baler', *sys.argv[1:]]\n"
       "from baler_core.cli.main import main\n"
       "rc = main(sys.argv[1:])\n"
       "print('VmHWM', [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1], "
       "file=sys.stderr)\n"
       "sys.exit(rc)")


def run_cli(*args: str) -> tuple[float, float]:
    """Seconds and peak RSS (GB) of one ``baler`` command in a fresh process."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", RUN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(r.stderr[-3000:])
    kb = int(next(line for line in r.stderr.splitlines() if line.startswith("VmHWM")).split()[1])
    return time.perf_counter() - t0, kb / 1e6


def main() -> None:
    import h5py

    from baler_core.sim.turbulence3d import simulate_turbulence_3d

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gb", type=float, default=2.0)
    ap.add_argument("--bound", default="range=1e-3")
    ap.add_argument("--keep", help="folder for the files (default: a temporary one, removed)")
    a = ap.parse_args()
    tmp = Path(a.keep or tempfile.mkdtemp(prefix="gridded-mem-"))
    tmp.mkdir(parents=True, exist_ok=True)
    base = simulate_turbulence_3d(n_frames=16, size=64, steps_per_frame=4).u
    n_frames = int(a.gb * 1e9 / base[0].nbytes)
    rng = np.random.default_rng(0)
    src = tmp / "big.h5"
    with h5py.File(src, "w") as f:
        ds = f.create_dataset("u", shape=(n_frames, *base.shape[1:]), dtype=np.float32, chunks=(1, *base.shape[1:]))
        for s in range(0, n_frames, len(base)):
            tile = np.roll(base, tuple(rng.integers(0, 64, 3)), axis=(1, 2, 3))
            ds[s : s + len(base)] = tile[: n_frames - s]
    size = src.stat().st_size
    t_c, rss_c = run_cli("compress", str(src), "-m", "none", "--error-bound", a.bound, "-o", str(tmp / "big.baler"))
    t_d, rss_d = run_cli("decompress", str(tmp / "big.baler"), "-o", str(tmp / "back.h5"))
    kind, value = a.bound.split("=")
    worst = 0.0
    with h5py.File(src, "r") as f, h5py.File(tmp / "back.h5", "r") as g:
        x, y = f["u"], g["u"]
        lo, hi = np.inf, -np.inf
        for s in range(0, n_frames, 64):
            blk = x[s : s + 64]
            lo, hi = min(lo, blk.min()), max(hi, blk.max())
        tol = float(value) * (hi - lo) if kind == "range" else float(value)
        for s in range(0, n_frames, 64):
            worst = max(worst, float(np.abs(y[s : s + 64].astype(np.float64) - x[s : s + 64]).max()) / tol)
    print(f"HDF5 field {n_frames} x 64^3 float32: {size / 1e9:.2f} GB, bound {a.bound}")
    print(f"compress   {t_c:6.1f} s  {size / 1e6 / t_c:6.1f} MB/s  peak RSS {rss_c:.2f} GB  "
          f"ratio {size / (tmp / 'big.baler').stat().st_size:.1f}")
    print(f"decompress {t_d:6.1f} s  {size / 1e6 / t_d:6.1f} MB/s  peak RSS {rss_d:.2f} GB")
    print(f"largest error / bound {worst:.4f}")
    if not a.keep:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()


if __name__ == "__main__":
    main()
