"""Per-variable response and residual (mean, RMS) on the shared jets, next to the Baler study's Table 2.

The study (arXiv:2305.02283, Table 2, CMS jets, ratio 1.7) quotes: pt response RMS 2.09e-2, eta residual RMS
2.09e-3, phi residual RMS 9.91e-4, mass residual RMS 3.98e-2. Models are trained on 70 % of the jets and
evaluated on the other 30 %; ratios count every byte (decoder separately).

    python benchmarks/study_table.py [--epochs 60] [--out results/benchmarks/study_table.tsv]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.codec import CompressionOptions, compress_table, decompress, file_info
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.evaluation.metrics import per_variable_metrics
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pythia_jets_13TeV_50k.parquet"
STUDY = {"pt": ("response_rms", 2.09e-2), "eta": ("residual_rms", 2.09e-3), "phi": ("residual_rms", 9.91e-4),
         "mass": ("residual_rms", 3.98e-2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--out", default="results/benchmarks/study_table.tsv")
    a = ap.parse_args()
    if not SHARED.exists():
        raise SystemExit(f"{SHARED} is absent: this benchmark needs the shared jets table")
    df = pd.read_parquet(SHARED).drop(columns=["weight"])
    perm = np.random.default_rng(0).permutation(len(df))
    cut = int(0.7 * len(df))
    train = df.iloc[np.sort(perm[:cut])].reset_index(drop=True)
    test = df.iloc[np.sort(perm[cut:])].reset_index(drop=True)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        runs = {
            "baler-classic 24->15 float32, no bound": (
                ModelConfig(model="dense", latent_dim=15, latent_dtype="float32", decoder_dtype="float32",
                            log_columns=None),
                TrainConfig(epochs=a.epochs, batch_size=512, device="cpu"), "none"),
            "baler dense 24->12 int12 + log, no bound": (
                ModelConfig(model="dense", latent_dim=12), TrainConfig(epochs=a.epochs, batch_size=512, device="cpu"),
                "none"),
            "baler sequential, rms=1e-2": (
                ModelConfig(model="sequential", latent_dim=8),
                TrainConfig(epochs=5 * a.epochs, loss="l1", batch_size=1024, device="cpu", patience=20), "rms=1e-2"),
        }
        for label, (mc, tc, spec) in runs.items():
            bundle, _ = train_dataset(train, Path(d) / "m.safetensors", mc, tc)
            out = Path(d) / "x.baler"
            compress_table([test], bundle, out, CompressionOptions(BoundSpec(parse_bound(spec))))
            info = file_info(out)
            rec = decompress(out, bundle)
            m = per_variable_metrics(test, rec).set_index("variable")
            for var in ("pt", "eta", "phi", "mass"):
                rows.append({"run": label, "variable": var, "ratio": info["ratio_without_decoder"],
                             "ratio_with_decoder": info["ratio_with_decoder"],
                             **{k: m.loc[var, k] for k in ("response_mean", "response_rms", "residual_mean",
                                                            "residual_rms")},
                             "study_metric": STUDY[var][0], "study_value": STUDY[var][1]})
            worst = m[["response_rms"]].max().iloc[0]
            print(f"{label}: ratio {info['ratio_without_decoder']:.2f} (with decoder "
                  f"{info['ratio_with_decoder']:.2f}); worst response RMS over all 24 variables {worst:.3g}")
    table = pd.DataFrame(rows)
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3g}".format):
        print(table.to_string(index=False))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(a.out, sep="\t", index=False, float_format="%.4g")


if __name__ == "__main__":
    main()
