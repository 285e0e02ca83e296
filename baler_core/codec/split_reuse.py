"""The first block's context splits, reused by the later blocks of a table coded with the sequential model.

The context search (which earlier column, or the column's own dither, splits a stream into groups with their
own histograms) was half of the sequential model's compression time. A file's first block searches; a later
block takes the first block's split of each stream (the same items, each edge kept clear of this block's
values: :func:`reused_groups`) and keeps it where it codes smaller than one stream; it also codes each column the
way the first block chose among its three codings (``coding.column_choice``). It waits for each column of
the first block (:class:`FirstBlock`), not for the whole block, so blocks still code in parallel, and the file
is byte for byte the same with any number of threads.

A block whose columns are distributed unlike the first block's (:func:`drifted`: a table sorted by pt, files
of different samples joined) searches every split itself: there the first block's splits lose (27 % of the
file on jets sorted by pt).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pandas as pd

from baler_core.coding import contexts, jit
from baler_core.errors import FormatError

Records = dict[str, dict]  # column -> its record in a block
PROFILE_BINS = 16  # quantile bins of each column that a block's distribution is compared in
PROFILE_ROWS = 1 << 15  # rows the bins' edges are placed on (every stride-th)
DRIFT = 0.05  # most total-variation distance of any column's bin fractions for a block to reuse the splits,
# beyond the sampling noise of the two blocks' fractions (2 sqrt(bins / rows): 0.016 for blocks of 2**18 rows)

Profile = dict[str, tuple[np.ndarray, np.ndarray]]  # column -> (bin edges, fraction of rows in each bin)


def profile(chunk: pd.DataFrame, columns: list[str], edges: Profile | None = None) -> Profile:
    """Each column's fractions of rows in ``PROFILE_BINS`` quantile bins (the last bin: non-finite values),
    in the bins of ``edges`` where given (another block's profile)."""
    kernels = jit.module("group_kernels") if jit.active() else None
    out = {}
    for name in columns:
        x = chunk[name].to_numpy()
        if edges is not None:
            e = edges[name][0]
        else:
            fin = x[:: max(1, x.size // PROFILE_ROWS)].astype(np.float64)
            fin = fin[np.isfinite(fin)]
            e = np.unique(np.quantile(fin, np.arange(1, PROFILE_BINS) / PROFILE_BINS)) if fin.size else np.zeros(0)
        if kernels is not None and x.dtype.kind in "fiu":
            counts = kernels.bin_counts(x, e)
        else:
            x = x.astype(np.float64)
            bins = np.searchsorted(e, x, side="right")
            bins[~np.isfinite(x)] = e.size + 1
            counts = np.bincount(bins, minlength=e.size + 2)
        out[name] = (e, counts / max(x.size, 1))
    return out


def drifted(reference: Profile, chunk: pd.DataFrame) -> bool:
    """Whether any column of ``chunk`` is distributed unlike in ``reference`` (total variation above DRIFT)."""
    here = profile(chunk, list(reference), reference)
    limit = DRIFT + 2 * np.sqrt(PROFILE_BINS / max(len(chunk), 1))
    return any(0.5 * float(np.abs(here[c][1] - reference[c][1]).sum()) > limit for c in reference)


class FirstBlock:
    """The first block's column records, each given out as soon as it is coded: a later block, coded in another
    thread, waits for column j's record when it reaches column j, so blocks still code in parallel."""

    def __init__(self) -> None:
        self._recs: Records = {}
        self._reference: Profile | None = None
        self._done = False
        self._cond = threading.Condition()

    def put(self, name: str, rec: dict) -> None:
        with self._cond:
            self._recs[name] = rec
            self._cond.notify_all()

    def describe(self, chunk: pd.DataFrame, columns: list[str]) -> None:
        """The first block's distribution (:func:`profile`), for later blocks to compare themselves with."""
        reference = profile(chunk, columns)
        with self._cond:
            self._reference = reference
            self._cond.notify_all()

    def reuses(self, chunk: pd.DataFrame) -> bool:
        """Whether a later ``chunk`` takes the first block's splits: it resembles the first block."""
        with self._cond:
            self._cond.wait_for(lambda: self._reference is not None or self._done)
            reference = self._reference
        return reference is not None and not drifted(reference, chunk)

    def close(self) -> None:
        """No more records (the first block is coded, or failed: later blocks then search for themselves)."""
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def get(self, name: str) -> dict | None:
        with self._cond:
            self._cond.wait_for(lambda: name in self._recs or self._done)
            return self._recs.get(name)


def reused_groups(items: list, n: int, recon: dict[str, np.ndarray],
                  dither: tuple[dict[str, np.ndarray], float] | None) -> tuple[np.ndarray, int, list] | None:
    """This block's groups under split ``items`` chosen on another block, their number and the items as this
    block stores them; None where they do not apply here (a context this block lacks, or an edge that cannot be
    kept clear of this block's values). An edge must lie as far from every value as ``contexts`` places edges
    (half of ``GAP`` relative for a column's values, the dither's gap for its phase and position), so that values
    rebuilt a few ulps apart on another machine fall in the same groups; one too near is moved to the nearest
    gap of this block's values that is wide enough."""
    fitted = []
    for item in items:
        edges = np.asarray(item["edges"], dtype=np.float64)
        try:
            _, c = contexts.item_values(item, recon, None if dither is None else dither[0])
        except FormatError:  # a context this block lacks
            return None
        if "dither" in item:
            gap = dither[1]
            # IndexSource clips its edges to exactly the gap from a value: allow the rounding of that
            tol = (lambda e, gap=gap: np.full(e.size, gap * (1 - 1e-6))) if gap > 0 else (lambda e: np.zeros(e.size))
        else:  # the rule of contexts.Source: GAP relative to the values, at least 1e-3 of the largest
            big = np.abs(c[np.isfinite(c)])
            floor = 1e-3 * float(big.max()) if big.size else 0.0
            tol = lambda e, floor=floor: 0.5 * contexts.GAP * np.maximum(np.abs(e), floor)  # noqa: E731
        edges = _clear_edges(c[np.isfinite(c)], edges, tol)
        if edges is None:
            return None
        fitted.append({**item, "edges": [float(e) for e in edges]})
    try:
        g, k = contexts.item_groups(fitted, n, recon, None if dither is None else dither[0])
    except FormatError:
        return None
    return g, k, fitted


def edges_near(fin: np.ndarray, edges: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """Which edges have a value of ``fin`` within their ``tol`` (a value exactly ``tol`` away counts as clear)."""
    kernels = jit.module("group_kernels") if jit.active() else None
    if kernels is not None:
        return kernels.near_edges(fin, edges, tol)
    i = np.searchsorted(edges, fin)  # edges[i - 1] < v <= edges[i]
    bad = np.zeros(edges.size, bool)
    up, lo = i < edges.size, i > 0
    d, t = edges[i[up]] - fin[up], tol[i[up]]
    bad[i[up][(d < t) | (d <= 0)]] = True  # a zero tolerance still needs the value off the edge
    d, t = fin[lo] - edges[i[lo] - 1], tol[i[lo] - 1]
    bad[i[lo][(d < t) | (d <= 0)] - 1] = True
    return bad


def _clear_edges(fin: np.ndarray, edges: np.ndarray, tol: Callable[[np.ndarray], np.ndarray]) -> np.ndarray | None:
    """``edges`` with each one too near a value of ``fin`` moved to the middle of the nearest wide enough gap
    (within a thousand tolerances of it); None where there is none or the edges would change order."""
    bad = edges_near(fin, edges, tol(edges))
    if not bad.any():
        return edges
    out = edges.copy()
    for e in np.flatnonzero(bad):
        w = 1000 * max(float(tol(edges[e : e + 1])[0]), 1e-300)
        near = np.unique(fin[np.abs(fin - edges[e]) <= w])
        near = np.concatenate(([edges[e] - w], near, [edges[e] + w]))
        mids = (near[:-1] + near[1:]) / 2
        ok = np.diff(near) / 2 > tol(mids)
        if not ok.any():
            return None
        out[e] = mids[ok][np.argmin(np.abs(mids[ok] - edges[e]))]
    if not np.all(np.diff(out) > 0) or edges_near(fin, out, tol(out)).any():
        return None
    return out
