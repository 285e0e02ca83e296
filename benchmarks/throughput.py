#!/usr/bin/env python
"""Throughput, memory and CPU-training benchmark of baler against zstd, SZ3, ZFP, blosc2 and pcodec (issue 9).

One run prints one table: per data set, size and method, compress and decompress MB/s (MB = 1e6 bytes of
float32 input per wall-clock second), peak RSS, ratio and the maximum range-relative error, followed by
memory scaling, CPU training, `snakemake -n` timing and the targets met.

- Data: the shared jets table (50,494 x 24 float32, ``weight`` dropped) tiled to a small and a large size in
  memory (every tile after the first is a fresh row permutation, so no codec sees byte-identical repeats), and
  a 2-D decaying-turbulence field (``baler_core.sim.turbulence``) tiled in frames (every tile after the first is rolled
  by a random periodic shift).
- Baler models are trained once on a sample (training time reported separately); only compression and
  decompression of data already in memory are timed, at ``range=1e-3``.
- Every (data, size, method) runs in a fresh subprocess (``--one``) so its peak RSS (``ru_maxrss``) is its
  own; the peak includes the input, the compressed bytes and the decompressed copy (an in-memory round
  trip). Fast methods report the median of 3 round trips; a method whose first round trip takes longer than
  ``--slow`` seconds is run once.
- Memory scaling runs the ``baler`` CLI (file in, file out) on inputs 10x apart and compares peak RSS.

    python benchmarks/throughput.py                 # full run (< 15 min on 2 idle cores)
    python benchmarks/throughput.py --quick         # small sizes, a smoke test (~2-3 min)
    python benchmarks/throughput.py --out results/benchmarks/throughput.tsv

Timings are wall-clock: on a shared machine other jobs slow them down; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "pythia_jets_13TeV_50k.parquet"
BOUND = 1e-3
FIELD_SIZE = 128  # turbulence frames are FIELD_SIZE x FIELD_SIZE
# baler-grid-*: no model (``-m none``), values on a grid that keeps the bound; -zstd1 is the fastest
# configuration (zstd level 1, Lorenzo differences on fields), -ans the smallest (rANS, and on fields the
# smaller of Lorenzo and cubic interpolation per block)
GRID = {"baler-grid-zstd1": ("zstd", 1, "lorenzo"), "baler-grid-ans": ("ans", 3, "auto")}
TABLE_METHODS = [*GRID, "baler-sequential", "baler-dense", "zstd-3", "sz3", "zfp", "blosc2", "pcodec"]
FIELD_METHODS = [*GRID, "baler-conv2d", "zstd-3", "sz3", "zfp", "blosc2", "pcodec"]
LOSSLESS = {"zstd-3", "blosc2", "pcodec"}


# ------------------------------------------------------------------ small helpers
def maxrss_mb() -> float:
    """Peak resident set size of this process in MB.

    Linux's ``VmHWM`` (the high-water mark of this program's own memory map) where available: a child's
    ``ru_maxrss`` also counts the parent's RSS at fork time, before exec, which would make every
    measurement at least as large as the driver. Elsewhere ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024 / 1e6
    except OSError:
        pass
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1e6 if sys.platform == "darwin" else r * 1024 / 1e6


def load_jets(path: Path):
    import pandas as pd

    if not path.exists():
        sys.exit(f"throughput.py: shared jets data not found at {path}; put the shared data in ../shared/data "
                 "next to the repository (or pass --data PATH)")
    df = pd.read_parquet(path)
    return df.drop(columns=["weight"], errors="ignore").astype(np.float32)


def tile_jets(base, mb: float, seed: int = 0):
    """The table repeated to ``mb`` MB of float32; tiles after the first are random row permutations.

    Built in one column-major float32 buffer that the DataFrame wraps without a copy, so the process holds
    the input once."""
    import pandas as pd

    vals = base.to_numpy(np.float32)
    n0, nf = vals.shape
    rows = max(1, math.ceil(mb * 1e6 / (nf * 4)))
    buf = np.empty((nf, rows), np.float32)
    rng = np.random.default_rng(seed)
    s, t = 0, 0
    while s < rows:
        k = min(n0, rows - s)
        idx = np.arange(k) if t == 0 else rng.permutation(n0)[:k]
        buf[:, s : s + k] = vals[idx].T
        s, t = s + k, t + 1
    return pd.DataFrame(buf.T, columns=list(base.columns), copy=False)


def simulate_field(path: Path, n_frames: int) -> np.ndarray:
    """Base turbulence frames, cached as .npy in the work directory."""
    if path.exists():
        return np.load(path)
    from baler_core.sim.cfd import simulate_decaying_turbulence

    f = simulate_decaying_turbulence(n_frames=n_frames, size=FIELD_SIZE, seed=0).astype(np.float32)
    np.save(path, f)
    return f


