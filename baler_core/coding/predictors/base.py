"""What every field predictor shares: the block it is given, its interface, and the bound check.

A predictor codes a block of grid indices (``GridBlock``) into zero or more candidate ``(record, streams)``
pairs; the grid keeps the smallest. Its record carries one of the predictor's ``keys`` (the block shape), by
which the decoder finds it again."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import zstandard

from baler_core.coding import jit
from baler_core.coding.entropy import ZSTD_TRIED, Plan, encode_ints, plan_ints
from baler_core.coding.estimates import Summary, summary_of
from baler_core.errors import FormatError

MARGIN = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}  # covers rounding in |recon - x|


@dataclass(frozen=True)
class GridBlock:
    """A field block and its grid: ``x`` the values (flat, float32/64), ``tol`` the absolute bound, the grid's
    ``origin`` and ``step``. Its grid indices (``q``, every exception zeroed), the number of values the grid
    misses and their streams are computed when a predictor first asks (Lorenzo, interpolation): the transform
    and the spline code ``x`` itself, so a block the transform codes never builds them."""
    x: np.ndarray
    shape: tuple[int, ...]
    origin: float
    step: float
    tol: float
    zero_possible: bool
    entropy: str
    level: int

    def _on_grid(self) -> tuple[np.ndarray, int, dict[str, bytes]]:
        got = self.__dict__.get("_grid")
        if got is None:
            q, idx = grid_indices(self.x, self.origin, self.step, self.tol, self.zero_possible)
            got = (q, int(idx.size), exception_streams(self.x, idx, self.level))
            object.__setattr__(self, "_grid", got)
        return got

    @property
    def q(self) -> np.ndarray:
        return self._on_grid()[0]

    @property
    def n_exceptions(self) -> int:
        return self._on_grid()[1]

    @property
    def exceptions(self) -> dict[str, bytes]:
        return self._on_grid()[2]


def grid_indices(x: np.ndarray, origin: float, step: float, tol: float,
                 zero_possible: bool) -> tuple[np.ndarray, np.ndarray]:
    """``x`` (flat) on the grid ``origin + q * step`` (``rint((x - origin) / step)`` in ``x``'s dtype, int32; a
    table column's dithered grid is ``grid.encode_grid``'s): the indices with every value that misses ``tol``
    (``misses``) zeroed, and those values' positions."""
    t = x.dtype.type
    q = x - t(origin)  # >= 0, so the indices need no zigzag
    q *= t(1 / step)
    np.rint(q, out=q)
    qi = q.astype(np.int32)
    del q
    recon = grid_values(qi, origin, step, x.dtype)
    idx = np.flatnonzero(misses(x, recon, tol, zero_possible))
    del recon
    qi[idx] = 0
    return qi, idx


@dataclass(frozen=True)
class Pending:
    """An integer stream a candidate has not entropy-coded yet: the grid compares the candidates by their
    streams' sizes estimated from histograms (``entropy.plan_ints``) and codes only the one it keeps."""
    values: np.ndarray
    entropy: str
    level: int
    summary: Summary | None = None  # the values' bounds and histogram, where the producer counted them
    estimate: int | None = None  # the plan's estimate, where the producer made it (``estimates``)
    zstd_below: int = ZSTD_TRIED  # under auto, zstd is tried on streams estimated smaller (``entropy.plan_ints``)

    def _plan(self) -> Plan:
        """``entropy.plan_ints``' estimate and encoder, kept: a predictor may choose between its streams before
        the grid compares candidates, and the one kept is coded as planned."""
        plan = self.__dict__.get("_kept")
        if plan is None:
            plan = plan_ints(self.values, self.entropy, self.level, self.counted(), self.zstd_below)
            object.__setattr__(self, "_kept", plan)
        return plan

    def counted(self) -> Summary | None:
        """The values' bounds and histogram (``estimates.summary_of``; None for no values), kept: counted once,
        they serve the plan and whoever merges streams (``dct_contexts``)."""
        if self.summary is None and self.values.size:
            object.__setattr__(self, "summary", summary_of(self.values))
        return self.summary

    def size(self) -> int:
        return self.estimate if self.estimate is not None else self._plan()[0]

    def coded(self) -> bytes:
        return self._plan()[1]()


Streams = dict[str, "bytes | Pending"]


def stream_size(stream: bytes | Pending) -> int:
    """Bytes of one stream, estimated where it is pending."""
    return stream.size() if isinstance(stream, Pending) else len(stream)


