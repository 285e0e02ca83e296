"""Model-free coding of one column (or one field block): put every value on a uniform grid that keeps the
error bound and entropy-code the grid indices. This is the ``grid`` column mode.

It is the codec's fast path (``baler compress -m none``) and the floor every model has to beat. It needs no
torch and does its arithmetic in the column's own float dtype: a float32 column stays float32, several
times faster than the float64 path of model predictions. Values are rebuilt as ``origin + q * step`` in that
dtype by the same numpy operations at compression and at decompression, so the compressor checks the bound on
exactly the values the decompressor will return; any value that misses it is stored exactly as an exception.
Integer-valued columns get ``step = 1`` and come back exact. Fields code the N-d Lorenzo differences of the
grid indices (the prediction SZ-style compressors use, applied to the quantized values).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import zstandard

from .entropy import decode_ints, encode_ints
from .error_bounds import Bound
from .errors import FormatError
from .quantization import SAFETY

GRID_LIMIT = 2**22  # at most this many steps either side of the center: indices stay exact in float32
_MARGIN = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}  # covers rounding in |recon - x|

T = TypeVar("T")
R = TypeVar("R")


def lorenzo(r: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Exact integer N-d Lorenzo transform (differences along every axis) of quantized values: smooth fields
    leave small differences, which entropy-code far better than the values themselves."""
    d = r.reshape(shape)
    for axis in range(d.ndim):
        d = np.diff(d, axis=axis, prepend=0)
    return d.ravel()


def inverse_lorenzo(d: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Running sums along every axis. Along the outer axes a loop of in-place slice additions runs about
    ten times faster than ``np.cumsum`` (which walks those axes with strided inner loops)."""
    r = np.cumsum(d.reshape(shape), axis=-1, dtype=np.int64 if d.dtype.itemsize == 8 else np.int32)
    for axis in reversed(range(r.ndim - 1)):
        if r.shape[axis] > 4096:
            np.cumsum(r, axis=axis, out=r)
            continue
        v = np.moveaxis(r, axis, 0)
        for i in range(1, v.shape[0]):
            v[i] += v[i - 1]
    return r.ravel()


def _grid(x: np.ndarray, bound: Bound) -> dict | None:
    """Grid parameters for a finite float column, or None where the grid does not apply."""
    lo, hi = x.min(), x.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None  # NaN or +-Inf present: the general path stores them as exceptions
    col_range = float(hi) - float(lo)
    integer = bool(np.array_equal(np.rint(x), x)) and max(abs(float(lo)), abs(float(hi))) < GRID_LIMIT
    if integer:
        return {"origin": float(lo), "step": 1.0, "tol": 0.0, "range": col_range}
    tol = bound.value if bound.kind == "abs" else bound.value * col_range
    step = float(x.dtype.type(2 * tol * SAFETY))
    if col_range == 0:
        step = 1.0  # every index is 0
    if not (np.isfinite(step) and step > 0) or col_range / step > 2 * GRID_LIMIT:
        return None
    return {"origin": float(lo), "step": step, "tol": tol, "range": col_range}


def grid_values(q: np.ndarray, origin: float, step: float, dtype: np.dtype) -> np.ndarray:
    """The grid's values, computed identically at compression and decompression."""
    t = np.dtype(dtype).type
    out = q.astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):  # only a damaged file overflows; its CRC catches it
        out *= t(step)
        out += t(origin)
    return out


