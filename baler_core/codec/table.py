"""Compress a table into a ``.baler`` file block by block: without a model (every column on its grid, in
parallel), with the dense autoencoder (latent stored, columns coded against its prediction), or with the
sequential model (columns in model order, each predicted from those already rebuilt)."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core import __version__
from baler_core.codec.fallback import keep_smaller
from baler_core.codec.inference import engage_kernels, float64_decoder, model_header, run_decoder, run_encoder
from baler_core.codec.latent import write_latent
from baler_core.codec.priors import bound_key, header_template, prior_set
from baler_core.codec.sequential import FirstBlock, encode_sequential
from baler_core.coding import hugepages
from baler_core.coding.column_choice import encode_best
from baler_core.coding.free import encode_free_column
from baler_core.coding.options import CompressionOptions
from baler_core.coding.parallel import ordered_map, threads
from baler_core.coding.rms import bounded
from baler_core.errors import InputError
from baler_core.format.container import ContainerWriter
from baler_core.io.tables import check_columns
from baler_core.models.auto import is_sequential
from baler_core.models.store import ModelBundle
from baler_core.progress import Progress

log = logging.getLogger(__name__)


def _check_table_columns(df: pd.DataFrame, bundle: ModelBundle, source: str) -> None:
    expected = bundle.columns
    missing = [c for c in expected if c not in df.columns]
    extra = [c for c in df.columns if c not in expected]
    if missing:
        raise InputError(f"{source}: column(s) the model expects are missing: {', '.join(missing)}")
    if extra:
        raise InputError(f"{source}: column(s) the model was not trained on: {', '.join(extra)}; "
                         "select the model's columns or train a model for them")


def _one_block(chunks: Iterable[pd.DataFrame], rows: int) -> tuple[Iterable[pd.DataFrame], pd.DataFrame | None]:
    """``(chunks, None)`` with the chunks intact, or ``(chunks, table)`` where the whole input has at most
    ``rows`` rows (read ahead only that far)."""
    it = iter(chunks)
    head: list[pd.DataFrame] = []
    n = 0
    for chunk in it:
        head.append(chunk)
        n += len(chunk)
        if n > rows:
            return itertools.chain(head, it), None
    table = pd.concat(head, ignore_index=True) if len(head) > 1 else (head[0] if head else None)
    return head, table


def _smaller_with_embedded_decoder(table: pd.DataFrame, bundle: ModelBundle, out_path: Path,
                                   opts: CompressionOptions, source: str) -> dict:
    """A table of one block with its decoder embedded: also coded without a model, the smaller file kept
    (``fallback.keep_smaller``)."""
    header = compress_table([table], bundle, out_path, opts, source, _compare=False)
    return keep_smaller(out_path, header, lambda p: compress_table([table], None, p, opts, source), source)


class _Sections:
    """A block's sections, kept until the blocks before it are written (blocks code in parallel threads)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, bytes]] = []

    def add(self, name: str, data: bytes) -> None:
        self.items.append((name, data))