def estimated_size(streams: Streams) -> int:
    """Bytes of a candidate's streams, the pending ones estimated."""
    return sum(map(stream_size, streams.values()))


def coded(streams: Streams) -> dict[str, bytes]:
    """The streams with every pending one entropy-coded."""
    return {k: v.coded() if isinstance(v, Pending) else v for k, v in streams.items()}


Candidate = tuple[dict, Streams, object]  # (record, streams, the predictor's variant that coded them)


@dataclass(frozen=True)
class Predictor:
    name: str
    keys: tuple[str, ...]  # record keys that mark a block coded by this predictor
    # a candidate per variant of the predictor (axis order, step) with None, else per variant named (as
    # candidates gave them)
    encode: Callable[[GridBlock, tuple | None], list[Candidate]]
    decode: Callable[[dict, Callable[[str], bytes], int, np.dtype], np.ndarray]  # values before exceptions


def dither_offsets(seed: int, n: int, dtype: np.dtype) -> np.ndarray:
    """Subtractive dither (Schuchman 1964; FITS tile compression's SUBTRACTIVE_DITHER_1): one offset in
    [-0.5, 0.5) grid steps per value, from the raw output of a seeded PCG64, the same on every machine and numpy
    version. Values are coded as ``rint(u - offset)`` and rebuilt as ``(q + offset) * step``: the error stays
    within half a step, but is spread evenly over the step whatever the value, so histograms binned finer than a
    few steps show no aliasing (bins that hold 3 grid points against 4 differ by 25 % without it)."""
    kernels = jit.module("pcg_kernels") if jit.active() else None
    if kernels is not None:
        return kernels.dither_offsets(seed, n, np.dtype(dtype))
    raw = np.random.PCG64(seed).random_raw(n)
    return ((raw >> np.uint64(11)).astype(np.float64) * 2.0**-53 - 0.5).astype(dtype)


def grid_offsets(q: np.ndarray, seed: int, dtype: np.dtype) -> np.ndarray:
    """The offsets of dithered grid indices ``q``: index 0 is the column's minimum itself, undithered, so a
    spike there (the exact zeros of an energy fraction) comes back exact; index k >= 1 is rebuilt as
    ``k - 1 + offset`` steps above it (the encoder adds 1 to every dithered index, so none collides with 0)."""
    offsets = dither_offsets(seed, q.size, dtype)
    offsets -= 1
    offsets[q == 0] = 0
    return offsets


def grid_values(q: np.ndarray, origin: float, step: float, dtype: np.dtype,
                offsets: np.ndarray | None = None) -> np.ndarray:
    """The grid's values (plus the dither ``offsets``, in steps), computed identically at compression and
    decompression."""
    t = np.dtype(dtype).type
    out = q.astype(dtype)
    if offsets is not None:
        out += offsets
    with np.errstate(over="ignore", invalid="ignore"):  # only a damaged file overflows; its CRC catches it
        out *= t(step)
        out += t(origin)
    return out



def misses(x: np.ndarray, recon: np.ndarray, tol: float, zero_possible: bool) -> np.ndarray:
    """Mask of values whose rebuilt value (in ``x``'s dtype) misses the bound or the sign of a zero."""
    t = x.dtype.type
    if tol == 0:
        bad = recon != x
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            diff = np.subtract(recon, x)
            np.abs(diff, out=diff)
        bad = ~(diff <= t(tol * (1 - MARGIN[x.dtype])))
    if zero_possible:
        zeros = x == 0
        if zeros.any():  # -0.0 and +0.0 both come back with their own sign
            bad |= zeros & (np.signbit(x) != np.signbit(recon))
    return bad


def exception_streams(x: np.ndarray, idx: np.ndarray, level: int) -> dict[str, bytes]:
    if not idx.size:
        return {}
    return {"exc_idx": encode_ints(np.diff(idx, prepend=0), "zstd", level),
            "exc_val": zstandard.ZstdCompressor(level=level, write_checksum=True).compress(x[idx].tobytes())}



def block_shape(rec: dict, key: str, n: int) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in rec[key])
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{key} shape {rec[key]!r} malformed") from exc
    # math.prod on Python ints: np.prod wraps around, and a hostile shape could then match n
    if not shape or len(shape) > 8 or min(shape) < 1 or max(shape) > n or math.prod(shape) != n:
        raise FormatError(f"{key} shape {shape} does not hold {n} values")
    return shape
