"""The corrections of the transform coder (``predictors.dct``): where the inverse transform leaves a value
outside the bound, ``k`` steps of twice the half-width move it back; stored dense or, where smaller, sparse."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from baler_core.coding.entropy import decode_ints
from baler_core.coding.estimates import merged, summary_of
from baler_core.coding.predictors.base import Pending, Streams, estimated_size
from baler_core.errors import FormatError

MAX_COEF = 2**40  # the largest coefficient index or correction the format allows


def corrections(flat: np.ndarray, rec: np.ndarray, half: float, zeros: np.ndarray | None,
                kernels: ModuleType | None) -> np.ndarray | None:
    """``rint((x - rec) / 2 half)``: 0 wherever ``|x - rec| <= half`` (the quotient is then at most 0.5, which
    rounds to 0), and at exact zeros (``zeros``, None where there are none); None beyond the format's limit."""
    if kernels is not None:
        for dtype in (np.int32, np.int64):
            k = np.empty(flat.size, dtype=dtype)
            status = kernels.corrections(flat, rec, 2 * half, MAX_COEF, np.iinfo(dtype).max, k)
            if status != 2:
                return k if status == 0 else None
    e = np.subtract(flat, rec, dtype=np.float64)  # float64, as x64 - rec
    e /= 2 * half
    np.rint(e, out=e)
    if not np.abs(e).max() <= MAX_COEF:
        return None
    k = narrow(e.astype(np.int64))
    if zeros is not None:
        k[zeros] = 0
    return k


def correction_streams(k: np.ndarray, drec: dict, entropy: str, level: int) -> Streams:
    """The corrections as one stream with a value for every value (``k``), or where estimated smaller (1.13) as
    the run of zeros before each nonzero one (``kgap``) and the nonzero ones (``kval``), their count in the
    record (``dct_k``). On turbulence at range 1e-3 1-2 % of the values need a correction: the sparse form stores
    about 8 % fewer bytes for them, and its decoder reads some 60k symbols a block instead of millions."""
    nz = np.flatnonzero(k)
    if nz.size * 4 > k.size:  # a quarter or more of the values: a stream of gaps cannot win
        return {"k": Pending(k, entropy, level)}
    vals = k[nz]
    counted = summary_of(vals) if vals.size else None  # the dense stream's histogram from the nonzero values'
    zeros = (0, 0, np.array([k.size - nz.size]))
    dense = Pending(k, entropy, level, None if counted is None else merged([counted, zeros]))
    sparse = {"kgap": Pending(narrow(np.diff(nz, prepend=-1) - 1), entropy, level),
              "kval": Pending(vals, entropy, level, counted)}
    if estimated_size(sparse) >= dense.size():
        return {"k": dense}
    drec["dct_k"] = int(nz.size)
    return sparse


def read_corrections(rec: dict, read: Callable[[str], bytes], n: int) -> np.ndarray:
    """The corrections of a block of ``n`` values, stored either way (``correction_streams``)."""
    nk = rec.get("dct_k")
    if nk is None:
        return decode_ints(read("k"), n, narrow=True)
    if not isinstance(nk, int) or isinstance(nk, bool) or not 0 <= nk <= n:
        raise FormatError(f"transform block record malformed (dct_k {nk!r} for {n} values)")
    if not nk:
        return np.zeros(n, dtype=np.int32)
    gaps = decode_ints(read("kgap"), nk)
    if gaps.min() < 0 or gaps.max() >= n:
        raise FormatError("transform correction positions out of range")
    pos = np.cumsum(gaps + 1) - 1  # at most n * n: no overflow for any block a reader accepts
    if pos[-1] >= n:
        raise FormatError("transform correction positions out of range")
    vals = decode_ints(read("kval"), nk)
    wide = vals.size and (int(vals.min()) < -(2**31) or int(vals.max()) >= 2**31)
    k = np.zeros(n, dtype=np.int64 if wide else np.int32)
    k[pos] = vals
    return k


def narrow(v: np.ndarray) -> np.ndarray:
    """int32 where every value fits (half the memory of a pending stream), else the array itself."""
    if v.dtype == np.int32:
        return v
    return v.astype(np.int32) if v.size and -(2**31) < int(v.min()) and int(v.max()) < 2**31 else v