def tile_field(base: np.ndarray, mb: float, seed: int = 0) -> np.ndarray:
    """Frames repeated to ``mb`` MB; tiles after the first are rolled by a random periodic shift."""
    n0, h, w = base.shape
    n = max(1, math.ceil(mb * 1e6 / (h * w * 4)))
    out = np.empty((n, h, w), np.float32)
    rng = np.random.default_rng(seed)
    s, t = 0, 0
    while s < n:
        k = min(n0, n - s)
        shift = (0, 0) if t == 0 else (int(rng.integers(1, h)), int(rng.integers(1, w)))
        out[s : s + k] = np.roll(base[:k], shift, axis=(1, 2))
        s, t = s + k, t + 1
    return out


def columns_of(data) -> list[np.ndarray]:
    """Contiguous 1-D columns (tables, or a list of decompressed columns) or the whole array (fields)."""
    if isinstance(data, np.ndarray):
        return [data]
    if isinstance(data, list):
        return data
    return [np.ascontiguousarray(data[c].to_numpy()) for c in data.columns]


def max_range_rel_error(orig, rec, chunk: int = 1 << 20) -> float:
    """max over columns of max|x - x_rec| / (max x - min x), in float64, a slice at a time (bounded memory)."""
    worst = 0.0
    for x, y in zip(columns_of(orig), columns_of(rec)):
        x, y = x.reshape(-1), np.asarray(y).reshape(-1)
        if not x.size:
            continue
        rng = float(x.max()) - float(x.min())
        err = max(float(np.max(np.abs(x[s : s + chunk].astype(np.float64) - y[s : s + chunk].astype(np.float64))))
                  for s in range(0, x.size, chunk))
        worst = max(worst, err / rng if rng > 0 else err)
    return worst


def raw_bytes(data) -> int:
    return int(sum(c.nbytes for c in columns_of(data)))


# ------------------------------------------------------------------ codecs: each is (compress(), decompress(blob))
def _per_column(data, enc, dec):
    """Compress each column separately (as the pipeline's baselines do); decompress to a like-shaped object."""
    cols = columns_of(data)

    def compress():
        return [enc(c) for c in cols]

    def decompress(blobs):
        outs = [np.asarray(dec(b, c)).reshape(c.shape) for b, c in zip(blobs, cols)]
        return outs[0] if isinstance(data, np.ndarray) else outs

    return compress, decompress


def codec_for(method: str, data, workdir: Path, models: dict):
    """(compress, decompress, size_of) for ``method`` on ``data``; blobs may be files (baler) or bytes."""
    if method.startswith("baler-"):
        return _baler_codec(method, data, workdir, models)
    if method == "zstd-3":
        import zstandard

        cctx, dctx = zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor()
        c, d = _per_column(data, cctx.compress,
                           lambda b, x: np.frombuffer(dctx.decompress(b, max_output_size=x.nbytes), x.dtype))
    elif method == "blosc2":
        import blosc2

        blosc2.set_nthreads(os.cpu_count() or 1)
        c, d = _per_column(
            data,
            lambda x: blosc2.compress2(x, typesize=4, clevel=5, codec=blosc2.Codec.ZSTD,
                                       filters=[blosc2.Filter.SHUFFLE]),
            lambda b, x: np.frombuffer(blosc2.decompress2(b), x.dtype))
    elif method == "pcodec":
        from pcodec import ChunkConfig, standalone

        c, d = _per_column(data, lambda x: standalone.simple_compress(x.ravel(), ChunkConfig()),
                           lambda b, x: standalone.simple_decompress(b))
    elif method == "sz3":
        import pysz

        def enc(x):
            cfg = pysz.szConfig(x.shape)
            cfg.errorBoundMode = pysz.szErrorBoundMode.ABS
            cfg.absErrorBound = _abs_bound(x)
            return pysz.sz.compress(x, cfg)[0]

        c, d = _per_column(data, enc, lambda b, x: pysz.sz.decompress(b, x.dtype, x.shape)[0])
    elif method == "zfp":
        import zfpy

        c, d = _per_column(data, lambda x: zfpy.compress_numpy(x, tolerance=_abs_bound(x)),
                           lambda b, x: zfpy.decompress_numpy(b))
    else:
        raise SystemExit(f"unknown method {method!r}")
    return c, d, (lambda blobs: sum(len(bytes(b)) if not isinstance(b, bytes) else len(b) for b in blobs))


def _abs_bound(x: np.ndarray) -> float:
    rng = float(x.max()) - float(x.min())
    return BOUND * rng if rng > 0 else BOUND


def _baler_codec(method: str, data, workdir: Path, models: dict):
    from baler_core.codec import CompressionOptions, compress_field, compress_table, decompress, file_info
    from baler_core.coding.error_bounds import Bound, BoundSpec
    from baler_core.models.store import load_model

    bundle = None if method in GRID else load_model(models[method])
    opts = CompressionOptions(BoundSpec(Bound("range", BOUND)))
    if method in GRID:
        opts.entropy, opts.level, opts.field_predictor = GRID[method]
    out = workdir / f"{method}-{os.getpid()}.baler"

    def compress():
        if isinstance(data, np.ndarray):
            compress_field(data, bundle, out, opts)
        else:
            compress_table([data], bundle, out, opts)
        return out

    def size_of(path):
        info = file_info(path)
        return info["compressed_bytes"] + info["decoder_bytes"]  # the decoder counts in the ratio

    return compress, (lambda path: decompress(path, bundle)), size_of


