#!/usr/bin/env python
"""GPU variant of benchmarks/throughput.py: train the sequential and dense jets models on CUDA briefly, then
print the same table (baler at range=1e-3 against zstd, SZ3, ZFP, blosc2, pcodec) and model inference alone
on the device in GB/s (float32 and bfloat16, and the column-by-column chain the sequential decoder runs).

    python benchmarks/throughput_gpu.py                     # on a GPU machine: a few minutes on one H100
    python benchmarks/throughput_gpu.py --device cpu --quick   # smoke test anywhere

Uses the shared jets file when it is there (``../shared/data``), otherwise synthetic jets-like data with the
same 24 columns (kinematics, energy fractions, multiplicities with exact sums). One process: peak RSS is the
process's running peak, so only the first rows' values are clean; use throughput.py for memory.
``baler_core.codec`` always predicts on the CPU in float64 (identical rebuilds across machines), so the
compress/decompress columns measure the host's CPUs even here; the inference table shows what the device
itself could do.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import (  # noqa: E402
    BOUND,
    DEFAULT_DATA,
    GRID,
    codec_for,
    fmt_table,
    max_range_rel_error,
    maxrss_mb,
    raw_bytes,
    tile_jets,
)

COLUMNS = ["pt", "eta", "phi", "mass", "area", "energy", "chargedHadronEnergy", "neutralHadronEnergy",
           "photonEnergy", "electronEnergy", "muonEnergy", "HFHadronEnergy", "HFEMEnergy",
           "chargedHadronMultiplicity", "neutralHadronMultiplicity", "photonMultiplicity", "electronMultiplicity",
           "muonMultiplicity", "HFHadronMultiplicity", "HFEMMultiplicity", "chargedMultiplicity",
           "neutralMultiplicity", "ptD", "girth"]


def synthetic_jets(n: int = 50_000, seed: int = 0):
    """Jets-like table: steeply falling pt, energy from (pt, eta, mass), species energies that sum to it,
    integer multiplicities with exact sums."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    pt = 20 + rng.pareto(3.0, n) * 40
    eta = rng.uniform(-4.7, 4.7, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    mass = pt * rng.uniform(0.03, 0.25, n)
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
    forward = np.abs(eta) > 3
    alpha = np.where(forward[:, None], [0.1, 0.1, 0.1, 0.01, 0.01, 3, 2], [4, 2, 3, 0.1, 0.05, 0.01, 0.01])
    frac = rng.gamma(alpha)
    frac /= frac.sum(1, keepdims=True)
    species = frac * energy[:, None]
    mult = rng.poisson(np.sqrt(species) * np.array([1.0, 0.3, 1.2, 0.1, 0.1, 0.3, 0.3]))
    charged = mult[:, 0] + mult[:, 3] + mult[:, 4]
    neutral = mult[:, 1] + mult[:, 2] + mult[:, 5] + mult[:, 6]
    cols = [pt, eta, phi, mass, rng.normal(0.5, 0.05, n), energy, *species.T, *mult.T, charged, neutral,
            rng.uniform(0.2, 1.0, n), rng.exponential(0.05, n)]
    return pd.DataFrame({c: np.asarray(v, np.float32) for c, v in zip(COLUMNS, cols)})


def _sync(dev):
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _gbps(fn, n_bytes: int, dev, repeats: int = 3) -> float:
    fn()  # warm-up (kernel selection, allocation)
    _sync(dev)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(dev)
        ts.append(time.perf_counter() - t0)
    return n_bytes / statistics.median(ts) / 1e9


def inference(bundles: dict, x_norm: np.ndarray, dev) -> list[dict]:
    """Model inference alone on ``dev`` (data already there): GB/s of float32 input rows."""
    import torch

    rows = []
    x = torch.as_tensor(x_norm, device=dev)
    nbytes = x.numel() * 4
    batch = 1 << 20
    bf16_ok = dev.type == "cpu" or torch.cuda.is_bf16_supported()
    for name, b in bundles.items():
        model = b.model.to(dev).eval()
        seq = bool(getattr(model, "sequential", False))

        @torch.no_grad()
        def run(dtype, model=model, seq=seq):
            with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dtype == "bf16"):
                for s in range(0, len(x), batch):
                    xb = x[s : s + batch]
                    if seq:
                        model(xb)  # every column's head at once, from the true earlier columns
                    else:
                        model.decode(model.encode(xb))

        for dtype in ("fp32", "bf16") if bf16_ok else ("fp32",):
            rows.append({"model": name, "what": "encode+decode" if not seq else "all heads (teacher-forced)",
                         "dtype": dtype, "GBps": _gbps(lambda: run(dtype), nbytes, dev)})
        if seq:  # the decompression chain: column j waits for columns < j
            for dt in (torch.float64, torch.float32):
                m = model.to(dt)
                xs = x.to(dt)

                @torch.no_grad()
                def chain(m=m, xs=xs):
                    for s in range(0, len(xs), batch):
                        xb = xs[s : s + batch]
                        for j in range(xb.shape[1]):
                            m.predict_column(j, xb)

                rows.append({"model": name, "what": "column-by-column chain", "dtype": str(dt).split(".")[-1],
                             "GBps": _gbps(chain, nbytes, dev)})
            model.float()
        model.to("cpu")
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    p.add_argument("--quick", action="store_true", help="small data and 2 epochs: a smoke test")
    p.add_argument("--mb", type=float, help="table size in MB (default 200; --quick 4)")
    p.add_argument("--epochs", type=int, help="training epochs per model (default 20; --quick 2)")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="jets parquet; synthetic data when absent")
    a = p.parse_args(argv)
    import torch

    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    if a.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("throughput_gpu.py: no CUDA device here; run with --device cpu (e.g. --device cpu --quick)")
    dev = torch.device(a.device)
    mb = a.mb or (4.0 if a.quick else 200.0)
    epochs = a.epochs or (2 if a.quick else 20)
    if a.data.exists():
        import pandas as pd

        base = pd.read_parquet(a.data).drop(columns=["weight"], errors="ignore").astype(np.float32)
        source = str(a.data)
    else:
        base = synthetic_jets()
        source = "synthetic jets-like data"
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    print(f"device {name}; data {source}; {mb:g} MB table; {epochs} epochs per model", flush=True)
    work = Path(tempfile.mkdtemp(prefix="baler-gpu-"))
    sample = base.iloc[: min(len(base), 8000 if a.quick else 40000)].reset_index(drop=True)
    specs = {
        "baler-sequential": ModelConfig(model="sequential", latent_dim=16),
        "baler-dense": ModelConfig(model="dense", latent_dim=12, hidden=[64, 32]),
    }
    models, train_rows = {}, []
    for method, mc in specs.items():
        tc = TrainConfig(loss="l1", batch_size=1024, epochs=epochs, device=a.device, patience=epochs)
        t0 = time.perf_counter()
        bundle, r = train_dataset(sample, work / f"{method}.safetensors", mc, tc)
        dt = time.perf_counter() - t0
        models[method] = str(work / f"{method}.safetensors")
        train_rows.append(f"{method}: {dt:.1f} s for {r.epochs_run} epochs on {len(sample)} rows "
                          f"({r.epochs_run / r.seconds:.2f} epochs/s in the loop, {r.device}), "
                          f"best validation loss {r.best_val_loss:.4g}")
    data = tile_jets(base, mb)
    n_bytes = raw_bytes(data)
    rows = []
    for method in [*GRID, "baler-sequential", "baler-dense", "zstd-3", "sz3", "zfp", "blosc2", "pcodec"]:
        try:
            compress, decompress, size_of = codec_for(method, data, work, models)
        except ImportError as exc:
            print(f"  {method}: skipped ({exc})")
            continue
        tc, td = [], []
        for i in range(3):
            t0 = time.perf_counter()
            blob = compress()
            tc.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rec = decompress(blob)
            td.append(time.perf_counter() - t0)
            if tc[0] + td[0] > 20:
                break
        rows.append({"data": "jets", "size_MB": round(n_bytes / 1e6, 1), "method": method,
                     "compress_MBps": n_bytes / 1e6 / statistics.median(tc),
                     "decompress_MBps": n_bytes / 1e6 / statistics.median(td), "peak_rss_MB": maxrss_mb(),
                     "ratio": n_bytes / max(size_of(blob), 1), "max_range_rel_err": max_range_rel_error(data, rec),
                     "repeats": len(tc)})
        print(f"  {method}: compress {rows[-1]['compress_MBps']:.1f} MB/s, decompress "
              f"{rows[-1]['decompress_MBps']:.1f} MB/s", flush=True)
        del rec
    from baler_core.models.store import load_model

    bundles = {m: load_model(models[m]) for m in specs}
    norm = bundles["baler-dense"].normalizer
    n_inf = len(data) if not a.quick else min(len(data), 50_000)
    x_norm = norm.transform(data.iloc[:n_inf].to_numpy(np.float64))
    inf = inference(bundles, x_norm, dev)
    print()
    print(f"== {name}: codec at range {BOUND:g} (codec prediction runs on the host CPUs in float64; "
          f"peak RSS is the process's running peak)")
    print(fmt_table(rows))
    print("training: " + "; ".join(train_rows))
    print(f"== model inference alone on {name}, {n_inf} rows already on the device (GB/s of float32 input):")
    for r in inf:
        print(f"  {r['model']:17s} {r['what']:27s} {r['dtype']:8s} {r['GBps']:8.3f} GB/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
