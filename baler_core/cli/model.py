"""``baler`` subcommands of ``workflow/rules/model.smk`` and the user's commands: train, compress, decompress,
info."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from baler_core.cli.args import add_input_options, split_list
from baler_core.errors import InputError

log = logging.getLogger("baler")


def _write_blocks(blocks, path: Path, source: str) -> None:
    """Write decompressed blocks as they come (Parquet, NPY and ROOT stream; NPZ is written at the end)."""
    import numpy as np
    import pandas as pd

    from baler_core.codec import file_info
    from baler_core.io.fields import write_field
    from baler_core.io.tables import parquet_options, write_table

    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        try:
            for block in blocks:
                if isinstance(block, np.ndarray):
                    raise InputError(f"{source} holds a field: write it to .npy or .npz, not {path.suffix}")
                table = pa.Table.from_pandas(block, preserve_index=False)
                writer = writer or pq.ParquetWriter(path, table.schema, **parquet_options(block))
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        return
    if suffix == ".npy":  # header, then each block's bytes as it comes: flat memory, unlike a memory map
        shape = file_info(source)["shape"]
        if not shape:
            raise InputError(f"{source} holds a table: write it to .parquet, .npz or .root, not .npy")
        with open(path, "wb") as f:
            header_written = False
            for block in blocks:
                if not header_written:
                    np.lib.format.write_array_header_2_0(f, {"descr": np.lib.format.dtype_to_descr(block.dtype),
                                                            "fortran_order": False, "shape": tuple(shape)})
                    header_written = True
                f.write(np.ascontiguousarray(block).data)
        return
    if suffix == ".root":  # one TTree, extended block by block
        import uproot

        with uproot.recreate(path) as f:
            for block in blocks:
                if isinstance(block, np.ndarray):
                    raise InputError(f"{source} holds a field: write it to .npy or .npz, not {path.suffix}")
                if "events" not in f:
                    f.mktree("events", {c: block[c].dtype for c in block.columns})
                f["events"].extend({c: block[c].to_numpy() for c in block.columns})
        return
    parts = list(blocks)
    if parts and isinstance(parts[0], np.ndarray):
        write_field(np.concatenate(parts), path)
    else:
        write_table(pd.concat(parts, ignore_index=True) if len(parts) != 1 else parts[0], path)


def _cmd_train(a: argparse.Namespace) -> None:
    from baler_core.prep.normalization import Normalizer
    from baler_core.training.train import load_config, load_training_data, train_dataset

    mc, tc = load_config(a.config, a.config_json)
    for key in ("latent_dim", "ratio", "model", "latent_dtype", "decoder_dtype", "decoder_bound"):
        if getattr(a, key) is not None:
            setattr(mc, key, getattr(a, key))
    if a.latent_dim is not None:
        mc.ratio = None
    for key in ("epochs", "device", "seed", "batch_size", "lr", "patience"):
        if getattr(a, key) is not None:
            setattr(tc, key, getattr(a, key))
    data = load_training_data(a.input, split_list(a.branches), a.tree, a.cut, a.field_key)
    val = load_training_data(a.val_input, split_list(a.branches), a.tree, a.cut, a.field_key) if a.val_input else None
    norm = Normalizer.from_dict(json.loads(Path(a.normalization).read_text())) if a.normalization else None
    bundle, result = train_dataset(data, a.output, mc, tc, val, resume=a.resume, history_path=a.history,
                                   normalizer=norm)
    log.info("trained %s %s on %s: %d epochs, best validation loss %.4g at epoch %d, %.1f s on %s",
             bundle.record["model"], bundle.record["model_args"], a.input, result.epochs_run, result.best_val_loss,
             result.best_epoch, result.seconds, result.device)
    print(json.dumps({"model": str(a.output), "best_val_loss": result.best_val_loss, "epochs": result.epochs_run,
                      "seconds": round(result.seconds, 3), "device": result.device}))


def _cmd_compress(a: argparse.Namespace) -> None:
    import time

    from baler_core.codec import CompressionOptions, compress_field, compress_table, file_info, inner_reader
    from baler_core.coding.error_bounds import load_bound_spec, with_set_ranges
    from baler_core.io.fields import is_field_path, open_field
    from baler_core.io.gridded import gridded_format
    from baler_core.io.tables import iter_table_chunks
    from baler_core.models.store import load_model

    t0 = time.perf_counter()
    # light: a sequential model's decoder without torch (its 1.5 s import); other models load whole
    bundle = None if a.model == "none" else load_model(a.model, light=True)
    bounds = load_bound_spec(a.error_bound, a.error_bound_file)
    if a.range_of:
        if gridded_format(a.input) or is_field_path(a.input):
            raise InputError(f"{a.input}: --range-of takes the range bounds of table columns against a set's "
                             "range; fields keep their own")
        ranges = (bundle if bundle is not None and Path(a.range_of) == Path(a.model) else load_model(a.range_of))
        bounds = with_set_ranges(bounds, ranges.record.get("ranges"), a.range_of)
    opts = CompressionOptions(bounds=bounds, embed_decoder=a.embed_decoder, entropy=a.entropy, threads=a.threads,
                              field_predictor=a.field_predictor, dither=not a.no_dither,
                              model_fallback=not a.keep_model)
    if a.level is not None:
        opts.level = a.level
    if a.model_variables and not gridded_format(a.input):
        raise InputError(f"{a.input}: --model-variables names variables of HDF5, NetCDF or zarr files")
    if gridded_format(a.input):
        from baler_core.codec.gridded import compress_gridded
        from baler_core.io.gridded import read_gridded

        compress_gridded(read_gridded(a.input, split_list(a.variables)), a.output, opts, str(a.input), bundle,
                         split_list(a.model_variables))
    elif is_field_path(a.input):
        compress_field(open_field(a.input, a.field_key), bundle, a.output, opts, str(a.input))
    elif Path(a.input).suffix.lower() == ".root" and not a.flatten:
        from baler_core.codec.events import compress_events
        from baler_core.io.events import EventChunks

        compress_events(EventChunks(a.input, a.tree, split_list(a.branches), a.cut, a.event_chunk), bundle,
                        a.output, opts, str(a.input))
    else:
        is_root = Path(a.input).suffix.lower() == ".root"
        columns = split_list(a.branches) or (bundle.columns if is_root and bundle is not None else None)
        chunks = iter_table_chunks(a.input, columns, a.tree, a.cut, chunk_rows=opts.block_rows)
        compress_table(chunks, bundle, a.output, opts, str(a.input), total_rows=_total_rows(a.input, a.cut))
    info = {**file_info(a.output, inner_reader(bundle, a.model) if bundle is not None else None),
            "compress_seconds": time.perf_counter() - t0}
    if a.stats:
        Path(a.stats).write_text(json.dumps(info, indent=1))
    print(json.dumps(info))


def _cmd_decompress(a: argparse.Namespace) -> None:
    import time

    from baler_core.codec import iter_decompress
    from baler_core.codec.events import is_events_file, iter_events
    from baler_core.codec.gridded import is_gridded_file, write_decompressed
    from baler_core.io.events import write_events
    from baler_core.io.gridded import gridded_format
    from baler_core.models.store import load_model

    t0 = time.perf_counter()
    # light: a sequential model's decoder without torch (its 1.5 s import), the compiled heads predicting
    bundle = load_model(a.model, light=True) if a.model and a.model != "none" else None
    out = Path(a.output)
    tmp = out.with_name(f".{out.name}.part{out.suffix}")
    try:
        if is_events_file(a.input):
            write_events(iter_events(a.input, bundle, str(a.model), threads=a.threads), tmp, a.format)  # by chunk
        elif is_gridded_file(a.input):
            if not gridded_format(out):
                raise InputError(f"{out}: gridded variables are written as .h5, .nc or .zarr")
            write_decompressed(a.input, tmp, gridded_format(out), threads=a.threads, bundle=bundle,
                               model_source=str(a.model))  # frame block by block
        else:
            if a.format:
                raise InputError(f"{a.input}: --format is for event files (compressed from ROOT events)")
            _write_blocks(_shown(iter_decompress(a.input, bundle, str(a.model), threads=a.threads), a.input), tmp,
                          a.input)
    except BaseException:
        _remove(tmp)
        raise
    seconds = time.perf_counter() - t0
    if out.is_dir() and tmp.is_dir():  # a zarr store written again
        _remove(out)
    tmp.replace(out)
    if a.stats:
        Path(a.stats).write_text(json.dumps({"decompress_seconds": seconds}))
    log.info("decompressed %s into %s in %.3f s", a.input, out, seconds)


def _shown(blocks, source: str):
    """Pass decompressed blocks through, showing rows (or frames) done, MB/s and ETA."""
    from baler_core.codec import file_info
    from baler_core.progress import Progress

    info = file_info(source)
    rows = int(info["rows"] or 0)
    with Progress(f"decompress {Path(source).name}", rows or None, "frames" if info["shape"] else "rows",
                  info["raw_bytes"] / rows if rows else 0.0) as progress:
        for block in blocks:
            progress.update(len(block))
            yield block


def _total_rows(path: str, cut: str | None) -> int | None:
    """Rows of a Parquet input from its footer (for the progress shown); None when not known up front."""
    if cut or Path(path).suffix.lower() not in (".parquet", ".pq"):
        return None
    import pyarrow.parquet as pq

    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):
        return None


def _remove(p: Path) -> None:
    if p.is_dir():
        import shutil

        shutil.rmtree(p)
    else:
        p.unlink(missing_ok=True)


def _model_info(path: str, as_json: bool) -> None:
    """``baler info MODEL``: what was trained, on what, and (for ``--model auto``) why that model."""
    from baler_core.errors import FormatError
    from baler_core.models.store import load_model

    try:
        rec = load_model(path).record
    except FormatError as exc:
        raise InputError(f"{path}: neither a .baler file nor a baler model file ({exc})") from exc
    train = rec.get("training", {})
    info = {"model_file": path, "model": rec["model"], "model_args": rec["model_args"], "kind": rec["kind"],
            "columns": rec["columns"], "latent": rec.get("latent"), "decoder_dtype": rec.get("decoder_dtype"),
            "relations": sorted(rec.get("relations") or {}), "chosen_by": rec.get("chosen_by"),
            "priors": {k: len(v) for k, v in (rec.get("priors") or {}).items()},
            "training": {k: train.get(k) for k in ("epochs_run", "best_epoch", "best_val_loss", "seconds", "device",
                                                   "train_rows", "val_rows")}}
    if as_json:
        print(json.dumps(info, indent=2))
        return
    print(f"model file        {path}")
    print(f"model             {rec['model']} {json.dumps(rec['model_args'])}")
    if info["chosen_by"]:
        print(f"chosen by         --model auto: {info['chosen_by']['reason']}")
    print(f"data              {rec['kind']}, {len(rec['columns'])} column(s): {', '.join(map(str, rec['columns']))}")
    if info["relations"]:
        print(f"exact relations   {', '.join(info['relations'])}")
    if info["priors"]:
        print(f"priors            {', '.join(f'{k} ({n} columns)' for k, n in info['priors'].items())}")
    t = info["training"]
    print(f"training          {t['epochs_run']} epochs on {t['train_rows']} rows ({t['val_rows']} validation), best "
          f"validation loss {t['best_val_loss']} at epoch {t['best_epoch']}, {t['seconds']:.1f} s on {t['device']}")


def _cmd_info(a: argparse.Namespace) -> None:
    from baler_core.codec import column_costs, file_info, inner_reader
    from baler_core.format.container import MAGIC
    from baler_core.models.store import load_model

    path = Path(a.input)
    if path.is_file():
        with path.open("rb") as f:
            if f.read(len(MAGIC)) != MAGIC:  # not a .baler file: a model file (or an error naming the file)
                _model_info(a.input, a.json)
                return
    bundle = load_model(a.model) if a.model else None
    merge = inner_reader(bundle, a.model or "model") if bundle is not None or a.columns else None
    info = file_info(a.input, merge)
    costs = column_costs(a.input, merge) if a.columns else None
    if a.json:
        print(json.dumps({**info, **({"column_costs": costs} if costs is not None else {})}, indent=2))
        return
    model = info.get("model") or {}
    sha = model.get("decoder_sha256")
    print(f"file              {info['file']}  (format {info['format_version']}, {info['kind']})")
    print(f"rows              {info['rows']}" + (f"  shape {info['shape']}" if info["shape"] else ""))
    print(f"raw bytes         {info['raw_bytes']}")
    print(f"compressed bytes  {info['compressed_bytes']}")
    print(f"model             {model.get('name', 'none')}" + (f"  decoder sha256 {sha}" if sha else ""))
    print(f"decoder bytes     {info['decoder_bytes']}  ({'embedded' if info['decoder_embedded'] else 'separate'})")
    print(f"ratio             {info['ratio_without_decoder']:.3f} without decoder, "
          f"{info['ratio_with_decoder']:.3f} with decoder")
    print(f"error bound       {info['error_bound']}")
    if costs:
        width = max(len("column"), *(len(c["column"]) for c in costs))
        print(f"\n{'column':{width}s} {'dtype':8s} {'bytes':>10s} {'bits/value':>10s} {'exceptions':>10s} "
              f"{'step':>10s}  {'prior':8s} modes")
        for c in costs:
            print(f"{c['column']:{width}s} {c.get('dtype', ''):8s} {c['bytes']:10d} {c['bits_per_value']:10.3f} "
                  f"{c['exceptions']:10d} {c['step']:10.3g}  {c.get('prior') or '-':8s} {c['modes']}")


def add_model_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an autoencoder on a table or field and write a model file")
    p.add_argument("input", help="training data: .parquet, .npz (table or field), .npy (field) or .root")
    p.add_argument("-o", "--output", required=True, help="model file to write (.safetensors)")
    p.add_argument("--config", help="YAML with 'model:' and 'training:' settings (see config/README.md)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--latent-dim", type=int,
                   help="latent size (dense), latent channels (conv2d, conv3d) or modes (pod)")
    g.add_argument("--ratio", type=float, help="nominal ratio: float32 input bits / quantized latent bits")
    p.add_argument("--model", choices=["auto", "dense", "conv2d", "conv3d", "sequential", "pod"],
                   help="registry model (default auto: sequential for tables, conv2d for N x H x W fields, conv3d for "
                        "N x D x H x W); sequential: column-by-column "
                        "prediction for error-bounded table coding (--latent-dim sets its hidden width); pod: "
                        "the POD basis of a field campaign's frames (fitted in closed form, one frame shape)")
    p.add_argument("--latent-dtype", help="latent storage: float32, float16 or intN (default int12)")
    p.add_argument("--decoder-dtype", choices=["auto", "float32", "float16", "bfloat16", "grid"],
                   help="stored decoder weights (grid: each tensor within --decoder-bound of its range; "
                        "auto, the default: grid for pod, float16 for the networks)")
    p.add_argument("--decoder-bound", type=float, help="range-relative bound of grid decoder weights (default 1e-4)")
    p.add_argument("--epochs", type=int, help="maximum epochs (default 200)")
    p.add_argument("--batch-size", type=int, help="rows (or frames) per batch (default 512)")
    p.add_argument("--lr", type=float, help="learning rate (default 2e-3)")
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs")
    p.add_argument("--device", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps")
    p.add_argument("--seed", type=int, help="training seed (default 0)")
    p.add_argument("--resume", action="store_true", help="continue from MODEL.ckpt.pt if it exists")
    p.add_argument("--val-input", help="validation data (default: a held-out fraction of INPUT)")
    p.add_argument("--history", help="per-epoch history TSV to write")
    p.add_argument("--normalization", help="normalization JSON from 'baler fit-norm' (default: fit on INPUT)")
    p.add_argument("--config-json", help="inline JSON with 'model' and 'training' settings (after --config)")
    add_input_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("compress", help="compress data into a .baler file with a trained model")
    p.add_argument("input", help="data to compress: .parquet, .npz (table or field), .npy (field) or .root")
    p.add_argument("-m", "--model", required=True,
                   help="model file from 'baler train', or 'none': no model, every value on a grid that keeps "
                        "the error bound (fastest; needs --error-bound)")
    p.add_argument("-o", "--output", required=True, help=".baler file to write")
    p.add_argument("--error-bound", help="abs=X, rel=X (pointwise), range=X (of each column's range), "
                                         "rms=X (tables: response RMS per column) or none")
    p.add_argument("--error-bound-file", help="YAML {default: SPEC, columns: {name: SPEC}} with per-column bounds")
    p.add_argument("--range-of", metavar="MODEL", help="tables: range=X is X times the range of the rows MODEL was "
                   "trained on (its file set: the same precision in every file of the set) instead of each file's "
                   "own range")
    p.add_argument("--embed-decoder", action="store_true", help="store the decoder in the file (self-contained); a "
                   "field is then also coded without the model and the smaller file kept")
    p.add_argument("--keep-model", action="store_true",
                   help="with --embed-decoder: keep the model even where the field (or a table of one block) codes "
                        "smaller without it")
    p.add_argument("--entropy", choices=["auto", "ans", "zstd"], default="auto",
                   help="integer stream coder: ans (smallest), zstd (fastest, with --level 1), auto (the smaller)")
    p.add_argument("--level", type=int, help="zstd level (default 9)")
    p.add_argument("--threads", type=int, default=0,
                   help="threads (default: all cores) for model-free columns, field blocks and table blocks coded "
                        "with a model (one block in flight per thread; 1 keeps memory lowest)")
    p.add_argument("--field-predictor", choices=["auto", "lorenzo", "interp", "spline", "dct"], default="auto",
                   help="fields, blocks coded without the model: Lorenzo differences of grid indices (fastest), "
                        "cubic interpolation of grid indices, spline (cubic interpolation from reconstructed "
                        "values, as SZ3), dct (transform coding with outlier correction), or auto (lorenzo, spline "
                        "and dct, the smallest kept)")
    p.add_argument("--no-dither", action="store_true",
                   help="tables: round every value to the nearest grid point or residual step (by default the "
                        "grid and a model's residuals are dithered, which keeps the bound and leaves neither "
                        "aliasing nor the model's bias in histograms finer than a few steps)")
    p.add_argument("--stats", help="write sizes, ratios and timing as JSON to this file")
    p.add_argument("--variables", help="HDF5 / NetCDF / zarr: the fields to compress (names or glob patterns, "
                                         "comma-separated; default every float T x H x W or T x D x H x W "
                                         "variable); everything else is kept exactly")
    p.add_argument("--model-variables", help="HDF5 / NetCDF / zarr with -m MODEL: the fields the model codes "
                                               "(comma-separated names: the variable it was trained on); the other "
                                               "fields are coded without it")
    p.add_argument("--event-chunk", type=int, default=500_000,
                   help="ROOT events: entries read at a time (memory holds one chunk of one collection)")
    p.add_argument("--flatten", action="store_true",
                   help="ROOT input: store one row per object (per-event branches repeated, empty events and the "
                        "event structure lost) instead of the events")
    add_input_options(p)
    p.set_defaults(func=_cmd_compress)

    p = sub.add_parser("decompress", help="rebuild data from a .baler file and its decoder")
    p.add_argument("input", help=".baler file")
    p.add_argument("-m", "--model", help="model file (not needed when the decoder is embedded)")
    p.add_argument("-o", "--output", required=True,
                   help="output: .parquet, .npz or .root (tables), .npy/.npz (fields), .root or .parquet (events), "
                        ".h5, .nc or .zarr (gridded variables)")
    p.add_argument("--stats", help="write timing as JSON to this file")
    p.add_argument("--threads", type=int, default=0,
                   help="threads: field blocks, model-free columns and model-coded table blocks (default: all cores)")
    p.add_argument("--format", choices=["ttree", "rntuple"],
                   help="event files written to .root: TTree or RNTuple (default: the layout that was read)")
    p.set_defaults(func=_cmd_decompress)

    p = sub.add_parser("info", help="sizes and ratios of a .baler file, or what a model file holds")
    p.add_argument("input", help=".baler file, or a model file from 'baler train'")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--columns", action="store_true", help="also where the bytes go, per column")
    p.add_argument("-m", "--model", help="the model a file was compressed with: a file coded against its priors "
                   "(format 1.12) needs it for its column records, unless its decoder is embedded")
    p.set_defaults(func=_cmd_info)