def encode_grid(x: np.ndarray, bound: Bound, entropy: str, level: int,
                lorenzo_shape: tuple[int, ...] | None = None) -> tuple[dict, dict[str, bytes]] | None:
    """Code a float column (any shape, coded flat) on its grid; None where the general path must do it
    (non-finite values, a grid too fine for the dtype, a bound other than abs/range)."""
    if x.dtype not in _MARGIN or bound.kind not in ("abs", "range") or x.size == 0:
        return None
    x = np.ascontiguousarray(x).ravel()
    p = _grid(x, bound)
    if p is None:
        return None
    t = x.dtype.type
    q = x - t(p["origin"])  # >= 0, so the indices need no zigzag
    q *= t(1 / p["step"])
    np.rint(q, out=q)
    qi = q.astype(np.int32)
    recon = grid_values(qi, p["origin"], p["step"], x.dtype)
    if p["tol"] == 0:
        bad = recon != x
    else:
        diff = np.subtract(recon, x, out=q)
        np.abs(diff, out=diff)
        bad = ~(diff <= t(p["tol"] * (1 - _MARGIN[x.dtype])))
    if p["origin"] <= 0 <= p["origin"] + p["range"]:
        zeros = x == 0
        if zeros.any():  # -0.0 and +0.0 both come back with their own sign
            bad |= zeros & (np.signbit(x) != np.signbit(recon))
    idx = np.flatnonzero(bad)
    streams: dict[str, bytes] = {}
    if idx.size:
        qi[idx] = 0
        streams["exc_idx"] = encode_ints(np.diff(idx, prepend=0), "zstd", level)
        streams["exc_val"] = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(x[idx].tobytes())
    rec = {"mode": "grid", "origin": p["origin"], "step": p["step"], "range": p["range"],
           "n_exceptions": int(idx.size)}
    if lorenzo_shape is not None:
        rec["lorenzo"] = list(lorenzo_shape)
        qi = lorenzo(qi, lorenzo_shape)
    streams["r"] = encode_ints(qi, entropy, level)
    return rec, streams


def decode_grid(rec: dict, read: Callable[[str], bytes], n: int, dtype: np.dtype) -> np.ndarray:
    """Rebuild a ``grid`` column of ``n`` values of ``dtype`` (float32 or float64)."""
    if np.dtype(dtype) not in _MARGIN:
        raise FormatError(f"grid column has dtype {dtype}, expected float32 or float64")
    try:
        origin, step = float(rec["origin"]), float(rec["step"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"grid column record malformed ({exc})") from exc
    q = decode_ints(read("r"), n, narrow=True)
    if rec.get("lorenzo") is not None:
        shape = tuple(int(v) for v in rec["lorenzo"])
        if int(np.prod(shape)) != n or min(shape, default=1) < 0:
            raise FormatError(f"Lorenzo shape {shape} does not hold {n} values")
        q = inverse_lorenzo(q, shape)
    out = grid_values(q, origin, step, dtype)
    k = rec.get("n_exceptions", 0)
    if not isinstance(k, int) or not 0 <= k <= n:
        raise FormatError(f"exception count {k!r} out of range")
    if k:
        idx = np.cumsum(decode_ints(read("exc_idx"), k))
        if idx[0] < 0 or idx[-1] >= n or np.any(np.diff(idx) <= 0):
            raise FormatError("exception indices out of range")
        size = k * np.dtype(dtype).itemsize
        try:
            raw = zstandard.ZstdDecompressor().decompress(read("exc_val"), max_output_size=size)
        except zstandard.ZstdError as exc:
            raise FormatError(f"exception values do not decompress ({exc})") from exc
        if len(raw) != size:
            raise FormatError(f"exception values hold {len(raw)} bytes, expected {size}")
        out[idx] = np.frombuffer(raw, dtype=dtype)
    return out


def ordered_map(fn: Callable[[T], R], items: Iterable[T], threads: int) -> Iterator[R]:
    """``map`` on a thread pool, results in order, at most ``2 * threads`` items in flight (numpy, zstd and
    file reads release the GIL, so columns and blocks code in parallel with bounded memory)."""
    if threads <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(threads) as ex:
        pending = []
        for item in items:
            pending.append(ex.submit(fn, item))
            if len(pending) >= 2 * threads:
                yield pending.pop(0).result()
        for f in pending:
            yield f.result()