def run_one(method: str, kind: str, mb: float, workdir: Path, data_path: Path, slow: float) -> dict:
    """One method on one data set in this (fresh) process; prints and returns a result row."""
    models = json.loads((workdir / "models.json").read_text())
    if kind == "jets":
        data = tile_jets(load_jets(data_path), mb)
    else:
        data = tile_field(np.load(workdir / "field_base.npy"), mb)
    n_bytes = raw_bytes(data)
    rss_data = maxrss_mb()
    compress, decompress, size_of = codec_for(method, data, workdir, models)
    tc, td, cc, cd = [], [], [], []
    rec = blob = None
    for i in range(3):
        rec = None
        t0, c0 = time.perf_counter(), time.process_time()
        blob = compress()
        tc.append(time.perf_counter() - t0)
        cc.append(time.process_time() - c0)
        t0, c0 = time.perf_counter(), time.process_time()
        rec = decompress(blob)
        td.append(time.perf_counter() - t0)
        cd.append(time.process_time() - c0)
        if i == 0 and tc[0] + td[0] > slow:
            break
    peak = maxrss_mb()  # before the error check, which is not part of the method
    size = size_of(blob)
    err = max_range_rel_error(data, rec)
    mbytes = n_bytes / 1e6
    row = {
        "data": kind, "size_MB": round(mbytes, 1), "method": method,
        "compress_MBps": mbytes / statistics.median(tc), "decompress_MBps": mbytes / statistics.median(td),
        "compress_MB_per_cpu_s": mbytes / statistics.median(cc),
        "decompress_MB_per_cpu_s": mbytes / statistics.median(cd),
        "peak_rss_MB": peak, "input_rss_MB": rss_data, "ratio": n_bytes / max(size, 1), "max_range_rel_err": err,
        "repeats": len(tc), "lossless": method in LOSSLESS,
    }
    if isinstance(blob, Path):
        blob.unlink(missing_ok=True)
    return row


# ------------------------------------------------------------------ training (model preparation and CPU timing)
def train_models(workdir: Path, data_path: Path, quick: bool, field_frames: int) -> dict:
    """Train the benchmark's models once on samples; returns {method: model path} and training seconds."""
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    jets = load_jets(data_path)
    sample = jets.iloc[: 8000 if quick else 20000].reset_index(drop=True)
    epochs = 2 if quick else 20
    out, seconds = {}, {}
    specs = [
        ("baler-sequential", sample, ModelConfig(model="sequential", latent_dim=16),
         TrainConfig(loss="l1", batch_size=1024, epochs=epochs, device="cpu")),
        ("baler-dense", sample, ModelConfig(model="dense", latent_dim=12, hidden=[64, 32]),
         TrainConfig(loss="l1", batch_size=1024, epochs=epochs, device="cpu")),
    ]
    t0 = time.perf_counter()
    base = simulate_field(workdir / "field_base.npy", field_frames)
    seconds["field simulation"] = time.perf_counter() - t0
    specs.append(("baler-conv2d", base[: 32 if quick else 64], ModelConfig(latent_dim=4, channels=[8, 16]),
                  TrainConfig(loss="l1", batch_size=16, epochs=1 if quick else 8, device="cpu")))
    for method, data, mc, tc in specs:
        path = workdir / f"{method}.safetensors"
        t0 = time.perf_counter()
        train_dataset(data, path, mc, tc)
        seconds[method] = time.perf_counter() - t0
        out[method] = str(path)
        print(f"  trained {method} on {len(data)} rows/frames, {tc.epochs} epochs: {seconds[method]:.1f} s",
              flush=True)
    (workdir / "models.json").write_text(json.dumps(out))
    return seconds


def _train_child(workdir: Path, data_path: Path, rows: int) -> None:
    """The default jets dense model (ModelConfig(ratio=4), TrainConfig() defaults) trained to its end."""
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    df = load_jets(data_path).iloc[:rows].reset_index(drop=True)
    t0 = time.perf_counter()
    bundle, r = train_dataset(df, workdir / "default.safetensors", ModelConfig(model="dense", ratio=4),
                              TrainConfig(device="cpu"),
                              history_path=workdir / "default_history.tsv")
    print(json.dumps({"finished": True, "wall_s": time.perf_counter() - t0, "epochs": r.epochs_run,
                      "best_epoch": r.best_epoch, "best_val_loss": r.best_val_loss, "stopped_early": r.stopped_early,
                      "model_args": bundle.record["model_args"]}), flush=True)


