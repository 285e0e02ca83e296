"""The ``exact`` bound: a column kept bit for bit (NanoAOD keeps pt and weights at full precision).

Two well-kept lossless coders are tried and the smaller stream kept: byte shuffle (the value's bytes regrouped
into planes, as blosc and HDF5's shuffle filter do) followed by zstd, and pcodec (Pco: numeric compression
that finds the values' distribution and any common multiplier or float structure). NaN payloads, signed zeros
and infinities come back unchanged, since both coders work on the bits.
"""

from __future__ import annotations

import numpy as np
import zstandard
from pcodec import ChunkConfig, standalone

from baler_core.coding.entropy import unzstd
from baler_core.errors import FormatError

CODECS = ("shuffle-zstd", "pcodec")
_PCODEC_DTYPES = {np.dtype(t) for t in ("float32", "float64", "int32", "int64", "uint32", "uint64", "int16",
                                          "uint16", "float16")}


def _store_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.uint8) if dtype.kind == "b" else dtype.newbyteorder("<")


def _shuffle_zstd(x: np.ndarray, level: int) -> bytes:
    planes = np.ascontiguousarray(x.view(np.uint8).reshape(-1, x.dtype.itemsize).T)
    return zstandard.ZstdCompressor(level=level, write_checksum=True).compress(planes.tobytes())


def _pcodec(x: np.ndarray) -> bytes | None:
    if x.dtype not in _PCODEC_DTYPES or x.size == 0:
        return None
    return standalone.simple_compress(x, ChunkConfig())


def encode_exact(x: np.ndarray, level: int) -> tuple[dict, dict[str, bytes], np.ndarray]:
    """``(record, streams, reconstruction)`` of a column kept exactly: the smaller of the two coders."""
    dt = _store_dtype(x.dtype)
    v = np.ascontiguousarray(x.ravel()).astype(dt, copy=False)
    cands = {"shuffle-zstd": _shuffle_zstd(v, level)}
    pco = _pcodec(v)
    if pco is not None:
        cands["pcodec"] = pco
    codec = min(cands, key=lambda k: len(cands[k]))
    return {"mode": "exact", "codec": codec}, {"x": cands[codec]}, x


def decode_exact(rec: dict, read, n: int, dtype: np.dtype) -> np.ndarray:
    dt = _store_dtype(dtype)
    codec = rec.get("codec")
    blob = read("x")
    if codec == "shuffle-zstd":
        planes = np.frombuffer(unzstd(blob, n * dt.itemsize, "exact column"), dtype=np.uint8)
        out = np.ascontiguousarray(planes.reshape(dt.itemsize, n).T).view(dt).reshape(n)
    elif codec == "pcodec":
        if dt not in _PCODEC_DTYPES:
            raise FormatError(f"exact column: pcodec stream for dtype {dtype}")
        out = np.empty(n, dtype=dt.newbyteorder("="))  # decoded into n values: a forged stream cannot grow it
        try:
            progress = standalone.simple_decompress_into(blob, out)
        except Exception as exc:  # the Rust core raises its own error types
            raise FormatError(f"exact column: pcodec stream damaged ({exc})") from exc
        if progress.n_processed != n or not progress.finished:
            raise FormatError(f"exact column: pcodec stream holds other than {n} values")
    else:
        raise FormatError(f"exact column: unknown codec {codec!r}")
    return out.astype(dtype, copy=False) if dtype.kind == "b" else out.astype(dtype.newbyteorder("="), copy=False)
