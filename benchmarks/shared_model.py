#!/usr/bin/env python
"""Many files, one model (issue 22): the shared jets cut into files of a few thousand rows, each compressed with
the same sequential model, against the same rows as one file; and one file's bytes with the decoder shared by
1, 10, 100 and 1,000 files.

- Data: the shared jets (50,494 x 24 float32, ``weight`` dropped), cut in their stored order (a jet's event
  neighbours stay together) into ``--files`` files of equal size.
- Model: ``--model`` or a sequential model (8 wide, L1, up to 300 epochs, patience 20) trained on every row
  first, as in ``anchors.py``.
- Priors (``baler fit-priors``): fitted for each bound on every row (the rows the model was trained on) into a
  copy of the model, with the set's ranges and header template; each point is compressed with them and without
  (``use_priors=False``), the decoder's bytes (with or without the priors) counted once.
- ``--set-range``: a ``range=X`` bound is also run against the set's range (``set-range=X``, ``baler compress
  --range-of``, the file-set pipeline's default): the precision one file of all rows has, the same in every small
  file. Under ``range=X`` each small file's bound is X times its own, narrower, range: a tighter bound, more bytes.
- Pooled ratio: the raw float32 bytes of every file over the sum of the files' bytes plus the decoder's bytes
  once. Header: the zstd JSON with the section index, and the trailer.

    python benchmarks/shared_model.py                          # range 1e-3 and rel 4.9e-4, 20 files
    python benchmarks/shared_model.py --bounds rms=1e-2 --files 20 --model seq.safetensors --set-range
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
    """Bytes of a ``.baler`` file's header (the zstd JSON with the section index, and the column records of
    section ``head`` where they were coded against the model's template) and trailer."""
    from baler_core.format.container import INNER_SECTION, ContainerReader

    blob = path.read_bytes()
    n = struct.unpack_from("<Q", blob, len(blob) - 48)[0]
    with ContainerReader(path, verify=False) as rd:
        inner = rd.section_bytes(INNER_SECTION)
    return n + 8 + 48 + inner


def bounds_of(spec: str, model: Path):
    """The BoundSpec of ``spec``; ``set-range=X``: range=X against the set's range ``model`` records (``baler
    compress --range-of``)."""
    from baler_core.coding.error_bounds import load_bound_spec, with_set_ranges
    from baler_core.models.store import load_model

    if spec.startswith("set-range="):
        return with_set_ranges(load_bound_spec(spec[4:]), load_model(model).record.get("ranges"), str(model))
    return load_bound_spec(spec)


def with_priors(model: Path, df: pd.DataFrame, bounds, out: Path) -> Path:
    """A copy of ``model`` with priors for ``bounds`` fitted on ``df``."""
    from baler_core.codec.priors import add_priors, fit_priors
    from baler_core.models.store import load_model

    bundle = load_model(model)
    add_priors(model, out, bundle, bounds, fit_priors(bundle, df, bounds), df)
    return out


def compress_files(parts: list[pd.DataFrame], model: Path | None, bounds, tmp: Path, use_priors: bool = True
                   ) -> dict:
    """Compress each part; totals of raw bytes, file bytes, header bytes and seconds."""
    from baler_core.codec import CompressionOptions, compress_table
    from baler_core.models.store import load_model

    bundle = load_model(model) if model is not None else None
    out = {"raw": 0, "bytes": 0, "header": 0, "seconds": 0.0}
    for i, part in enumerate(parts):
        path = tmp / f"part{i}.baler"
        opts = CompressionOptions(bounds, use_priors=use_priors)
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
    ap.add_argument("--set-range", action="store_true", help="also run range=X bounds as set-range=X")
    a = ap.parse_args(argv)
    if not a.data.exists():
        sys.exit(f"{a.data} is absent: give --data")
    from baler_core.models.store import load_model

    df = pd.read_parquet(a.data).drop(columns=["weight"], errors="ignore")
    specs = [*a.bounds, *(f"set-{s}" for s in a.bounds if a.set_range and s.startswith("range="))]
    with tempfile.TemporaryDirectory(prefix="baler-shared-") as d:
        tmp = Path(d)
        model = a.model
        if model is None:
            model = tmp / "seq.safetensors"
            train(df, model)
        size = -(-len(df) // a.files)
        parts = [df.iloc[s : s + size].reset_index(drop=True) for s in range(0, len(df), size)]
        print(f"{len(df)} rows, {len(parts)} files of {size} rows; decoder without priors "
              f"{len(load_model(model).decoder_blob())} bytes")
        print("| bound | priors | decoder bytes | one file | " + f"{len(parts)} files | against one file | "
              "header bytes a file | one file shared by " + " / ".join(map(str, SHARING)) + " |")
        print("|---|---|---:|---:|---:|---:|---:|---|")
        for spec in specs:
            fitted = with_priors(model, df, bounds_of(spec.removeprefix("set-"), model), tmp / "priors.safetensors")
            bounds = bounds_of(spec, fitted)
            for use in (False, True):
                decoder = len(load_model(fitted if use else model).decoder_blob())
                one = compress_files([df], fitted, bounds, tmp, use)
                many = compress_files(parts, fitted, bounds, tmp, use)
                r1, rn = one["raw"] / (one["bytes"] + decoder), many["raw"] / (many["bytes"] + decoder)
                shared = " / ".join(f"{one['raw'] * k / (one['bytes'] * k + decoder):.2f}" for k in SHARING)
                print(f"| {spec} | {'yes' if use else 'no'} | {decoder} | {r1:.2f} | {rn:.2f} | {rn / r1 - 1:+.1%} | "
                      f"{many['header'] / len(parts):.0f} | {shared} |", flush=True)


if __name__ == "__main__":
    main()
