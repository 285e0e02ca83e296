"""The strongest peers a user would otherwise pick (issue 31): lossless float coders (LZMA-9, pcodec,
blosc2's byte shuffle + zstd, and Meta's OpenZL with its generic graph on typed numeric input), and the
precision presets of the LHC experiments, each then stored with zstd -19 or LZMA-9.

Presets (what a physicist does without baler):
- ``atlas7`` / ``atlas10``: every float32 column's mantissa cut to 7 or 10 bits (ATLAS PHYSLITE; 10 bits took
  a real-data file from 225 to 167 MB).
- ``nanoaod``: CMS NanoAOD's choice per branch: pt and weights kept (23 bits), eta and phi at 12 bits, mass at
  10, and (our choice where NanoAOD varies by branch) every other float at 10 bits.
Integer and boolean columns are always kept.
"""

from __future__ import annotations

import lzma
import re
import time

import numpy as np
import pandas as pd
import zstandard

from baler_core.errors import InputError
from baler_core.evaluation.baselines import BaselineResult, columns_of, run_rounded

LOSSLESS = ("lzma", "pcodec", "blosc2", "openzl")
PRESETS = ("atlas7", "atlas10", "nanoaod")
AFTER = {"zstd19": ("zstd", 19), "lzma9": ("lzma", 9)}  # the lossless coder after a preset: (coder, level)
_INSTALL = {"blosc2": "pip install blosc2 (the baselines extra)", "pcodec": "pip install pcodec",
            "openzl": "pip install openzl (the baselines extra)"}


def _columns(data: pd.DataFrame | np.ndarray) -> list[np.ndarray]:
    """Contiguous flat columns, booleans as bytes (the coders take numbers)."""
    return [np.ascontiguousarray(c.astype(np.uint8) if c.dtype.kind == "b" else c).ravel() for c in columns_of(data)]


def _codec(name: str):
    """(encode, decode(blob, like)) of one lossless coder, per column."""
    if name == "lzma":
        return (lambda x: lzma.compress(x.tobytes(), preset=9),
                lambda b, like: np.frombuffer(lzma.decompress(b), dtype=like.dtype))
    try:
        if name == "pcodec":
            from pcodec import ChunkConfig, standalone

            def enc(x: np.ndarray) -> bytes:
                if x.dtype.kind in "fiu" and x.dtype.itemsize >= 2 and x.size:
                    return b"P" + standalone.simple_compress(x, ChunkConfig())
                return b"Z" + zstandard.ZstdCompressor(level=19).compress(x.tobytes())  # bytes, bools: pcodec's n/a

            def dec(b: bytes, like: np.ndarray) -> np.ndarray:
                if b[:1] == b"Z":
                    return np.frombuffer(zstandard.ZstdDecompressor().decompress(b[1:]), dtype=like.dtype)
                return standalone.simple_decompress(b[1:])

            return enc, dec
        if name == "blosc2":
            import blosc2

            return (lambda x: blosc2.compress(x, typesize=x.dtype.itemsize, clevel=9, codec=blosc2.Codec.ZSTD,
                                              filter=blosc2.Filter.SHUFFLE),
                    lambda b, like: np.frombuffer(blosc2.decompress(b), dtype=like.dtype))
        if name == "openzl":
            import openzl.ext as zl

            def enc_zl(x: np.ndarray) -> bytes:
                compressor = zl.Compressor()
                compressor.select_starting_graph(zl.graphs.Compress()(compressor))  # the generic graph
                cctx = zl.CCtx()
                cctx.ref_compressor(compressor)
                cctx.set_parameter(zl.CParam.FormatVersion, zl.MAX_FORMAT_VERSION)
                return cctx.compress([zl.Input(zl.Type.Numeric, np.ascontiguousarray(x))])

            return enc_zl, lambda b, like: zl.DCtx().decompress(b)[0].content.as_nparray().view(like.dtype)
    except ImportError as exc:
        raise ImportError(f"baseline {name} needs {_INSTALL[name]}") from exc
    raise InputError(f"lossless baseline {name!r} unknown; choose one of {', '.join(LOSSLESS)}")


def run_lossless_peer(data: pd.DataFrame | np.ndarray, name: str):
    """A lossless coder column by column; every column's round trip is checked bit for bit."""
    enc, dec = _codec(name)
    cols = _columns(data)
    raw = sum(c.nbytes for c in cols)
    t0 = time.perf_counter()
    blobs = [enc(c) for c in cols]
    t_c = time.perf_counter() - t0
    t0 = time.perf_counter()
    backs = [dec(b, c) for b, c in zip(blobs, cols)]
    t_d = time.perf_counter() - t0
    for c, y in zip(cols, backs):
        if np.asarray(y).view(np.uint8).tobytes() != c.view(np.uint8).tobytes():
            raise RuntimeError(f"{name} round trip is not exact")
    size = sum(len(b) for b in blobs)
    mb = raw / 1e6
    return BaselineResult(name, name, raw, size, raw / max(size, 1), mb / max(t_c, 1e-9), mb / max(t_d, 1e-9), True)


def preset_bits(name: str, preset: str) -> int:
    """Mantissa bits a preset keeps for a float32 column called ``name``."""
    if preset in ("atlas7", "atlas10"):
        return int(preset.removeprefix("atlas"))
    if preset != "nanoaod":
        raise InputError(f"precision preset {preset!r} unknown; choose one of {', '.join(PRESETS)}")
    token = re.split(r"[_.]", name)[-1].lower()
    if token == "pt" or "weight" in name.lower():
        return 23
    if token in ("eta", "phi"):
        return 12
    return 10  # mass, and every other float: NanoAOD's common reduced precision


def run_preset(data: pd.DataFrame | np.ndarray, preset: str, after: str):
    """A precision preset on every float32 column, then the whole table coded with ``after`` (zstd19, lzma9)."""
    if after not in AFTER:
        raise InputError(f"after a preset: choose one of {', '.join(AFTER)}, got {after!r}")
    preset_bits("", preset)  # an unknown preset is named before any work
    coder, level = AFTER[after]
    return run_rounded(data, lambda name: preset_bits(name, preset), coder, level, preset, f"{preset}-{after}")
