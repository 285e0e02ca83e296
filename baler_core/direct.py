"""Model-free coding of one column (or one field block): put every value on a uniform grid that keeps the
error bound and entropy-code the grid indices. This is the ``grid`` column mode.

It is the codec's fast path (``baler compress -m none``) and the floor every model has to beat. It needs no
torch and does its arithmetic in the column's own float dtype: a float32 column stays float32, several
times faster than the float64 path of model predictions. Values are rebuilt as ``origin + q * step`` in that
dtype by the same numpy operations at compression and at decompression, so the compressor checks the bound on
exactly the values the decompressor will return; any value that misses it is stored exactly as an exception.
Integer-valued columns get ``step = 1`` and come back exact. Field blocks try several predictors and keep the
smallest:
- the N-d Lorenzo differences of the grid indices;
- a multi-level cubic interpolation of the grid indices (both are exact integer transforms);
- ``spline``: SZ3's scheme, cubic interpolation level by level from the values already *reconstructed*, with
  the residual quantized to the bound. The float64 arithmetic is the same numpy operations in the same order
  on both sides, and values that miss the bound after the cast are stored exactly, as on the grid;
- ``dct``: transform coding with outlier correction (:mod:`baler_core.transform`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import zstandard

from . import transform
from .entropy import decode_ints, encode_ints, unzstd
from .error_bounds import Bound
from .errors import FormatError, InputError
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


def _ix(ndim: int, axis: int, sl: slice) -> tuple[slice, ...]:
    return tuple(sl if a == axis else slice(None) for a in range(ndim))


def _interp_steps(shape: tuple[int, ...], order: tuple[int, ...] | None = None
                  ) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
    """(level, axis, view) in coding order: from the coarsest stride down to 1, and per stride along each axis
    in turn (``order``, default 0, 1, ...), the points at odd multiples of the stride along that axis are
    predicted from their neighbours along it, which are already known (the multi-level interpolation of SZ3)."""
    order = tuple(range(len(shape))) if order is None else order
    levels = max(1, int(np.ceil(np.log2(max(max(shape), 2)))))
    for lev in range(levels - 1, -1, -1):
        s = 1 << lev
        for i, d in enumerate(order):
            done = order[: i + 1]
            yield lev, d, tuple(slice(0, None, s if a in done else 2 * s) for a in range(len(shape)))


def _interp_slots(shape: tuple[int, ...], order: tuple[int, ...] | None = None
                  ) -> Iterator[tuple[int, int, tuple[slice, ...]]]:
    """:func:`_interp_steps` with each level numbered 0, 1, ... from the coarsest: the index of its stream."""
    top = None
    for lev, d, sl in _interp_steps(shape, order):
        top = lev if top is None else top
        yield top - lev, d, sl


def _interp_predict(v: np.ndarray, d: int, exact: bool = True) -> np.ndarray:
    """Prediction of the odd entries of ``v`` along axis ``d`` from the even ones: cubic (-1, 9, 9, -1)/16
    where four neighbours exist, linear where two, the left one at the end. ``exact``: integer arithmetic on
    grid indices (``interp``); else float64 on reconstructed values (``spline``)."""
    e = v[_ix(v.ndim, d, slice(0, None, 2))]
    m, k = e.shape[d], v.shape[d] // 2
    left = e[_ix(v.ndim, d, slice(0, k))]
    pred = left.copy()
    if m > 1:
        r = min(k, m - 1)
        pair = left[_ix(v.ndim, d, slice(0, r))] + e[_ix(v.ndim, d, slice(1, r + 1))]
        pred[_ix(v.ndim, d, slice(0, r))] = (pair + 1) // 2 if exact else 0.5 * pair
    c = min(k, m - 2) - 1  # targets 1 .. c have neighbours i-1, i, i+1, i+2
    if c >= 1:
        t = lambda a, b: e[_ix(v.ndim, d, slice(a, b))]  # noqa: E731
        cubic = 9 * (t(1, c + 1) + t(2, c + 2)) - t(0, c) - t(3, c + 3)
        pred[_ix(v.ndim, d, slice(1, c + 1))] = (cubic + 8) // 16 if exact else cubic / 16.0
    return pred


def interp_forward(q: np.ndarray) -> list[np.ndarray]:
    """Residuals of the multi-level interpolation, one array per level (coarsest first); the first entry is
    the anchor (the value at the origin). Exact and invertible: integer predictions of integer indices."""
    q = q.astype(np.int64)
    out: list[list[np.ndarray]] = [[q[(0,) * q.ndim].reshape(1)]]
    for slot, d, sl in _interp_slots(q.shape):
        v = q[sl]
        tgt = v[_ix(v.ndim, d, slice(1, None, 2))]
        if slot + 1 == len(out):
            out.append([])
        out[slot + 1].append((tgt - _interp_predict(v, d)).ravel())
    return [np.concatenate(parts) for parts in out]


def interp_level_sizes(shape: tuple[int, ...]) -> list[int]:
    """Values per stream of :func:`interp_forward`: the anchor, then each level's targets."""
    sizes = [1]
    for slot, d, sl in _interp_slots(shape):
        n = [len(range(*s.indices(dim))) for s, dim in zip(sl, shape)]
        n[d] //= 2
        if slot + 1 == len(sizes):
            sizes.append(0)
        sizes[slot + 1] += math.prod(n)
    return sizes


