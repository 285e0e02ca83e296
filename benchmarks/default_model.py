"""What a new user gets with no flags (issue 20): ``baler train X -o M`` then ``baler compress X -m M
--error-bound range=1e-3``, through the CLI as separate processes, against ``-m none``, the dense autoencoder
(``--model dense``), SZ3 per column at the same absolute bound and zstd -19, on every table given.

    python benchmarks/default_model.py                       # the shared jets and uproot-HZZ.root's jets
    python benchmarks/default_model.py --pythia events.root  # plus the jets of a Pythia NanoAOD-like file
                                                            # (python -m baler_core.sim.pythia, the sim extra)

Ratios count the decoder (``ratio_with_decoder``); every baler file is decompressed and checked against the
bound. Columns: ratio, compress MB/s of the whole ``baler compress`` process, train seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "pythia_jets_13TeV_50k.parquet"
BOUND = 1e-3


def _baler(*args: str) -> tuple[dict | None, float]:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "baler_core.cli", *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"baler {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    seconds = time.perf_counter() - t0
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    return (json.loads(last) if last.startswith("{") else None), seconds


def _flat_collection(path: str, tree: str, prefix: str) -> pd.DataFrame:
    """One row per object of a ROOT collection (``Jet_*``), as a table user would extract it."""
    import awkward as ak
    import uproot

    with uproot.open(path) as f:
        t = f[tree]
        names = [k for k in t.keys() if k.startswith(prefix)]
        arrays = t.arrays(names)
    return pd.DataFrame({n: ak.to_numpy(ak.flatten(arrays[n])) for n in names})


def _check(orig: pd.DataFrame, rec: pd.DataFrame, label: str) -> float:
    """Largest error in units of the bound (1e-3 x range per column); raises where a value breaks it."""
    worst = 0.0
    for c in orig.columns:
        a, b = orig[c].to_numpy(np.float64), rec[c].to_numpy(np.float64)
        rng = float(a.max() - a.min())
        err = float(np.max(np.abs(a - b))) / (BOUND * rng) if rng > 0 else float(np.max(np.abs(a - b)) > 0)
        if err > 1 + 1e-9:
            raise SystemExit(f"{label}: column {c} breaks the bound ({err:.3f} x)")
        worst = max(worst, err)
    return worst


def run_table(name: str, df: pd.DataFrame, work: Path) -> list[dict]:
    from baler_core.evaluation.baselines import run_error_bounded, run_lossless

    src = work / f"{name}.parquet"
    df.to_parquet(src)
    raw = int(sum(df[c].dtype.itemsize for c in df.columns) * len(df))
    rows = []
    for label, train_args in (("baler train (defaults: --model auto)", []), ("baler --model dense", ["--model",
                                                                                                  "dense"])):
        model = work / f"{name}-{len(rows)}.safetensors"
        _, t_train = _baler("train", str(src), "-o", str(model), *train_args)
        out = work / f"{name}-{len(rows)}.baler"
        info, t_c = _baler("compress", str(src), "-m", str(model), "-o", str(out), "--error-bound", f"range={BOUND}")
        back = work / f"{name}-{len(rows)}.back.parquet"
        _, t_d = _baler("decompress", str(out), "-m", str(model), "-o", str(back))
        worst = _check(df, pd.read_parquet(back), f"{name} {label}")
        rows.append({"table": name, "method": label, "model": info["model"]["name"],
                     "ratio": info["ratio_with_decoder"], "without_decoder": info["ratio_without_decoder"],
                     "compress_MBps": raw / 1e6 / t_c, "train_s": t_train, "worst": worst})
    out = work / f"{name}-none.baler"
    info, t_c = _baler("compress", str(src), "-m", "none", "-o", str(out), "--error-bound", f"range={BOUND}")
    back = work / f"{name}-none.back.parquet"
    _baler("decompress", str(out), "-o", str(back))
    rows.append({"table": name, "method": "baler -m none", "model": "none", "ratio": info["ratio_with_decoder"],
                 "without_decoder": info["ratio_with_decoder"], "compress_MBps": raw / 1e6 / t_c, "train_s": 0.0,
                 "worst": _check(df, pd.read_parquet(back), f"{name} -m none")})
    try:
        res, rec = run_error_bounded(df, "sz3", "range", BOUND)
        rows.append({"table": name, "method": "SZ3 per column", "model": "", "ratio": res.ratio,
                     "without_decoder": res.ratio, "compress_MBps": res.compress_MBps, "train_s": 0.0,
                     "worst": _check(df, rec, f"{name} SZ3")})
    except ImportError:
        print("SZ3 skipped: pip install pysz (the baselines extra)")
    res, _ = run_lossless(df, "zstd", 19)
    rows.append({"table": name, "method": "zstd -19 (lossless)", "model": "", "ratio": res.ratio,
                 "without_decoder": res.ratio, "compress_MBps": res.compress_MBps, "train_s": 0.0, "worst": 0.0})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pythia", help="a Pythia NanoAOD-like ROOT file (tree Events): its Jet_* objects as a table")
    ap.add_argument("--out", help="write the rows as TSV here")
    a = ap.parse_args()
    tables: dict[str, pd.DataFrame] = {}
    if SHARED.exists():
        tables["shared jets (50k)"] = pd.read_parquet(SHARED)
    else:
        print(f"shared jets skipped: {SHARED} is absent")
    import skhep_testdata

    tables["HZZ jets"] = _flat_collection(skhep_testdata.data_path("uproot-HZZ.root"), "events", "Jet_")
    if a.pythia:
        tables["Pythia NanoAOD jets"] = _flat_collection(a.pythia, "Events", "Jet_")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, df in tables.items():
            print(f"{name}: {len(df)} rows x {df.shape[1]} columns", flush=True)
            rows.extend(run_table(name.split(" (")[0].replace(" ", "_"), df, Path(tmp)))
    table = pd.DataFrame(rows)
    for name, part in table.groupby("table", sort=False):
        none = float(part.loc[part.method == "baler -m none", "ratio"].iloc[0])
        print(f"\n{name}, range={BOUND:g} (ratio with the decoder counted; x none = ratio / baler -m none's)")
        print("| method | model | ratio | without decoder | x none | compress MB/s | train s | worst / bound |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in part.itertuples():
            print(f"| {r.method} | {r.model} | {r.ratio:.2f} | {r.without_decoder:.2f} | {r.ratio / none:.2f} | "
                  f"{r.compress_MBps:.1f} | {r.train_s:.0f} | {r.worst:.3f} |")
    if a.out:
        table.to_csv(a.out, sep="\t", index=False)


if __name__ == "__main__":
    main()