def time_default_training(workdir: Path, data_path: Path, rows: int, cap: float) -> dict:
    """Run the real training in a subprocess; stop it after ``cap`` seconds and project from its history."""
    hist = workdir / "default_history.tsv"
    hist.unlink(missing_ok=True)
    cmd = [sys.executable, __file__, "--train-child", "--workdir", str(workdir), "--data", str(data_path),
           "--rows", str(rows)]
    t_start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    marks = []  # (seconds since start, epochs written)
    n_seen = 0
    while proc.poll() is None and time.perf_counter() - t_start < cap:
        time.sleep(0.25)
        n = _history_rows(hist)
        if n > n_seen:
            marks.append((time.perf_counter() - t_start, n))
            n_seen = n
    finished = proc.poll() is not None
    if not finished:
        proc.terminate()
        proc.wait()
    out = proc.stdout.read()
    res = json.loads(out.strip().splitlines()[-1]) if finished and out.strip() else {"finished": False}
    import pandas as pd

    h = pd.read_csv(hist, sep="\t") if hist.exists() and _history_rows(hist) else pd.DataFrame()
    res["epochs_done"] = len(h)
    if len(marks) >= 2:
        (t1, n1), (t2, n2) = marks[0], marks[-1]
        res["epochs_per_s"] = (n2 - n1) / (t2 - t1)
    elif len(h):
        res["epochs_per_s"] = len(h) / h["seconds"].sum()
    res["loop_s_per_epoch"] = float(h["seconds"].mean()) if len(h) else float("nan")
    res["startup_s"] = marks[0][0] - (float(h["seconds"].iloc[0]) if len(h) else 0.0) if marks else float("nan")
    if len(h):
        res["last_val_loss"] = float(h["val_loss"].iloc[-1])
        res["best_val_loss_so_far"] = float(h["val_loss"].min())
    res["cap_s"] = cap
    res["rows"] = rows
    if not finished and res.get("epochs_per_s"):
        res["projected_s_200_epochs"] = res["startup_s"] + 200 / res["epochs_per_s"]
    return res


def _history_rows(path: Path) -> int:
    try:
        return max(0, len(path.read_text().splitlines()) - 1)
    except OSError:
        return 0


def profile_training(data_path: Path, rows: int, epochs: int) -> dict:
    """Where an epoch of the default dense model goes: the training loop of baler_core.training with timers."""
    import torch

    from baler_core.models import build_model
    from baler_core.prep.normalization import fit_normalizer
    from baler_core.training.loop import (
        TrainConfig,
        _batches,
        _crop_batch,
        _loss,
        _make_scheduler,
        evaluate_loss,
        write_history,
    )
    from baler_core.training.train import ModelConfig, build_for_data, split_rows

    df = load_jets(data_path).iloc[:rows].reset_index(drop=True)
    mc, cfg = ModelConfig(model="dense", ratio=4), TrainConfig(device="cpu")
    name, args, _ = build_for_data(df, mc)
    x = df.to_numpy(np.float64)
    tr, va = split_rows(len(x), mc.val_fraction, cfg.seed)
    norm = fit_normalizer(x[tr], list(df.columns), mc.normalization, mc.log_columns)
    xt = torch.as_tensor(norm.transform(x[tr]))
    xv = torch.as_tensor(norm.transform(x[va]))
    torch.manual_seed(cfg.seed)
    model = build_model(name, args)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = _make_scheduler(opt, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    parts = dict.fromkeys(["batching", "forward", "backward", "optimizer", "loss.item", "validation",
                           "scheduler", "checkpoint save", "history write"], 0.0)
    tmp = Path(tempfile.mkdtemp(prefix="baler-prof-"))
    history = []
    t_all = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        t = time.perf_counter()
        batches = _batches(len(xt), cfg.batch_size, gen)
        parts["batching"] += time.perf_counter() - t
        for idx in batches:
            t = time.perf_counter()
            xb = _crop_batch(xt, idx, cfg.patch, gen)
            t1 = time.perf_counter()
            loss, mse = _loss(model, xb, cfg.l1_latent, cfg.loss)
            t2 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            t3 = time.perf_counter()
            opt.step()
            t4 = time.perf_counter()
            mse.detach().item()
            t5 = time.perf_counter()
            parts["batching"] += t1 - t
            parts["forward"] += t2 - t1
            parts["backward"] += t3 - t2
            parts["optimizer"] += t4 - t3
            parts["loss.item"] += t5 - t4
        t = time.perf_counter()
        val = evaluate_loss(model, xv, cfg.batch_size * 4, torch.device("cpu"), cfg.loss)
        t1 = time.perf_counter()
        sched.step()
        t2 = time.perf_counter()
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                 "best_state": {k: v.detach().clone() for k, v in model.state_dict().items()}, "history": history}
        tmp_ck = tmp / "ck.pt.tmp"
        torch.save(state, tmp_ck)
        os.replace(tmp_ck, tmp / "ck.pt")
        t3 = time.perf_counter()
        history.append({"epoch": epoch, "val_loss": val})
        write_history(history, tmp / "h.tsv")
        t4 = time.perf_counter()
        parts["validation"] += t1 - t
        parts["scheduler"] += t2 - t1
        parts["checkpoint save"] += t3 - t2
        parts["history write"] += t4 - t3
    total = time.perf_counter() - t_all
    shutil.rmtree(tmp, ignore_errors=True)
    n_batches = math.ceil(len(xt) / cfg.batch_size)
    return {"epochs": epochs, "s_per_epoch": total / epochs, "batches_per_epoch": n_batches,
            "ms_per_batch": 1e3 * total / epochs / n_batches, "threads": torch.get_num_threads(),
            "share": {k: v / total for k, v in parts.items()},
            "other": 1 - sum(parts.values()) / total, "model_args": args}


