"""Compress an N x H x W (conv2d or no model) or N x D x H x W (conv3d or no model) field frame block by frame
block."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from baler_core import __version__
from baler_core.codec.fallback import keep_smaller
from baler_core.codec.inference import float64_decoder, model_header, run_decoder, run_encoder
from baler_core.codec.latent import latent_blobs
from baler_core.coding import hugepages, jit
from baler_core.coding.columns import encode_column
from baler_core.coding.free import encode_free_column
from baler_core.coding.options import CompressionOptions
from baler_core.coding.parallel import ordered_map, threads
from baler_core.coding.predictors import AUTO_PREDICTORS
from baler_core.coding.predictors.dct import MAX_AXIS
from baler_core.coding.quantization import dequantize_latent, quantize_latent
from baler_core.coding.residual_grid import encode_residual_grid
from baler_core.errors import InputError
from baler_core.format.container import ContainerWriter
from baler_core.io.fields import NpyFrames
from baler_core.io.gridded import FrameReader
from baler_core.models.store import ModelBundle
from baler_core.progress import Progress

VOLUME_BLOCK_ROWS = 10  # model-free blocks of N x D x H x W fields hold up to this many times ``block_rows`` values
# ... and of N x H x W fields up to this many: a periodic 2-D wake compresses along whole shedding periods (the
# cylinder wake, 100 x 100 x 400 at range 1e-3: 103.6x in blocks of 24 frames, 177.9x in one of 100; the same
# budget as model blocks), at about 0.1 kB of float64 work arrays a value in the DCT, two blocks at a time
FRAME_BLOCK_ROWS = 16


def block_frames(n: int, values_per_frame: int, block_values: int) -> int:
    """Frames per model-free block: as many as ``block_values`` values hold (at least one), the frames then
    shared evenly among the blocks. The time axis is where a slowly changing flow compresses: on the flow past a
    cube (frames of 98k values), p stores 67.9x in blocks of 4 frames, 115x in 8 and 232x in 24, at a peak RSS of
    0.42, 0.52 and 0.63 GB; 3-D turbulence (frames of 262k) 30.5x in 4 and 34.1x in 8, at 0.59 and 0.85 GB
    (benchmarks/README.md)."""
    most = max(1, min(block_values // max(values_per_frame, 1), MAX_AXIS))
    blocks = -(-n // most) if n else 1
    return max(1, -(-n // blocks))


def compress_field(field: np.ndarray | NpyFrames | FrameReader, bundle: ModelBundle | None, out_path: str | Path,
                   opts: CompressionOptions, source: str = "input") -> dict:
    """Compress an N x H x W field frame block by frame block. Per block the model's prediction (its residual
    coded value by value, or on the grid: ``resgrid``) and the model-free coding are tried under abs and range
    bounds and the smallest kept; ``bundle=None`` uses only the grid, blocks in parallel threads.

    The per-block choice counts no decoder: a campaign's files share one. A file that carries its decoder
    (``embed_decoder``) is also coded without a model, and the smaller file kept, so it is never larger than
    ``-m none`` (unless ``opts.model_fallback`` is off)."""
    out_path = Path(out_path)
    if bundle is None or not opts.embed_decoder or not opts.model_fallback or opts.bounds.default.kind == "none":
        return _compress_field(field, bundle, out_path, opts, source)
    header = _compress_field(field, bundle, out_path, opts, source)
    return keep_smaller(out_path, header, lambda p: _compress_field(field, None, p, opts, source), source)


def _compress_field(field: np.ndarray | NpyFrames | FrameReader, bundle: ModelBundle | None, out_path: Path,
                    opts: CompressionOptions, source: str) -> dict:
    if bundle is not None and bundle.kind != "field":
        raise InputError(f"{source}: model is for {bundle.kind}s, not fields")
    if not isinstance(field, (np.ndarray, NpyFrames, FrameReader)):
        raise InputError(f"{source}: a field must be a numpy array, got {type(field).__name__}")
    if field.ndim not in (3, 4):
        raise InputError(f"{source}: a field must be N x H x W or N x D x H x W, got shape {field.shape}")
    if min(field.shape[1:]) < 1:
        raise InputError(f"{source}: field frames must be at least 1 in every dimension, got shape {field.shape}")
    if bundle is not None and bundle.model.spatial_dims != field.ndim - 1:
        raise InputError(f"{source}: model {bundle.record['model']} codes fields of {bundle.model.spatial_dims} "
                         f"spatial axes, this field has shape {field.shape}; train conv{field.ndim - 1}d on it, "
                         f"or compress with -m none")
    if field.dtype not in (np.float32, np.float64):
        raise InputError(f"{source}: field dtype must be float32 or float64, got {field.dtype}")
    bound = opts.bounds.default
    if bundle is None and bound.kind == "none":
        raise InputError(f"{source}: compressing without a model needs an error bound (abs=, rel= or range=)")
    if bound.kind == "rms":
        raise InputError(f"{source}: rms= is a bound for table columns; give a field abs=, rel= or range=")
    check = getattr(bundle.model, "check_frame", None) if bundle is not None else None
    if check is not None:  # a model tied to one frame shape (pod)
        check(tuple(field.shape[1:]), source)
    predictors = AUTO_PREDICTORS if opts.field_predictor == "auto" else (opts.field_predictor,)
    jit.engage(math.prod(field.shape) * field.dtype.itemsize)  # the transform's compiled passes, where they pay
    hugepages.relax(math.prod(field.shape) * field.dtype.itemsize)
    spec = bundle.record["latent"]["dtype"] if bundle is not None else "none"
    blob = bundle.decoder_blob() if bundle is not None else b""
    dec64 = float64_decoder(bundle) if bundle is not None else None
    n, frame = field.shape[0], tuple(field.shape[1:])
    values_per_frame = math.prod(frame)
    # model-free blocks are coded two at a time in threads; no block is longer than the transform takes
    if bundle is None:
        budget = (VOLUME_BLOCK_ROWS if field.ndim == 4 else FRAME_BLOCK_ROWS) * opts.block_rows
        frames_per_block = block_frames(n, values_per_frame, budget)
    else:
        frames_per_block = max(1, min(opts.block_rows // values_per_frame * 16, MAX_AXIS))
    starts = range(0, n, frames_per_block)

    def free_block(s: int) -> tuple[str, dict, dict[str, bytes], list[bytes], dict]:
        x = np.asarray(field[s : s + frames_per_block])
        rec, streams = encode_free_column(x, bound, opts, x.shape if bound.kind in ("abs", "range") else None)
        return "none", rec, streams, [], {}

    def model_block(s: int) -> tuple[str, dict, dict[str, bytes], list[bytes], dict]:
        if bound.kind == "exact":  # a prediction saves nothing when every bit is kept
            return free_block(s)
        x = np.asarray(field[s : s + frames_per_block])
        lshape = x.shape if bound.kind in ("abs", "range") else None
        # candidate 1: the autoencoder's prediction (latent stored); candidate 2: no model (the grid)
        xn = bundle.normalizer.transform(x.reshape(-1, 1)).reshape(x.shape)
        stored, lat_params = quantize_latent(run_encoder(bundle, xn), spec)
        lat_blobs = latent_blobs(stored, spec, opts)
        pred = bundle.normalizer.inverse(run_decoder(dec64, dequantize_latent(stored, spec, lat_params), frame)
                                         .reshape(-1, 1)).reshape(-1)
        rec, streams, _ = encode_column(x.reshape(-1), pred, bound, opts.entropy, opts.level, lshape)
        cands = [("model", rec, streams, lat_blobs, lat_params)]
        # not under rel: a model-free rel block carries a constant prediction that readers of format 1.5 and
        # earlier do not apply to model files' blocks (they would misread it, not refuse it)
        if bound.kind in ("abs", "range"):
            cands.append(free_block(s))
            # the prediction's residual coded by the field coder: what a POD basis leaves is still smooth
            got = encode_residual_grid(x, pred, bound, opts.entropy, opts.level, x.shape, predictors)
            if got is not None:
                cands.append(("model", got[0], got[1], lat_blobs, lat_params))
        return min(cands, key=lambda c: sum(map(len, c[2].values())) + sum(map(len, c[3])))

    blocks = []
    with ContainerWriter(out_path) as w, Progress(f"compress {Path(source).name}", n, "frames",
                                                  values_per_frame * field.dtype.itemsize) as progress:
        if opts.embed_decoder and bundle is not None:
            w.add("decoder", blob)
        coded = ordered_map(free_block, starts, threads(opts.threads)) if bundle is None else map(model_block, starts)
        for b, (s, (predictor, rec, streams, lat_blobs, lat_params)) in enumerate(zip(starts, coded)):
            for c, latent_blob in enumerate(lat_blobs):
                w.add(f"b{b}/latent/{c}", latent_blob)
            for k, v in streams.items():
                w.add(f"b{b}/field/{k}", v)
            blocks.append({"rows": min(frames_per_block, n - s), "predictor": predictor, "latent": lat_params,
                           "columns": [rec]})
            progress.update(min(frames_per_block, n - s))
        model_used = any(blk["predictor"] == "model" for blk in blocks) or (not blocks and bundle is not None)
        model = (model_header(bundle, blob, opts.embed_decoder) if bundle is not None else
                 {"name": "none", "decoder_sha256": None, "decoder_bytes": 0, "embedded": False})
        header = {
            "format": "baler", "kind": "field", "baler_version": __version__, "n_rows": n, "shape": [n, *frame],
            "columns": [{"name": "field", "dtype": field.dtype.str}], "latent": {"dtype": spec},
            "model": {**model, "used": model_used}, "error_bound": opts.bounds.to_dict(),
            "raw_bytes": int(field.size * field.dtype.itemsize), "blocks": blocks,
        }
        w.finish(header)
    return header

