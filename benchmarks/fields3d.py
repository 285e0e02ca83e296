"""3-D fields at equal error (issue 19): baler without a model and with a Conv3d model against SZ3, ZFP and
SPERR, in one run, on two flows.

Data: ``baler_core.sim.turbulence3d`` (pseudo-spectral decaying turbulence on a periodic box), the velocity
components u, v, w, each T x N x N x N float32; and ``baler_core.sim.lbm3d`` (D3Q19 lattice Boltzmann channel
flow past a cube, Re 120), u, v, w and p, each T x D x H x W float32. Every coder gets the same absolute bound
per variable, 1e-3 (or ``--bound``) times that variable's range; every value of every output is checked.
Ratio = float32 bytes / coded bytes; MB/s = input MB per wall second (median of 3).

The learned rows (``baler conv3d``): one ``conv3d`` model per flow, trained on every variable of another run of
the same flow (seed 1; the compressed run is seed 0), so no compressed value was seen in training. Per variable
the ratio is without the decoder; the ``all`` row counts the decoder once (``+dec``), as a campaign would share it.

    python benchmarks/fields3d.py [--case all|turbulence|cube] [--size 64] [--frames 24] [--cube-grid 32x32x96]
                                  [--bound 1e-3] [--epochs 40] [--no-learned]
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
from baler_core.models import ModelBundle
from baler_core.sim.lbm3d import simulate_cube_flow
from baler_core.sim.turbulence3d import simulate_turbulence_3d


def median_time(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, float(np.median(times))


def _status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1e3
    return float("nan")


def _peak_child(codec: str, npy: str, tol: float, out: str) -> tuple[float, float]:
    """In a fresh process: load the variable, reset the peak RSS (``clear_refs`` 5: the imports' transient peak
    would hide the coder's), compress and decompress it; (RSS before, peak RSS after) in MB."""
    x = np.load(npy)
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mb("VmRSS")
    if codec == "baler -m none":
        compress_field(x, None, out, CompressionOptions(BoundSpec(parse_bound(f"abs={tol!r}"))))
        decompress(out)
    else:
        run_error_bounded(x, codec, "abs", tol)
    return before, _status_mb("VmHWM")


def peak_rss(codec: str, x: np.ndarray, tol: float, tmp: Path) -> float:
    """MB the coder adds to a fresh process's peak RSS (compress, then decompress) beyond loading the data."""
    import multiprocessing

    npy = tmp / "peak.npy"
    np.save(npy, x)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        before, after = pool.apply(_peak_child, (codec, str(npy), tol, str(tmp / "peak.baler")))
    return after - before


def train_conv3d(case: str, train_vars: dict[str, np.ndarray], epochs: int, tmp: Path) -> ModelBundle:
    """One conv3d model on every variable of a training run (frames of all variables stacked in time)."""
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    data = np.concatenate(list(train_vars.values()))
    t0 = time.perf_counter()
    bundle, res = train_dataset(data, tmp / f"{case}-conv3d.safetensors",
                                ModelConfig(model="conv3d", latent_dim=2, channels=[8, 16, 16]),
                                TrainConfig(epochs=epochs, batch_size=8, patch=32, patience=10, seed=0, device="cpu"))
    print(f"{case}: conv3d trained on {data.shape} in {time.perf_counter() - t0:.0f} s ({res.epochs_run} epochs, "
          f"best {res.best_epoch + 1}); decoder {len(bundle.decoder_blob()) / 1e3:.1f} kB")
    return bundle


def learned_rows(case: str, variables: dict[str, np.ndarray], bound: float, bundle: ModelBundle,
                 tmp: Path) -> list[tuple]:
    """The conv3d model on each variable (decoder not embedded); blocks where the model-free coder is smaller
    fall back to it, as in every learned field file."""
    rows = []
    for name, x in variables.items():
        tol = bound * float(np.ptp(x))
        mb = x.nbytes / 1e6
        out = tmp / f"{case}-{name}-conv3d.baler"
        opts = CompressionOptions(BoundSpec(parse_bound(f"abs={tol!r}")), embed_decoder=False)
        h, t_c = median_time(lambda: compress_field(x, bundle, out, opts))
        y, t_d = median_time(lambda: decompress(out, bundle))
        worst = float(np.abs(y.astype(np.float64) - x).max()) / tol
        assert worst <= 1 + 1e-6
        used = sum(b["predictor"] == "model" for b in h["blocks"])
        print(f"{case} {name}: the model coded {used} of {len(h['blocks'])} blocks")
        rows.append((case, name, "baler conv3d", x.nbytes / out.stat().st_size, mb / t_c, mb / t_d, float("nan"),
                     worst))
    return rows


def compare(case: str, variables: dict[str, np.ndarray], bound: float, tmp: Path) -> list[tuple]:
    """baler -m none, SZ3, ZFP and SPERR on each variable at ``bound`` x its range; every value checked (baler's
    must hold; a peer that overshoots is flagged in the table). Each row: (case, variable, method, ratio, compress
    MB/s, decompress MB/s, MB of peak RSS the coder adds, largest error / bound)."""
    rows = []
    for name, x in variables.items():
        tol = bound * float(np.ptp(x))
        mb = x.nbytes / 1e6
        out = tmp / f"{case}-{name}.baler"
        opts = CompressionOptions(BoundSpec(parse_bound(f"abs={tol!r}")))
        _, t_c = median_time(lambda: compress_field(x, None, out, opts))
        y, t_d = median_time(lambda: decompress(out))
        worst = float(np.abs(y.astype(np.float64) - x).max()) / tol
        assert worst <= 1 + 1e-6
        rows.append((case, name, "baler -m none", x.nbytes / out.stat().st_size, mb / t_c, mb / t_d,
                     peak_rss("baler -m none", x, tol, tmp), worst))
        for codec in ("sz3", "zfp", "sperr"):
            try:
                res, rec = run_error_bounded(x, codec, "abs", tol)
            except ImportError:
                continue
            worst = float(np.abs(rec.astype(np.float64) - x).max()) / tol  # a peer's overshoot is reported
            rows.append((case, name, codec, res.ratio, res.compress_MBps, res.decompress_MBps,
                         peak_rss(codec, x, tol, tmp), worst))
    return rows


def report(case: str, variables: dict[str, np.ndarray], rows: list[tuple], decoder_bytes: int = 0) -> None:
    print(f"{'var':4s} {'method':16s} {'ratio':>8s} {'comp MB/s':>10s} {'dec MB/s':>10s} {'+peak MB':>9s} "
          f"{'worst/bound':>11s}")
    for r in rows:
        flag = "  BOUND EXCEEDED" if r[7] > 1 + 1e-6 else ""
        print(f"{r[1]:4s} {r[2]:16s} {r[3]:8.2f} {r[4]:10.1f} {r[5]:10.1f} {r[6]:9.0f} {r[7]:11.6f}{flag}")
    total = sum(x.nbytes for x in variables.values())
    for method in sorted({r[2] for r in rows}):
        coded = sum(variables[r[1]].nbytes / r[3] for r in rows if r[2] == method)
        print(f"all  {method:16s} {total / coded:8.2f}")
        if method == "baler conv3d":
            print(f"all  {'baler conv3d+dec':16s} {total / (coded + decoder_bytes):8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=["turbulence", "cube", "all"], default="all")
    ap.add_argument("--size", type=int, default=64, help="turbulence: points per direction")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--cube-grid", default="32x32x96", help="cube: depth x height x width")
    ap.add_argument("--bound", type=float, default=1e-3, help="range-relative bound per variable")
    ap.add_argument("--epochs", type=int, default=40, help="conv3d training epochs at most")
    ap.add_argument("--no-learned", action="store_true", help="skip the conv3d rows")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fields3d-"))
    if a.case in ("turbulence", "all"):
        flow = simulate_turbulence_3d(n_frames=a.frames, size=a.size, steps_per_frame=4, seed=0)
        variables = {"u": flow.u, "v": flow.v, "w": flow.w}
        rows, dec = compare("turbulence", variables, a.bound, tmp), 0
        if not a.no_learned:
            other = simulate_turbulence_3d(n_frames=a.frames, size=a.size, steps_per_frame=4, seed=1)
            bundle = train_conv3d("turbulence", {"u": other.u, "v": other.v, "w": other.w}, a.epochs, tmp)
            rows += learned_rows("turbulence", variables, a.bound, bundle, tmp)
            dec = len(bundle.decoder_blob())
        print(f"3-D turbulence {a.frames} x {a.size}^3 per variable ({flow.u.nbytes / 1e6:.1f} MB each), "
              f"abs bound = {a.bound:g} x range")
        report("turbulence", variables, rows, dec)
    if a.case in ("cube", "all"):
        d, h, w = (int(v) for v in a.cube_grid.split("x"))
        t0 = time.perf_counter()
        cube = simulate_cube_flow(n_frames=a.frames, depth=d, height=h, width=w, steps_per_frame=10,
                                  warmup_steps=1500, seed=0)
        variables = cube.variables()
        rows, dec = compare("cube", variables, a.bound, tmp), 0
        if not a.no_learned:
            other = simulate_cube_flow(n_frames=a.frames, depth=d, height=h, width=w, steps_per_frame=10,
                                       warmup_steps=1500, seed=1)
            bundle = train_conv3d("cube", other.variables(), a.epochs, tmp)
            rows += learned_rows("cube", variables, a.bound, bundle, tmp)
            dec = len(bundle.decoder_blob())
        print(f"\nflow past a cube (D3Q19, Re {cube.reynolds:g}, simulated in {time.perf_counter() - t0:.0f} s) "
              f"{a.frames} x {d} x {h} x {w} per variable ({cube.u.nbytes / 1e6:.1f} MB each), "
              f"abs bound = {a.bound:g} x range")
        report("cube", variables, rows, dec)


if __name__ == "__main__":
    main()