def _fill_levels(rec: np.ndarray, parts: list[np.ndarray], predict: Callable[[np.ndarray, int], np.ndarray],
                 order: tuple[int, ...] | None = None) -> np.ndarray:
    """Rebuild ``rec`` level by level, in place: each target is its prediction plus its decoded residual
    (``predict`` returns their sum, in grid indices)."""
    pos = [0] * len(parts)
    for slot, d, sl in _interp_slots(rec.shape, order):
        v = rec[sl]
        odd = v[_ix(v.ndim, d, slice(1, None, 2))]
        res = parts[slot][pos[slot] : pos[slot] + odd.size].reshape(odd.shape)
        pos[slot] += odd.size
        odd[...] = predict(v, d, res)
    return rec


def interp_inverse(parts: list[np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
    q = np.zeros(shape, dtype=np.int64)
    q[(0,) * len(shape)] = parts[0][0]
    return _fill_levels(q, parts[1:], lambda v, d, res: _interp_predict(v, d) + res)


def _grid(x: np.ndarray, bound: Bound) -> dict | None:
    """Grid parameters for a finite float column, or None where the grid does not apply."""
    lo, hi = x.min(), x.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return None  # NaN or +-Inf present: the general path stores them as exceptions
    col_range = float(hi) - float(lo)
    if np.array_equal(np.rint(x), x):  # integer-valued: exact, like the model path's ``int`` mode
        if col_range > 2 * GRID_LIMIT:
            return None  # too wide for exact float32 indices: the general path's int mode keeps it exact
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


PREDICTORS = ("lorenzo", "interp", "spline", "dct")
AUTO_PREDICTORS = ("lorenzo", "spline", "dct")  # interp never beat spline in our measurements
MAX_SPLINE_RESIDUAL = 2**40  # larger residuals (wild outliers under a tiny bound): the grid predictors code them


def spline_orders(ndim: int) -> list[tuple[int, ...]]:
    """Axis orders the spline tries: for N x H x W blocks frames-first and time-last (on a laminar flow the
    first codes 12 % smaller, on decaying turbulence the second 9 %)."""
    return [(0, 1, 2), (1, 2, 0)] if ndim == 3 else [tuple(range(ndim))]


SPLIT_AXES = 2  # the split spline corrects along the 2 largest other axes (1 axis never won on a whole block);
# 0 is SZ3's plain spline, which formats 1.1 and 1.2 wrote (streams s<level>)


def _split_axes(tshape: tuple[int, ...], d: int, naxes: int) -> tuple[list[int], list[tuple[int, ...]]]:
    """Correction axes of a pass along ``d`` (the largest others with two or more targets, lower axis first on
    a tie) and the parity patterns of its sub-passes, those with fewer odd parities first."""
    axes = sorted((a for a in range(len(tshape)) if a != d and tshape[a] >= 2), key=lambda a: (-tshape[a], a))
    axes = axes[:naxes]
    return axes, sorted(itertools.product((0, 1), repeat=len(axes)), key=sum)


def _pattern_index(ndim: int, axes: list[int], pat: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(pat[axes.index(a)], None, 2) if a in axes else slice(None) for a in range(ndim))


def _interp_error(e: np.ndarray, a: int, n: int) -> np.ndarray:
    """Interpolation errors at ``n`` odd positions along ``a`` from the known ones at the even positions:
    the mean of both neighbours, the left one at the end."""
    out = e[_ix(e.ndim, a, slice(0, n))].copy()
    r = min(n, e.shape[a] - 1)
    if r > 0:
        out[_ix(e.ndim, a, slice(0, r))] = 0.5 * (e[_ix(e.ndim, a, slice(0, r))] + e[_ix(e.ndim, a, slice(1, r + 1))])
    return out


def split_spline(shape: tuple[int, ...], step: float, order: tuple[int, ...], naxes: int, anchor: float,
                 x: np.ndarray | None = None, parts: dict[str, np.ndarray] | None = None
                 ) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """SZ3's scheme, each level predicted by cubic interpolation from the values already *reconstructed*
    (float64) and the residual quantized to ``step``, with split passes: the targets of each pass are coded
    in sub-passes by their parity along ``naxes`` other axes, and a later sub-pass adds to its cubic prediction the interpolation error of its
    already rebuilt neighbours along those axes (on smooth fields neighbouring lines err alike). One function
    encodes (``x`` given: returns the residual streams ``t<level>.<odd parities>``) and decodes (``parts``
    given), so both rebuild with the same float64 operations. None when a residual is too large to code."""
    rec = np.zeros(shape)
    rec[(0,) * len(shape)] = anchor
    x64 = None if x is None else x.astype(np.float64).reshape(shape)
    out: dict[str, list[np.ndarray]] = {}
    pos: dict[str, int] = {}
    for slot, d, sl in _interp_slots(shape, order):
        v = rec[sl]
        tsl = _ix(v.ndim, d, slice(1, None, 2))
        tgt = v[tsl]
        base = _interp_predict(v, d, exact=False)
        err = np.zeros(tgt.shape)
        axes, pats = _split_axes(tgt.shape, d, naxes)
        xt = None if x64 is None else x64[sl][tsl]
        for pat in pats:
            idx = _pattern_index(v.ndim, axes, pat)
            pred = base[idx]
            corr = [_interp_error(err[tuple(slice(0, None, 2) if b == a else idx[b] for b in range(v.ndim))], a,
                                  pred.shape[a]) for a, bit in zip(axes, pat) if bit]
            if corr:
                pred = pred + sum(corr) / len(corr)
            name = f"t{slot}.{sum(pat)}"
            if xt is not None:
                q = np.rint((xt[idx] - pred) / step)
                if q.size and np.abs(q).max() > MAX_SPLINE_RESIDUAL:
                    return None
                out.setdefault(name, []).append(q.astype(np.int64).ravel())
            else:
                k = pos.get(name, 0)
                q = parts[name][k : k + pred.size].reshape(pred.shape)
                pos[name] = k + pred.size
            tgt[idx] = pred + q * step
            err[idx] = tgt[idx] - base[idx]
    return {k: np.concatenate(v) for k, v in out.items()}, rec


def split_spline_sizes(shape: tuple[int, ...], order: tuple[int, ...], naxes: int) -> dict[str, int]:
    """Values per stream of :func:`split_spline`, from the block shape alone."""
    sizes: dict[str, int] = {}
    for slot, d, sl in _interp_slots(shape, order):
        n = [len(range(*s.indices(dim))) for s, dim in zip(sl, shape)]
        n[d] //= 2
        axes, pats = _split_axes(tuple(n), d, naxes)
        for pat in pats:
            cnt = math.prod(len(range(*i.indices(dim))) for i, dim in zip(_pattern_index(len(n), axes, pat), n))
            name = f"t{slot}.{sum(pat)}"
            sizes[name] = sizes.get(name, 0) + cnt
    return sizes


def _misses(x: np.ndarray, recon: np.ndarray, tol: float, zero_possible: bool) -> np.ndarray:
    """Mask of values whose rebuilt value (in ``x``'s dtype) misses the bound or the sign of a zero."""
    t = x.dtype.type
    if tol == 0:
        bad = recon != x
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            diff = np.subtract(recon, x)
            np.abs(diff, out=diff)
        bad = ~(diff <= t(tol * (1 - _MARGIN[x.dtype])))
    if zero_possible:
        zeros = x == 0
        if zeros.any():  # -0.0 and +0.0 both come back with their own sign
            bad |= zeros & (np.signbit(x) != np.signbit(recon))
    return bad


def _exceptions(x: np.ndarray, idx: np.ndarray, level: int) -> dict[str, bytes]:
    if not idx.size:
        return {}
    return {"exc_idx": encode_ints(np.diff(idx, prepend=0), "zstd", level),
            "exc_val": zstandard.ZstdCompressor(level=level, write_checksum=True).compress(x[idx].tobytes())}


def encode_grid(x: np.ndarray, bound: Bound, entropy: str, level: int, shape: tuple[int, ...] | None = None,
                predictors: tuple[str, ...] = ("lorenzo",)) -> tuple[dict, dict[str, bytes]] | None:
    """Code a float column (any shape, coded flat) on its grid; None where the general path must do it
    (non-finite values, a grid too fine for the dtype, a bound other than abs/range). Fields pass their block
    ``shape`` and the ``predictors`` to try (``lorenzo``, ``interp``, ``spline``, ``dct``); the smallest result
    wins."""
    if x.dtype not in _MARGIN or bound.kind not in ("abs", "range") or x.size == 0:
        return None
    x = np.ascontiguousarray(x).ravel()
    p = _grid(x, bound)
    if p is None:
        return None
    unknown = [name for name in predictors if name not in PREDICTORS]
    if unknown:
        raise InputError(f"field predictor {unknown[0]!r} unknown; choose from {', '.join(PREDICTORS)}")
    t = x.dtype.type
    q = x - t(p["origin"])  # >= 0, so the indices need no zigzag
    q *= t(1 / p["step"])
    np.rint(q, out=q)
    qi = q.astype(np.int32)
    del q
    zero_possible = p["origin"] <= 0 <= p["origin"] + p["range"]
    idx = np.flatnonzero(_misses(x, grid_values(qi, p["origin"], p["step"], x.dtype), p["tol"], zero_possible))
    qi[idx] = 0
    rec = {"mode": "grid", "origin": p["origin"], "step": p["step"], "range": p["range"]}
    n_exc, grid_exc = {"n_exceptions": int(idx.size)}, _exceptions(x, idx, level)
    if shape is None:
        return {**rec, **n_exc}, {**grid_exc, "r": encode_ints(qi, entropy, level)}

    def lorenzo_cand() -> tuple[dict, dict[str, bytes]]:
        return {"lorenzo": list(shape), **n_exc}, {**grid_exc, "r": encode_ints(lorenzo(qi, shape), entropy, level)}

    cands = [lorenzo_cand()] if "lorenzo" in predictors else []
    if "interp" in predictors:
        parts = interp_forward(qi.reshape(shape))
        cands.append(({"interp": list(shape), **n_exc},
                      {**grid_exc, **{f"r{i}": encode_ints(part, entropy, level) for i, part in enumerate(parts)}}))
    for order in spline_orders(len(shape)) if "spline" in predictors and p["tol"] > 0 else []:
        got = split_spline(shape, p["step"], order, SPLIT_AXES, float(x[0]), x=x)
        if got is not None:
            parts, srec = got
            with np.errstate(over="ignore", invalid="ignore"):
                out = srec.ravel().astype(x.dtype)
            sidx = np.flatnonzero(_misses(x, out, p["tol"], zero_possible))
            cands.append(({"split_spline": list(shape), "spline_order": list(order), "split_axes": SPLIT_AXES,
                           "anchor": float(x[0]), "n_exceptions": int(sidx.size)},
                          {**_exceptions(x, sidx, level), **{k: encode_ints(v, entropy, level) for k, v in parts.items()}}))
    got = transform.encode_dct(x, shape, p["tol"], entropy, level) if "dct" in predictors and p["tol"] > 0 else None
    if got is not None:
        drec, dstreams, out = got
        didx = np.flatnonzero(transform.misses(x, out, p["tol"]))
        cands.append(({**drec, "n_exceptions": int(didx.size)}, {**_exceptions(x, didx, level), **dstreams}))
    if not cands:  # only spline or dct was asked for and it does not apply
        cands.append(lorenzo_cand())
    extra, coded = min(cands, key=lambda c: sum(map(len, c[1].values())))
    return {**rec, **extra}, coded


def _block_shape(rec: dict, key: str, n: int) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in rec[key])
    except (TypeError, ValueError) as exc:
        raise FormatError(f"{key} shape {rec[key]!r} malformed") from exc
    # math.prod on Python ints: np.prod wraps around, and a hostile shape could then match n
    if not shape or len(shape) > 8 or min(shape) < 1 or max(shape) > n or math.prod(shape) != n:
        raise FormatError(f"{key} shape {shape} does not hold {n} values")
    return shape


def decode_grid(rec: dict, read: Callable[[str], bytes], n: int, dtype: np.dtype) -> np.ndarray:
    """Rebuild a ``grid`` column of ``n`` values of ``dtype`` (float32 or float64)."""
    if np.dtype(dtype) not in _MARGIN:
        raise FormatError(f"grid column has dtype {dtype}, expected float32 or float64")
    try:
        origin, step = float(rec["origin"]), float(rec["step"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"grid column record malformed ({exc})") from exc
    key = "split_spline" if rec.get("split_spline") is not None else "spline"
    if rec.get(key) is not None:
        shape = _block_shape(rec, key, n)
        anchor = rec.get("anchor")
        if not isinstance(anchor, (int, float)) or isinstance(anchor, bool) or not step > 0:
            raise FormatError("spline block record malformed (anchor or step)")
        order = rec.get("spline_order", list(range(len(shape))))
        if (not isinstance(order, list) or not all(type(a) is int for a in order)
                or sorted(order) != list(range(len(shape)))):
            raise FormatError(f"spline axis order {order!r} is not a permutation of the block's axes")
        with np.errstate(over="ignore", invalid="ignore"):  # only a damaged file overflows
            naxes = rec.get("split_axes") if key == "split_spline" else 0
            if type(naxes) is not int or not 0 <= naxes <= len(shape):
                raise FormatError(f"split spline axis count {naxes!r} invalid")
            # the plain spline (1.1, 1.2) is the split spline without correction axes, its streams named s<level>
            sizes = split_spline_sizes(shape, tuple(order), naxes)
            streams = {k: decode_ints(read(k if naxes else f"s{k[1:-2]}"), size) for k, size in sizes.items()}
            out = split_spline(shape, step, tuple(order), naxes, float(anchor), parts=streams)[1].ravel().astype(dtype)
    elif rec.get("dct") is not None:
        out = transform.decode_dct(rec, read, _block_shape(rec, "dct", n), dtype)
    elif rec.get("interp") is not None:
        shape = _block_shape(rec, "interp", n)
        parts = [decode_ints(read(f"r{i}"), size) for i, size in enumerate(interp_level_sizes(shape))]
        out = grid_values(interp_inverse(parts, shape).ravel(), origin, step, dtype)
    else:
        q = decode_ints(read("r"), n, narrow=True)
        if rec.get("lorenzo") is not None:
            q = inverse_lorenzo(q, _block_shape(rec, "lorenzo", n))
        out = grid_values(q, origin, step, dtype)
    k = rec.get("n_exceptions", 0)
    if not isinstance(k, int) or not 0 <= k <= n:
        raise FormatError(f"exception count {k!r} out of range")
    if k:
        idx = np.cumsum(decode_ints(read("exc_idx"), k))
        if idx[0] < 0 or idx[-1] >= n or np.any(np.diff(idx) <= 0):
            raise FormatError("exception indices out of range")
        size = k * np.dtype(dtype).itemsize
        raw = unzstd(read("exc_val"), size, "exception values")
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