def compress_table(chunks: Iterable[pd.DataFrame], bundle: ModelBundle | None, out_path: str | Path,
                   opts: CompressionOptions, source: str = "input", _compare: bool = True,
                   total_rows: int | None = None) -> dict:
    """Stream table chunks into ``out_path``; returns the header written. ``bundle=None`` codes every column
    without a model (``grid`` mode, fastest; needs an error bound). With the decoder embedded, a table of one
    block is also coded without a model and the smaller file kept (see ``_smaller_with_embedded_decoder``).
    ``total_rows`` (when known) gives the progress shown a total and an ETA. ``opts.model_fallback`` False
    (``--keep-model``) keeps the model without that comparison."""
    if bundle is not None and bundle.kind != "table":
        raise InputError(f"{source}: model is for {bundle.kind}s, not tables")
    if (_compare and opts.model_fallback and bundle is not None and opts.embed_decoder
            and all(b.kind != "none" for b in [opts.bounds.default, *opts.bounds.columns.values()])):
        chunks, table = _one_block(chunks, opts.block_rows)
        if table is not None and len(table):
            return _smaller_with_embedded_decoder(table, bundle, Path(out_path), opts, source)
    if bundle is None and any(b.kind == "none" for b in [opts.bounds.default, *opts.bounds.columns.values()]):
        raise InputError(f"{source}: compressing without a model needs an error bound on every column "
                         "(abs=, rel= or range=)")
    blob = bundle.decoder_blob() if bundle is not None else b""
    prior_key = bound_key(opts.bounds)
    priors = (prior_set(bundle, prior_key) if bundle is not None and opts.use_priors and is_sequential(bundle.model)
              else None)
    if priors is None and bundle is not None and opts.use_priors and bundle.record.get("priors"):
        log.info("%s: the model holds priors for %s, none for %s: every stream keeps its own tables", source,
                 ", ".join(bundle.record["priors"]), prior_key)
    dec64 = float64_decoder(bundle) if bundle is not None else None
    if bundle is not None:  # the compiled heads and dither offsets, where the table (rows known) pays their start
        engage_kernels(bundle, (total_rows or 0) * len(bundle.columns) * 4)
    spec = bundle.record["latent"]["dtype"] if bundle is not None else "none"
    blocks, n_total, columns = [], 0, None
    t0 = time.perf_counter()
    with ContainerWriter(out_path) as w, Progress(f"compress {Path(source).name}", total_rows) as progress:
        if opts.embed_decoder and bundle is not None:
            w.add("decoder", blob)
        empty_columns = None

        def checked() -> Iterator[tuple[int, pd.DataFrame]]:
            """The non-empty blocks, numbered, each checked against the first before it is coded."""
            nonlocal columns, empty_columns
            b = 0
            for chunk in _rechunk(chunks, opts.block_rows):
                check_columns(chunk, source)
                if bundle is not None:
                    _check_table_columns(chunk, bundle, source)
                if len(chunk) == 0:
                    empty_columns = empty_columns or [{"name": c, "dtype": chunk[c].dtype.str} for c in chunk.columns]
                    continue
                if columns is None:
                    columns = [{"name": c, "dtype": chunk[c].dtype.str} for c in chunk.columns]
                    opts.bounds.check_columns(list(chunk.columns))
                    progress.bytes_per_unit = float(sum(chunk[c].dtype.itemsize for c in chunk.columns))
                    hugepages.relax(int(progress.bytes_per_unit * max(len(chunk), total_rows or 0)))
                elif [c["name"] for c in columns] != list(chunk.columns):
                    raise InputError(f"{source}: column order changed between chunks")
                elif [c["dtype"] for c in columns] != [chunk[c].dtype.str for c in chunk.columns]:
                    raise InputError(f"{source}: column dtypes changed between chunks")
                yield b, chunk
                b += 1

        first = FirstBlock()  # the sequential model's first block: its context splits, reused by later blocks

        def encode(item: tuple[int, pd.DataFrame]) -> tuple[pd.DataFrame, dict, list[tuple[str, bytes]]]:
            b, chunk = item
            out = _Sections()
            if bundle is None:
                return chunk, _encode_free_block(out, b, chunk, opts), out.items
            if is_sequential(bundle.model):
                try:
                    return chunk, encode_sequential(out, b, chunk, bundle, dec64, opts, priors, first), out.items
                finally:
                    if b == 0:
                        first.close()
            return chunk, _encode_dense_block(out, b, chunk, bundle, dec64, opts), out.items

        # model blocks in parallel threads (their columns depend on each other); model-free blocks one at a time,
        # their columns in parallel threads
        n_threads = 1 if bundle is None else threads(opts.threads)
        if n_threads > 1 and bundle is not None and is_sequential(bundle.model):
            n_threads += 1  # the later blocks wait on the first's columns: one more keeps every core busy
        for chunk, recs_by_name, sections in ordered_map(encode, checked(), n_threads, ahead=n_threads):
            for key, data in sections:
                w.add(key, data)
            blocks.append({"rows": len(chunk), "latent": recs_by_name.pop("__latent__", {}),
                           **({"predictor": "none"} if bundle is None else {}),
                           "columns": [recs_by_name[name] for name in chunk.columns]})
            n_total += len(chunk)
            progress.update(len(chunk))
        if columns is None:
            if empty_columns is None:
                raise InputError(f"{source}: no rows and no columns to compress")
            columns = empty_columns  # a zero-row table still records its names and dtypes
        model = (model_header(bundle, blob, opts.embed_decoder) if bundle is not None else
                 {"name": "none", "decoder_sha256": None, "decoder_bytes": 0, "embedded": False, "used": False})
        header = {
            "format": "baler", "kind": "table", "baler_version": __version__, "n_rows": n_total,
            "columns": columns,
            "latent": {"dtype": spec}, "model": model, "error_bound": opts.bounds.to_dict(),
            "raw_bytes": int(n_total * sum(np.dtype(c["dtype"]).itemsize for c in columns)), "blocks": blocks,
        }
        template = None
        if any("prior" in rec for block in blocks for rec in block["columns"]):
            header["priors"] = prior_key  # the model's prior set the marked streams are coded against
            template = header_template(bundle, prior_key, "model") if opts.header_template else None
        size = w.finish(header, template)
    log.info("compressed %d rows in %.2f s into %s (%d bytes)", n_total, time.perf_counter() - t0, out_path, size)
    return header


def _encode_free_block(w: _Sections, b: int, chunk: pd.DataFrame, opts: CompressionOptions) -> dict[str, dict]:
    """Every column on its own grid, columns in parallel threads."""
    def one(name: str) -> tuple[str, dict, dict[str, bytes]]:
        return (name, *encode_free_column(chunk[name].to_numpy(), opts.bounds.for_column(name), opts))

    recs = {}
    for name, rec, streams in ordered_map(one, list(chunk.columns), threads(opts.threads)):
        for k, v in streams.items():
            w.add(f"b{b}/{name}/{k}", v)
        recs[name] = rec
    return recs


def _encode_dense_block(w: _Sections, b: int, chunk: pd.DataFrame, bundle: ModelBundle, dec64,
                        opts: CompressionOptions) -> dict[str, dict]:
    norm = bundle.normalizer
    xn = norm.transform(chunk[bundle.columns].to_numpy(dtype=np.float64))
    lat_params, zdq = write_latent(w, f"b{b}", run_encoder(bundle, xn), bundle.record["latent"]["dtype"], opts)
    pred = norm.inverse(run_decoder(dec64, zdq, None))
    recs: dict[str, dict] = {"__latent__": lat_params}
    for j, name in enumerate(bundle.columns):
        x = chunk[name].to_numpy()
        rec, streams, _ = bounded(x, opts.bounds.for_column(name), lambda b: encode_best(x, pred[:, j], b, opts, j))
        for k, v in streams.items():
            w.add(f"b{b}/{name}/{k}", v)
        recs[name] = rec
    return recs


def _rechunk(chunks: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Blocks of at most ``rows`` rows; empty chunks pass through so a zero-row table keeps its schema."""
    for chunk in chunks:
        if len(chunk) == 0:
            yield chunk
        for s in range(0, len(chunk), rows):
            yield chunk.iloc[s : s + rows].reset_index(drop=True)