# ------------------------------------------------------------------ memory scaling through the CLI
def _run_measured(args: list[str], env: dict) -> tuple[float, float, int]:
    """Run the ``baler`` CLI with ``args`` in a fresh process; returns (wall s, its peak RSS MB, exit status).

    The child runs ``baler_core.cli.main`` and then reports its own VmHWM (see :func:`maxrss_mb`)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss", delete=False) as f:
        rss_file = f.name
    cmd = [sys.executable, __file__, "--cli-rss", rss_file, *args]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode:
        print(f"  command failed ({p.returncode}): baler {' '.join(args)}\n{p.stderr[-2000:]}", file=sys.stderr)
    try:
        rss = float(Path(rss_file).read_text())
    except (OSError, ValueError):
        rss = float("nan")
    Path(rss_file).unlink(missing_ok=True)
    return wall, rss, p.returncode


def _prepare_memory_inputs(workdir: Path, data_path: Path, sizes: list[float]) -> None:
    """Write the inputs (run in a child: the driver stays small): jets parquet at sizes[0:2], field npy at
    sizes[2:4]."""
    jets = load_jets(data_path)
    field = np.load(workdir / "field_base.npy")
    from baler_core.io.tables import write_root_table

    for mb in sizes[:2]:
        df = tile_jets(jets, mb)
        df.to_parquet(workdir / f"jets-{mb:g}MB.parquet", index=False)
        write_root_table(df, workdir / f"jets-{mb:g}MB.root")  # baskets of 100k entries
    for mb in sizes[2:]:
        np.save(workdir / f"field-{mb:g}MB.npy", tile_field(field, mb))


def memory_scaling(workdir: Path, data_path: Path, sizes: tuple[float, float], field_sizes: tuple[float, float],
                   env: dict) -> list[dict]:
    """Peak RSS of ``baler compress`` and ``baler decompress`` (file in, file out) at two sizes 10x apart."""
    models = json.loads((workdir / "models.json").read_text())
    subprocess.run([sys.executable, __file__, "--prepare-memory", "--workdir", str(workdir), "--data",
                    str(data_path), "--mem-sizes", *map(str, [*sizes, *field_sizes])], check=True, env=env)
    _, base_rss, _ = _run_measured(["--version"], env)  # the interpreter with baler's imports, no data
    rows = []
    for kind, method, suffix, kind_sizes in (("jets", "baler-grid-zstd1", "parquet", sizes),
                                             ("jets", "baler-grid-zstd1", "root", sizes),
                                             ("jets", "baler-dense", "parquet", sizes),
                                             ("field", "baler-grid-zstd1", "npy", field_sizes),
                                             ("field", "baler-conv2d", "npy", field_sizes)):
        model = models.get(method, "none")
        extra = (["--entropy", GRID[method][0], "--level", str(GRID[method][1]), "--field-predictor", GRID[method][2]]
                 if method in GRID else [])
        per = {}
        for mb in kind_sizes:
            src = workdir / f"{kind}-{mb:g}MB.{suffix}"
            out = workdir / f"{kind}-{mb:g}MB.baler"
            back = workdir / f"{kind}-{mb:g}MB.back.{suffix}"
            tc, rc_c, st_c = _run_measured(["compress", str(src), "-m", model, "-o", str(out),
                                            "--error-bound", f"range={BOUND:g}", *extra], env)
            td, rd_c, st_d = _run_measured(["decompress", str(out), "-m", model, "-o", str(back)], env)
            per[mb] = {"compress_rss_MB": rc_c, "decompress_rss_MB": rd_c, "compress_s": tc, "decompress_s": td,
                       "ok": st_c == 0 and st_d == 0}
            for q in (out, back):
                q.unlink(missing_ok=True)
        small, large = per[kind_sizes[0]], per[kind_sizes[1]]
        for step in ("compress", "decompress"):
            a, b = small[f"{step}_rss_MB"], large[f"{step}_rss_MB"]
            rows.append({"data": kind, "step": f"baler {step} (CLI, {method}, .{suffix})", "small_MB": kind_sizes[0],
                         "large_MB": kind_sizes[1], "rss_small_MB": a, "rss_large_MB": b, "ratio": b / a,
                         "ratio_above_interpreter": (b - base_rss) / max(a - base_rss, 1e-9),
                         "interpreter_rss_MB": base_rss, "seconds_large": large[f"{step}_s"],
                         "ok": small["ok"] and large["ok"]})
    for q in [*workdir.glob("*MB.parquet"), *workdir.glob("*MB.root")]:
        q.unlink()
    for q in workdir.glob("*MB.npy"):
        q.unlink()
    return rows


def _cli_with_rss(rss_file: str, args: list[str]) -> int:
    """Run the baler CLI in this process, then write this process's peak RSS (MB) to ``rss_file``."""
    import pandas  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import baler_core.codec  # noqa: F401  (imported by every real command; counted in the baseline too)
    from baler_core.cli.main import main as cli_main

    try:
        rc = cli_main(args)
    except SystemExit as exc:  # --version exits
        rc = exc.code if isinstance(exc.code, int) else 0
    Path(rss_file).write_text(f"{maxrss_mb():.3f}")
    return rc


