"""``spline``: SZ3's scheme, cubic interpolation level by level from the values already *reconstructed*, with
the residual quantized to the bound, plus split passes that correct a prediction by its neighbours' errors.
The float64 arithmetic is the same numpy operations in the same order on both sides, and values that miss
the bound after the cast are stored exactly, as on the grid."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

from baler_core.coding.entropy import decode_ints
from baler_core.coding.predictors.base import (
    Candidate,
    GridBlock,
    Pending,
    Predictor,
    block_shape,
    exception_streams,
    misses,
)
from baler_core.coding.predictors.levels import ix, predict, slots
from baler_core.errors import FormatError

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
    out = e[ix(e.ndim, a, slice(0, n))].copy()
    r = min(n, e.shape[a] - 1)
    if r > 0:
        out[ix(e.ndim, a, slice(0, r))] = 0.5 * (e[ix(e.ndim, a, slice(0, r))] + e[ix(e.ndim, a, slice(1, r + 1))])
    return out


def split_spline(shape: tuple[int, ...], step: float, order: tuple[int, ...], naxes: int, anchor: float,
                 x: np.ndarray | None = None, parts: dict[str, np.ndarray] | None = None
                 ) -> tuple[dict[str, np.ndarray], np.ndarray] | None:
    """SZ3's scheme, each level predicted by cubic interpolation from the values already *reconstructed*
    (float64) and the residual quantized to ``step``, with split passes: the targets of each pass are coded
    in sub-passes by their parity along ``naxes`` other axes, and a later sub-pass adds to its cubic prediction
        the interpolation error of its already rebuilt neighbours along those axes (on smooth fields neighbouring
    lines err alike). One function
    encodes (``x`` given: returns the residual streams ``t<level>.<odd parities>``) and decodes (``parts``
    given), so both rebuild with the same float64 operations. None when a residual is too large to code."""
    rec = np.zeros(shape)
    rec[(0,) * len(shape)] = anchor
    x64 = None if x is None else x.astype(np.float64).reshape(shape)
    out: dict[str, list[np.ndarray]] = {}
    pos: dict[str, int] = {}
    for slot, d, sl in slots(shape, order):
        v = rec[sl]
        tsl = ix(v.ndim, d, slice(1, None, 2))
        tgt = v[tsl]
        base = predict(v, d, exact=False)
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
    for slot, d, sl in slots(shape, order):
        n = [len(range(*s.indices(dim))) for s, dim in zip(sl, shape)]
        n[d] //= 2
        axes, pats = _split_axes(tuple(n), d, naxes)
        for pat in pats:
            cnt = math.prod(len(range(*i.indices(dim))) for i, dim in zip(_pattern_index(len(n), axes, pat), n))
            name = f"t{slot}.{sum(pat)}"
            sizes[name] = sizes.get(name, 0) + cnt
    return sizes



def _encode(b: GridBlock, variants: tuple | None = None) -> list[Candidate]:
    if b.tol <= 0:
        return []
    cands = []
    for order in spline_orders(len(b.shape)) if variants is None else variants:
        got = split_spline(b.shape, b.step, order, SPLIT_AXES, float(b.x[0]), x=b.x)
        if got is None:
            continue
        parts, srec = got
        with np.errstate(over="ignore", invalid="ignore"):
            out = srec.ravel().astype(b.x.dtype)
        sidx = np.flatnonzero(misses(b.x, out, b.tol, b.zero_possible))
        cands.append(({"split_spline": list(b.shape), "spline_order": list(order), "split_axes": SPLIT_AXES,
                       "anchor": float(b.x[0]), "n_exceptions": int(sidx.size)},
                      {**exception_streams(b.x, sidx, b.level),
                       **{k: Pending(v, b.entropy, b.level) for k, v in parts.items()}}, order))
    return cands


def _decode(rec: dict, read: Callable[[str], bytes], n: int, dtype: np.dtype) -> np.ndarray:
    key = "split_spline" if rec.get("split_spline") is not None else "spline"
    shape = block_shape(rec, key, n)
    anchor, step = rec.get("anchor"), float(rec["step"])
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
        return split_spline(shape, step, tuple(order), naxes, float(anchor), parts=streams)[1].ravel().astype(dtype)


PREDICTOR = Predictor("spline", ("split_spline", "spline"), _encode, _decode)
