#!/usr/bin/env python
"""Many files, one model (issue 22): the shared jets cut into files of a few thousand rows, each compressed with
the same sequential model, against the same rows as one file; and one file's bytes with the decoder shared by
1, 10, 100 and 1,000 files.

- Data: the shared jets (50,494 x 24 float32, ``weight`` dropped), cut in their stored order (a jet's event
  neighbours stay together) into ``--files`` files of equal size.
- Model: ``--model`` or a sequential model (8 wide, L1, up to 300 epochs, patience 20) trained on every row
  first, as in ``anchors.py``.
- Pooled ratio: the raw float32 bytes of every file over the sum of the files' bytes plus the decoder's bytes
  once. Per-file overhead: the header (zstd JSON with the section index) and the integer-stream tables.

    python benchmarks/shared_model.py                          # range 1e-3 and rel 4.9e-4, 20 files
    python benchmarks/shared_model.py --bounds rms=1e-2 --files 20 --model seq.safetensors
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data" / "pythia_jets_13TeV_50k.parquet"
SHARING = (1, 10, 100, 1000)


def train(df: pd.DataFrame, path: Path) -> None:
    from baler_core.training.loop import TrainConfig
    from baler_core.training.train import ModelConfig, train_dataset

    train_dataset(df, path, ModelConfig(model="sequential", latent_dim=8),
                  TrainConfig(epochs=300, loss="l1", batch_size=1024, device="cpu", patience=20))


def header_bytes(path: Path) -> int:
    """Bytes of a ``.baler`` file's header (the zstd JSON with the section index) and trailer."""
    blob = path.read_bytes()
    n = struct.unpack_from("<Q", blob, len(blob) - 48)[0]
    return n + 8 + 48


def compress_files(parts: list[pd.DataFrame], model: Path | None, spec: str, tmp: Path) -> dict:
    """Compress each part; totals of raw bytes, file bytes, header bytes and seconds."""
    from baler_core.codec import CompressionOptions, compress_table
    from baler_core.coding.error_bounds import load_bound_spec
    from baler_core.models.store import load_model

    bundle = load_model(model) if model is not None else None
    out = {"raw": 0, "bytes": 0, "header": 0, "seconds": 0.0}
    for i, part in enumerate(parts):
        path = tmp / f"part{i}.baler"
        opts = CompressionOptions(load_bound_spec(spec))
        t = time.perf_counter()
        compress_table([part], bundle, path, opts, source=f"part {i}")
        out["seconds"] += time.perf_counter() - t
        out["raw"] += part.size * 4
        out["bytes"] += path.stat().st_size
        out["header"] += header_bytes(path)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED)
    ap.add_argument("--model", type=Path, help="sequential model file (trained on every row when absent)")
    ap.add_argument("--files", type=int, default=20, help="files to cut the rows into")
    ap.add_argument("--bounds", nargs="+", default=["range=1e-3", "rel=4.9e-4"])
    a = ap.parse_args(argv)
    if not a.data.exists():
        sys.exit(f"{a.data} is absent: give --data")
    from baler_core.models.store import load_model

    df = pd.read_parquet(a.data).drop(columns=["weight"], errors="ignore")
    with tempfile.TemporaryDirectory(prefix="baler-shared-") as d:
        tmp = Path(d)
        model = a.model
        if model is None:
            model = tmp / "seq.safetensors"
            train(df, model)
        decoder = len(load_model(model).decoder_blob())
        print(f"{len(df)} rows, {a.files} files; decoder {decoder} bytes")
        size = -(-len(df) // a.files)
        parts = [df.iloc[s : s + size].reset_index(drop=True) for s in range(0, len(df), size)]
        print("| bound | files | rows a file | pooled ratio | against one file | header bytes a file "
              "| compress s | shared by " + " / ".join(map(str, SHARING)) + " (one file) |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
        for spec in a.bounds:
            one = compress_files([df], model, spec, tmp)
            many = compress_files(parts, model, spec, tmp)
            r1 = one["raw"] / (one["bytes"] + decoder)
            rn = many["raw"] / (many["bytes"] + decoder)
            shared = " / ".join(f"{one['raw'] * k / (one['bytes'] * k + decoder):.2f}" for k in SHARING)
            for label, got, r, k in (("1", one, r1, 1), (str(len(parts)), many, rn, len(parts))):
                print(f"| {spec} | {label} | {len(df) // k} | {r:.2f} | {r / r1 - 1:+.1%} | "
                      f"{got['header'] / k:.0f} | {got['seconds']:.1f} | {shared if k == 1 else ''} |")


if __name__ == "__main__":
    main()