# ------------------------------------------------------------------ snakemake -n
def time_dry_run(repeats: int, workdir: Path) -> dict:
    """``snakemake -n`` in the repository (read-only), median of ``repeats``.

    Where a SLURM client (``scontrol``) is installed, the SLURM executor plugin runs ``scontrol show config``
    when snakemake loads it, on every invocation; without a reachable controller that call waits for its
    timeout. The dry run is timed a second time with ``scontrol`` shadowed by one that fails at once, to
    show that part separately."""
    if not (REPO / "results" / "hzz_jets" / "summary.tsv").exists():
        return {"skipped": "results/hzz_jets/summary.tsv missing: no finished default run to dry-run"}
    exe = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or shutil.which("snakemake")
    if exe is None:
        return {"skipped": "snakemake not installed"}

    def timed(env=None):
        times, p = [], None
        for _ in range(repeats):
            t0 = time.perf_counter()
            p = subprocess.run([exe, "-n"], cwd=REPO, capture_output=True, text=True, env=env)
            times.append(time.perf_counter() - t0)
        return times, p

    times, p = timed()
    text = p.stdout + p.stderr
    total = [ln for ln in text.splitlines() if ln.strip().startswith("total")]
    res = {"median_s": statistics.median(times), "times_s": times, "returncode": p.returncode,
           "nothing_to_do": "Nothing to be done" in text,
           "pending_jobs": total[-1].split()[-1] if total else "0"}
    if shutil.which("scontrol"):
        shim = workdir / "no-scontrol"
        shim.mkdir(exist_ok=True)
        (shim / "scontrol").write_text("#!/bin/sh\nexit 1\n")
        (shim / "scontrol").chmod(0o755)
        env = {**os.environ, "PATH": f"{shim}{os.pathsep}{os.environ.get('PATH', '')}"}
        res["median_s_without_scontrol"] = statistics.median(timed(env)[0])
    return res


# ------------------------------------------------------------------ driver
def fmt_table(rows: list[dict]) -> str:
    head = ["data", "size_MB", "method", "compress_MBps", "decompress_MBps", "peak_rss_MB", "ratio",
            "max_range_rel_err", "repeats"]
    lines = [head] + [[_fmt(r.get(k)) for k in head] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i not in (0, 2) else c.ljust(w) for i, (c, w) in
                               enumerate(zip(line, widths))) for line in lines)


def _fmt(v) -> str:
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) < 1e-2:
            return f"{v:.2e}"
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--cli-rss"]:  # --cli-rss FILE BALER-ARGS...: the CLI with its peak RSS written to FILE
        return _cli_with_rss(argv[1], argv[2:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes and short training: a smoke test")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"jets parquet (default {DEFAULT_DATA})")
    p.add_argument("--out", type=Path, help="also write the table as TSV here (and the full results as .json)")
    p.add_argument("--workdir", type=Path, help="scratch folder (default: a temporary one, removed at the end)")
    p.add_argument("--sizes", type=float, nargs=2, metavar=("SMALL", "LARGE"),
                   help="table sizes in MB (default 20 200; --quick 1 10)")
    p.add_argument("--field-mb", type=float, help="field size in MB (default 200; --quick 5)")
    p.add_argument("--slow", type=float, default=20.0, help="run a method once when a round trip takes longer")
    p.add_argument("--train-cap", type=float, help="seconds allowed to the default-model CPU training run")
    p.add_argument("--skip", nargs="*", default=[], help="sections to skip: table field memory train snakemake")
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--kind", help=argparse.SUPPRESS)
    p.add_argument("--mb", type=float, help=argparse.SUPPRESS)
    p.add_argument("--train-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--prepare-memory", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mem-sizes", type=float, nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--field-mem-sizes", type=float, nargs=2, metavar=("SMALL", "LARGE"),
                   help="field sizes (MB) for the memory-scaling check (default 20 200; --quick 0.5 5)")
    p.add_argument("--jets-mem-sizes", type=float, nargs=2, metavar=("SMALL", "LARGE"),
                   help="table sizes (MB) for the memory-scaling check (default 50 500; --quick: --sizes)")
    p.add_argument("--threads", type=int, help="torch threads in every measurement (default: torch's own, the "
                   "number of cores)")
    p.add_argument("--spin", action="store_true", help="leave OMP_WAIT_POLICY alone (default: PASSIVE, see README)")
    p.add_argument("--rows", type=int, default=40000, help="rows of the jets for the CPU training timing")
    a = p.parse_args(argv)
    if not a.spin:  # set before torch loads libgomp; inherited by every child
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if a.threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(a.threads)
    # the in-memory rows are a steady state (the median of three round trips in one process), as in a process
    # that codes many files: baler's compiled kernels start on the first (see baler_core/coding/jit.py); the
    # memory-scaling rows run the CLI, whose processes decide for themselves (auto)
    jit_ours = "BALER_JIT" not in os.environ
    os.environ.setdefault("BALER_JIT", "on")
    if a.prepare_memory:
        _prepare_memory_inputs(a.workdir, a.data, a.mem_sizes)
        return 0
    if a.one:  # a single measurement in a fresh process
        print(json.dumps(run_one(a.one, a.kind, a.mb, a.workdir, a.data, a.slow)), flush=True)
        return 0
    if a.train_child:
        _train_child(a.workdir, a.data, a.rows)
        return 0

    load_jets(a.data)  # fail early, with a clear message, when the shared data is absent
    sizes = tuple(a.sizes or ((1.0, 10.0) if a.quick else (20.0, 200.0)))
    # memory sizes span several coding blocks (2**18 rows, or 16 to 64 frames), so the 10x step compares
    # steady states rather than the ramp while one block fills up
    field_sizes = tuple(a.field_mem_sizes or ((0.5, 5.0) if a.quick else (20.0, 200.0)))
    jets_mem_sizes = tuple(a.jets_mem_sizes or (sizes if a.quick else (50.0, 500.0)))
    field_mb = a.field_mb or (5.0 if a.quick else 200.0)
    train_cap = a.train_cap or (20.0 if a.quick else 120.0)
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="baler-throughput-"))
    workdir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    import torch

    res: dict = {"load_avg_start": os.getloadavg(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                 "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
                 "sizes_MB": sizes, "field_MB": field_mb, "quick": a.quick}
    print(f"baler throughput benchmark: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, torch threads "
          f"{torch.get_num_threads()}, OMP_WAIT_POLICY={res['omp_wait_policy']}, workdir {workdir}", flush=True)
    try:
        print("training models on samples ...", flush=True)
        res["train_seconds"] = train_models(workdir, a.data, a.quick, 64 if a.quick else 256)
        jobs = []
        if "table" not in a.skip:
            jobs += [("jets", mb, m) for mb in sizes for m in TABLE_METHODS]
        if "field" not in a.skip:
            jobs += [("field", field_mb, m) for m in FIELD_METHODS]
        rows = []
        for kind, mb, method in jobs:
            cmd = [sys.executable, __file__, "--one", method, "--kind", kind, "--mb", str(mb), "--workdir",
                   str(workdir), "--data", str(a.data), "--slow", str(a.slow)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode:
                print(f"  {kind} {mb:g} MB {method}: FAILED\n{proc.stderr[-2000:]}", file=sys.stderr, flush=True)
                rows.append({"data": kind, "size_MB": mb, "method": method, "error": proc.stderr[-500:]})
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"  {kind} {row['size_MB']:g} MB {method}: compress {row['compress_MBps']:.1f} MB/s, "
                  f"decompress {row['decompress_MBps']:.1f} MB/s, ratio {row['ratio']:.2f}, "
                  f"peak RSS {row['peak_rss_MB']:.0f} MB", flush=True)
        res["table"] = rows
        if "memory" not in a.skip:
            print("memory scaling (baler CLI, file in / file out) ...", flush=True)
            env = {k: v for k, v in os.environ.items() if not (k == "BALER_JIT" and jit_ours)}
            res["memory"] = memory_scaling(workdir, a.data, jets_mem_sizes, field_sizes, env)
        if "train" not in a.skip:
            print(f"CPU training of the default dense model (cap {train_cap:g} s) ...", flush=True)
            res["training"] = time_default_training(workdir, a.data, a.rows, train_cap)
            res["training_profile"] = profile_training(a.data, a.rows, 1 if a.quick else 3)
        if "snakemake" not in a.skip:
            print("snakemake -n ...", flush=True)
            res["snakemake_dry_run"] = time_dry_run(1 if a.quick else 3, workdir)
    finally:
        if a.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    res["load_avg_end"] = os.getloadavg()
    res["total_s"] = time.perf_counter() - t_start
    report(res)
    if a.out:
        write_outputs(res, a.out)
    return 0


def targets(res: dict) -> list[tuple[str, str, bool | None]]:
    out = []
    rows = res.get("table", [])
    big = [r for r in rows if (r.get("data") == "jets" and r.get("size_MB", 0) >= 0.9 * res["sizes_MB"][1])
           or r.get("data") == "field"]
    for r in big:
        sz3 = next((q for q in big if q["method"] == "sz3" and q["data"] == r["data"] and "compress_MBps" in q), None)
        if r["method"].startswith("baler-") and "compress_MBps" in r:
            name = f"{r['data']} {r['method']}"
            ok_c = r["compress_MBps"] >= 100
            ok_d = r["decompress_MBps"] >= 200
            out.append((f"{name} compress >= 100 MB/s", f"{r['compress_MBps']:.1f}", ok_c))
            out.append((f"{name} decompress >= 200 MB/s", f"{r['decompress_MBps']:.1f}", ok_d))
            if sz3:
                out.append((f"{name} as fast as SZ3 (c {sz3['compress_MBps']:.0f} / d "
                            f"{sz3['decompress_MBps']:.0f} MB/s)", f"{r['compress_MBps']:.1f} / "
                            f"{r['decompress_MBps']:.1f}",
                            r["compress_MBps"] >= sz3["compress_MBps"]
                            and r["decompress_MBps"] >= sz3["decompress_MBps"]))
            out.append((f"{name} error <= {BOUND:g}", f"{r['max_range_rel_err']:.3g}",
                        r["max_range_rel_err"] <= BOUND))
    for m in res.get("memory", []):
        out.append((f"{m['data']} {m['step']}: peak RSS x{m['large_MB'] / m['small_MB']:g} input < 1.5x",
                    f"{m['ratio']:.2f}x" + ("" if m["ok"] else " (a command failed)"), m["ok"] and m["ratio"] < 1.5))
    tr = res.get("training")
    if tr:
        t = tr.get("wall_s") if tr.get("finished") else tr.get("projected_s_200_epochs")
        label = "measured" if tr.get("finished") else "projected, 200 epochs"
        out.append(("default dense training within 300 s", f"{t:.0f} s ({label})" if t else "n/a",
                    None if t is None else t <= 300))
    sm = res.get("snakemake_dry_run")
    if sm and "median_s" in sm:
        out.append(("snakemake -n < 5 s", f"{sm['median_s']:.2f} s", sm["median_s"] < 5))
    return out


def report(res: dict) -> None:
    print()
    print(f"== throughput at range-relative bound {BOUND:g} (MB = 1e6 bytes of float32 input; load average "
          f"{res['load_avg_start'][0]:.1f} -> {res['load_avg_end'][0]:.1f} on {res['cpus']} CPUs)")
    print(fmt_table([r for r in res.get("table", []) if "compress_MBps" in r]))
    for r in res.get("table", []):
        if "error" in r:
            print(f"FAILED: {r['data']} {r['size_MB']} MB {r['method']}")
    print("training on samples (s): " + ", ".join(f"{k} {v:.1f}" for k, v in res["train_seconds"].items()))
    for m in res.get("memory", []):
        print(f"memory: {m['data']:5s} {m['step']}: peak RSS {m['rss_small_MB']:.0f} MB at {m['small_MB']:g} MB -> "
              f"{m['rss_large_MB']:.0f} MB at {m['large_MB']:g} MB: x{m['ratio']:.2f} (above the "
              f"{m['interpreter_rss_MB']:.0f} MB interpreter: x{m['ratio_above_interpreter']:.2f})"
              + ("" if m["ok"] else "  [a command FAILED]"))
    tr = res.get("training")
    if tr:
        state = (f"finished in {tr['wall_s']:.0f} s, {tr['epochs']} epochs (best {tr['best_epoch']}), final "
                 f"best validation loss {tr['best_val_loss']:.4g}" if tr.get("finished") else
                 f"stopped at the {tr['cap_s']:g} s cap after {tr['epochs_done']} epochs, best validation loss so far "
                 f"{tr.get('best_val_loss_so_far', float('nan')):.4g}; projected "
                 f"{tr.get('projected_s_200_epochs', float('nan')):.0f} s "
                 f"for all 200 epochs (early stopping may end sooner)")
        print(f"CPU training, default dense (ModelConfig(ratio=4), TrainConfig()), {tr['rows']} rows: "
              f"{tr.get('epochs_per_s', float('nan')):.2f} epochs/s; {state}")
    pr = res.get("training_profile")
    if pr:
        shares = ", ".join(f"{k} {100 * v:.0f}%" for k, v in sorted(pr["share"].items(), key=lambda kv: -kv[1]))
        print(f"  per epoch {pr['s_per_epoch']:.2f} s = {pr['batches_per_epoch']} batches x "
              f"{pr['ms_per_batch']:.1f} ms "
              f"({pr['threads']} threads): {shares}, other {100 * pr['other']:.0f}%")
    sm = res.get("snakemake_dry_run")
    if sm:
        if "skipped" in sm:
            print("snakemake -n: " + sm["skipped"])
        else:
            extra = (f"; {sm['median_s_without_scontrol']:.2f} s with scontrol (SLURM client) shadowed"
                     if "median_s_without_scontrol" in sm else "")
            print(f"snakemake -n: median {sm['median_s']:.2f} s of {len(sm['times_s'])} "
                  f"({'nothing to do' if sm['nothing_to_do'] else str(sm['pending_jobs']) + ' jobs pending'}){extra}")
    print("targets:")
    for name, value, ok in targets(res):
        print(f"  [{'PASS' if ok else 'FAIL' if ok is not None else ' ?? '}] {name}: {value}")
    print(f"total {res['total_s']:.0f} s")


def write_outputs(res: dict, out: Path) -> None:
    import csv

    out.parent.mkdir(parents=True, exist_ok=True)
    keys = ["data", "size_MB", "method", "compress_MBps", "decompress_MBps", "peak_rss_MB", "ratio",
            "max_range_rel_err", "repeats", "compress_MB_per_cpu_s", "decompress_MB_per_cpu_s", "input_rss_MB",
            "lossless"]
    with open(out, "w", newline="") as f:
        w = csv.writer(f, delimiter="\t")
        w.writerow(keys)
        for r in res.get("table", []):
            w.writerow([r.get(k, "") for k in keys])
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
