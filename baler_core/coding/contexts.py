"""Context-split integer streams: a column's quantized residuals coded in a few groups, chosen by the value of
an earlier, already reconstructed column.

A residual's spread depends on the row: the HF energies of a jet are zero unless it lies at |eta| > 3, the
spread of a multiplicity grows with pt. Coding the residuals of each group with its own histogram costs
the conditional entropy instead of the marginal one, plus one histogram per group. The encoder picks the
earlier column, whether its magnitude or signed value is used, and the number of groups by the estimated
size, and keeps the split only where the real streams are smaller than one stream.

Robustness: the group of a row is decided by comparing a reconstructed value with stored edges. A decoder on
another machine may rebuild values a few ulps apart, so edges are only placed in gaps of the sorted values
wider than ``GAP`` (relative): no value can cross an edge by such a difference.
"""

from __future__ import annotations

import numpy as np

from baler_core.coding.entropy import TABLE_ZSTD_TRIED, decode_ints, encode_ints, estimate_ints, hybrid_tokens
from baler_core.coding.grouping import by_group, group_of, labels, ungroup
from baler_core.errors import FormatError

GROUPS = (2, 4, 8, 16)
MAX_GROUPS = 32  # a reader refuses more groups, or more than MAX_SPLITS refining splits, before any pass
MAX_SPLITS = 4
GAP = 1e-6
MIN_ROWS = 1000  # smaller blocks: the histograms would cost more than the split saves
SEARCH_ROWS = 1 << 15  # rows the split search ranks candidates on (every stride-th row of longer streams)


class Source:
    """An earlier column's values (signed or magnitude), sorted once, for placing edges."""

    def __init__(self, c: np.ndarray, gap: float | None = None, ordered: np.ndarray | None = None) -> None:
        """``gap``: the absolute width a gap needs (a dither phase's); by default ``GAP`` relative. ``ordered``:
        the finite values of ``c`` sorted, where the caller has them cheaper (float32 sorts twice as fast)."""
        self.c = c
        fin = np.sort(c[np.isfinite(c)]) if ordered is None else np.asarray(ordered, dtype=np.float64)
        first = np.flatnonzero(np.concatenate(([True], fin[1:] != fin[:-1]))) if fin.size else np.zeros(0, np.int64)
        v = fin[first]  # sorted already: no np.unique
        self.v = v
        if gap is None:
            # a gap must be wide relative to its values and to the column's scale (a value rebuilt near zero
            # from a large prediction differs elsewhere by ulps of the prediction, not of the value)
            scale = float(np.max(np.abs(v))) if v.size else 0.0
            wide = GAP * np.maximum(np.maximum(np.abs(v[:-1]), np.abs(v[1:])), 1e-3 * scale)
        else:
            wide = 2 * gap  # the edge sits in the middle: ``gap`` from the rows on either side
        self.gap = gap or 0.0
        self.gaps = np.flatnonzero(np.diff(v) > wide) if v.size > 1 else np.zeros(0, np.int64)
        # values up to v[i]: where the next run starts
        self.cdf = np.append(first[1:], fin.size)[self.gaps] / max(c.size, 1)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray] | None] = {}

    def groups(self, k: int) -> tuple[np.ndarray, np.ndarray] | None:
        """``(edges, group of each row)`` for up to ``k`` groups, computed once per source and ``k``."""
        if k not in self._cache:
            e = self.edges(k)
            fine = self.finest()
            merge = None if e is None or fine is None else nested(e, fine[0])
            if e is None:
                self._cache[k] = None
            elif merge is not None:  # the finest split's groups merged: a table look-up instead of a search
                self._cache[k] = (e, merge[fine[1]])
            else:
                self._cache[k] = (e, labels(self.c, e))
        return self._cache[k]

    def finest(self) -> tuple[np.ndarray, np.ndarray] | None:
        """``(edges, group of each row)`` of the finest split tried (``GROUPS[-1]`` groups)."""
        k = GROUPS[-1]
        if k not in self._cache:
            e = self.edges(k)
            self._cache[k] = None if e is None else (e, labels(self.c, e))
        return self._cache[k]

    def edges(self, k: int) -> np.ndarray | None:
        """Up to ``k - 1`` increasing edges near the quantiles, each in a gap of the sorted values wider than
        ``GAP`` relative (or twice the ``gap`` given); None where there is no such gap."""
        if self.gaps.size == 0:
            return None
        want = np.arange(1, k) / k
        pick = np.unique(self.gaps[np.clip(np.searchsorted(self.cdf, want), 0, self.gaps.size - 1)])
        return (self.v[pick] + self.v[pick + 1]) / 2


class IndexSource(Source):
    """A dithered prediction's position on its grid, in steps (``quantization.dither_position``): the residual of
    a value on a spike (exact zeros of an energy fraction, coded as index 0) is minus the prediction's rounded
    position, so its edges sit at half steps, each moved into the gap of at least ``2 gap`` around it."""

    def edges(self, k: int) -> np.ndarray | None:
        v = self.v
        if v.size < 2:
            return None
        want = sorted_quantiles(v, np.arange(1, k) / k)
        half = np.unique(np.floor(want) + 0.5)
        i = np.clip(np.searchsorted(v, half), 1, v.size - 1)
        lo, hi = v[i - 1], v[i]
        ok = (hi - lo > 2 * self.gap) & (half > v[0]) & (half < v[-1])
        if not np.any(ok):
            return None
        return np.unique(np.clip(half[ok], lo[ok] + self.gap, hi[ok] - self.gap))


def sorted_quantiles(v: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(v, q)`` (its linear method, the same numbers) of values ``v`` already sorted: no partition of
    a block's rows per call."""
    pos = (v.size - 1) * q
    i = np.floor(pos)
    t = pos - i
    i = i.astype(np.intp)
    a, b = v[i], v[np.minimum(i + 1, v.size - 1)]
    d = b - a
    return np.where(t >= 0.5, b - d * (1 - t), a + d * t)


def nested(coarse: np.ndarray, fine: np.ndarray) -> np.ndarray | None:
    """Where every ``coarse`` edge is one of the ``fine`` edges: the coarse group of each fine group (the edges
    quantiles at multiples of 1/k pick the same gaps for every k, so the coarser splits merge the finest one)."""
    if not np.all(np.isin(coarse, fine)):
        return None
    return np.concatenate(([0], np.searchsorted(coarse, fine, side="right")))


def _xlogx(c: np.ndarray) -> float:
    c = c[c > 0].astype(np.float64)
    return float(np.dot(c, np.log2(c)))


class _Costs:
    """Estimated size of ``r`` coded in given groups: the smaller of its values with their own histograms and
    of its hybrid tokens (``entropy`` method 5: small tables, raw low bits that no split changes). Measured on
    every ``stride``-th row of long streams (at most ``SEARCH_ROWS``): the ranking only needs the histograms'
    shapes, and the few splits it ranks first are then estimated on every row."""

    def __init__(self, r: np.ndarray) -> None:
        self.stride = max(1, r.size // SEARCH_ROWS)
        r = r[:: self.stride]
        r0 = r - r.min()
        self.width = int(r0.max()) + 1
        self.r0 = r0 if self.width <= 1 << 12 else None  # wider: the tokens' small tables win anyway
        self.tok, self.extra = hybrid_tokens(r) if self.width >= 32 else (None, 0)
        if self.tok is not None:
            self.tok_width = int(self.tok.max()) + 1

    def _alphabets(self) -> list[tuple[np.ndarray, int, float, int]]:
        out = [] if self.r0 is None else [(self.r0, self.width, 12.0, 0)]
        return out + ([] if self.tok is None else [(self.tok, self.tok_width, 8.0, self.extra)])

    def __call__(self, g: np.ndarray, k: int) -> float:
        """Bits of ``r`` in the groups ``g`` (``k`` of them): the empirical conditional entropy, sum_g N_g log N_g
        - sum c log c, plus a rough table cost of ``per_bin`` bits a used bin."""
        g = g[:: self.stride]
        costs = []
        for v, width, per_bin, extra in self._alphabets():
            counts = np.bincount(g * width + v, minlength=k * width)
            bits = _xlogx(np.bincount(g, minlength=k)) - _xlogx(counts) + extra
            costs.append(self.stride * bits + per_bin * np.count_nonzero(counts))
        return min(costs)

    def merged(self, g: np.ndarray, k: int, merges: list[np.ndarray]) -> list[float]:
        """The cost of each grouping ``merge[g]`` (``merge``: the new group of each of the ``k`` groups), from
        one joint histogram of ``g``: splits that merge one finest split cost one pass over the rows."""
        g = g[:: self.stride]
        costs = [[] for _ in merges]
        onehots = []
        for m in merges:
            onehots.append(np.zeros((int(m.max()) + 1, k)))
            onehots[-1][m, np.arange(k)] = 1.0
        for v, width, per_bin, extra in self._alphabets():
            joint = np.bincount(g * width + v, minlength=k * width).reshape(k, width)
            for c, onehot in zip(costs, onehots):
                part = onehot @ joint  # counts below 2**53: exact in float64
                bits = _xlogx(part.sum(axis=1)) - _xlogx(part.ravel()) + extra
                c.append(self.stride * bits + per_bin * np.count_nonzero(part))
        return [min(c) for c in costs]


def _splittable(r: np.ndarray) -> bool:
    return r.size >= MIN_ROWS and not np.all(r == r[0]) and int(r.max()) - int(r.min()) < 2**62


def _refinements(cost: _Costs, g: np.ndarray, k: int, src: Source) -> list[tuple[float, int, np.ndarray]]:
    """``(estimated bits, m, edges)`` of ``src``'s splits into m of ``GROUPS`` groups refining the groups ``g``
    (``k`` of them), at most ``MAX_GROUPS`` in all; the nested ones from one pass over the rows."""
    fine = src.finest()
    if fine is None:
        return []
    f = len(fine[0]) + 1
    nested_m, merges, out = [], [], []
    for m in GROUPS:
        e = src.edges(m)
        if e is None or k * (len(e) + 1) > MAX_GROUPS:
            continue
        inner = nested(e, fine[0])
        if inner is None:  # not a merge of the finest split: its own pass
            out.append((cost(g * (len(e) + 1) + src.groups(m)[1], k * (len(e) + 1)), m, e))
            continue
        nested_m.append((m, e))
        merges.append((np.arange(k)[:, None] * (len(e) + 1) + inner[None, :]).ravel())
    if merges:
        costs = cost.merged(g * f + fine[1], k * f, merges)
        out.extend((c, m, e) for c, (m, e) in zip(costs, nested_m))
    return out


def ranked(r: np.ndarray, sources: dict[tuple[str, bool], Source], top: int = 3, cost: _Costs | None = None
           ) -> list[tuple[tuple[str, bool, np.ndarray], np.ndarray, int]]:
    """Up to ``top`` splits of ``r`` that look smaller than one stream, smallest estimate first, each as
    ``((column, use magnitude, edges), group of each row, number of groups)``. ``sources`` maps (column,
    magnitude) to its prepared values, whose groups are computed once per block and reused for every column.
    ``cost``: the estimator of ``r`` when the caller has one (``choose`` refines the best split with it)."""
    if not _splittable(r):
        return []
    return [((name, mag, edges), sources[(name, mag)].groups(m)[1], len(edges) + 1)
            for name, mag, edges, m in _ranking(r, sources, cost or _Costs(r))[:top]]


def _ranking(r: np.ndarray, sources: dict[tuple[str, bool], Source], cost: _Costs
             ) -> list[tuple[str, bool, np.ndarray, int]]:
    """Every single split that looks smaller than one stream, as ``(column, magnitude, edges, groups asked)``,
    smallest estimate first (the first found of equals). Only the splits the caller estimates need each row's
    group: ranking reads the finest split's groups (merged) and the non-nested ones' only."""
    zero = np.zeros(r.size, np.int64)
    single = cost(zero, 1)
    found = []
    for (name, magnitude), src in sources.items():
        for c, m, edges in _refinements(cost, zero, 1, src):
            if c < single:
                found.append((c, len(found), (name, magnitude, edges, m)))
    return [item for _, _, item in sorted(found, key=lambda t: t[:2])]


PHASE = ("", False)  # the sources keys of a column's own dither phase and position (``quantization``)
POSITION = ("", True)


def split_item(name: str, magnitude: bool, edges: np.ndarray) -> dict:
    """The record of one split: by an earlier column (``col``, ``abs``) or by the column's own dither phase or
    position (``dither``)."""
    e = [float(v) for v in edges]
    if (name, magnitude) == PHASE:
        return {"dither": "phase", "edges": e}
    if (name, magnitude) == POSITION:
        return {"dither": "position", "edges": e}
    return {"col": name, "abs": magnitude, "edges": e}


def choose(r: np.ndarray, sources: dict[tuple[str, bool], Source], size: int, code, estimate
           ) -> tuple[dict[str, bytes], list[dict]] | None:
    """The smallest split of ``r`` that codes (``code(r, groups, k)`` -> streams) below ``size`` bytes: the
    best of the three single splits that ``ranked`` estimates smallest, then that split refined by a second
    source (a dithered value's residual depends on both how well the model predicts it and where the
    prediction falls on the dithered grid), the two refinements that look smallest compared. The candidates are
    compared by ``estimate(r, groups, k)`` (bytes, from histograms, see ``entropy.estimate_ints``) and only the
    winner is coded. Returns the streams and the record's split items."""
    if not _splittable(r):
        return None
    best = None
    cost = _Costs(r)
    singles = _ranking(r, sources, cost)
    for name, magnitude, edges, m in singles[:3]:  # the rough estimates rank, the histograms' sizes decide
        g, k = sources[(name, magnitude)].groups(m)[1], len(edges) + 1
        est = estimate(r, g, k)
        if est < size:
            size, best = est, ([((name, magnitude), edges)], g, k)
    if best is None:
        return None
    first, g, k = best
    # refine by the dither contexts and the sources that split best alone, five in all: estimating every source
    # as a refinement took longer than coding the column, and the rough estimates then picked worse refinements
    keys = [key for key in (PHASE, POSITION) if key in sources]
    for name, magnitude, _, _ in singles:
        if (name, magnitude) not in keys and len(keys) < 5:
            keys.append((name, magnitude))
    tries = []
    for key in keys:
        if key != first[0][0]:
            tries.extend((c, len(tries), key, m, e) for c, m, e in _refinements(cost, g, k, sources[key]))
    for _, _, key, m, edges in sorted(tries, key=lambda t: t[:2])[:2]:
        k2 = len(edges) + 1
        g2 = g * k2 + sources[key].groups(m)[1]
        est = estimate(r, g2, k * k2)
        if est < size:
            size, best = est, ([first[0], (key, edges)], g2, k * k2)
    items, g, k = best
    return code(r, g, k), [split_item(*key, edges) for key, edges in items]


def sources_of(name: str, values: np.ndarray) -> dict[tuple[str, bool], Source]:
    """Both context variables of a reconstructed column: its signed values and (if it has negative values)
    its magnitude."""
    if values.dtype == np.float16:  # one float16 ulp exceeds the gaps edges are placed in
        return {}
    c = values.astype(np.float64)
    fin = values[np.isfinite(values)] if values.dtype.kind == "f" else None  # integers: Source sorts c itself
    out = {(name, False): Source(c, ordered=None if fin is None else np.sort(fin))}
    if np.nanmin(c, initial=0.0) < 0:
        out[(name, True)] = Source(np.abs(c), ordered=None if fin is None else np.sort(np.abs(fin)))
    return out


def record_key(stream: str) -> str:
    """Where a column's record keeps the splits of ``stream``: ``ctx`` for the residuals ``r``, else
    ``<stream>_ctx`` (the zero and sign flags of relative bounds: ``zero_ctx``, ``flip_ctx``)."""
    return "ctx" if stream == "r" else f"{stream}_ctx"


def encode_split(r: np.ndarray, g: np.ndarray, k: int, entropy: str, level: int, stream: str = "r"
                 ) -> dict[str, bytes]:
    """One stream per group, named ``r@0`` ... (a group without rows still gets its constant stream; a table's
    groups try zstd only where short, ``entropy.TABLE_ZSTD_TRIED``)."""
    return {f"{stream}@{i}": encode_ints(part, entropy, level, TABLE_ZSTD_TRIED)
            for i, part in enumerate(by_group(r, g, k))}


def estimate_split(r: np.ndarray, g: np.ndarray, k: int, entropy: str, level: int) -> int:
    """Bytes ``encode_split`` is expected to take (``entropy.estimate_ints`` of each group)."""
    return sum(estimate_ints(part, entropy, level) for part in by_group(r, g, k))


def item_groups(items: list, n: int, decoded: dict[str, np.ndarray] | None,
                dither: dict[str, np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """Group of each row under split items (``split_item``; none: one group) and the number of groups, from the
    columns decoded before (``decoded``; None outside a sequential block) or the column's own dither phase and
    position (``dither``). The encoder calls it with what the decoder will have, so both group alike."""
    splits, values, k = [], {}, 1
    try:
        if not isinstance(items, list) or len(items) > MAX_SPLITS:
            raise FormatError(f"context record holds {len(items) if isinstance(items, list) else items!r} splits, "
                              f"expected at most {MAX_SPLITS}")
        for item in items:
            edges = np.asarray(item["edges"], dtype=np.float64)
            if edges.ndim != 1 or not 1 <= edges.size < 64 or np.any(~(np.diff(edges) > 0)):
                raise FormatError("context edges must be 1 to 63 increasing numbers")
            k *= edges.size + 1
            if k > MAX_GROUPS:
                raise FormatError(f"context record declares more than {MAX_GROUPS} groups")
            (name, magnitude), c = item_values(item, decoded, dither)
            if c.shape != (n,):
                raise FormatError(f"context column {name!r} has {c.size} values, expected {n}")
            values[(name, magnitude)] = c
            splits.append((name, magnitude, edges))
    except FormatError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"context record malformed ({exc})") from exc
    return group_of(splits, values, n)


def item_values(item: dict, decoded: dict[str, np.ndarray] | None, dither: dict[str, np.ndarray] | None
                ) -> tuple[tuple[str, bool], np.ndarray]:
    """The sources key of one split item and the values it splits by (float64): an earlier column's signed
    values or magnitudes (``decoded``), or the column's own dither phase or position (``dither``)."""
    if "dither" in item:
        if item["dither"] not in ("phase", "position"):
            raise FormatError(f"context on the dither {item['dither']!r} unknown")
        if dither is None:
            raise FormatError("a context on the dither in a column that is not dithered")
        return (PHASE if item["dither"] == "phase" else POSITION), np.asarray(dither[item["dither"]], np.float64)
    name, magnitude = item["col"], item["abs"]
    if not isinstance(name, str) or not isinstance(magnitude, bool):
        raise TypeError("column name or magnitude flag of the wrong type")
    if decoded is None:
        raise FormatError("a context on another column outside a sequential block")
    if name not in decoded:
        raise FormatError(f"context column {name!r} is not decoded before the column that uses it")
    c = np.asarray(decoded[name]).astype(np.float64)
    return (name, magnitude), (np.abs(c) if magnitude else c)


def decode_split(read, rec: dict, n: int, decoded: dict[str, np.ndarray] | None, stream: str = "r",
                 dither: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """A column's ``stream`` coded in groups (see :func:`record_key`), from the columns decoded before it
    (``decoded``; None outside a sequential block) or the column's own dither phase and position (``dither``)."""
    items = rec[record_key(stream)]
    if not isinstance(items, list) or not items:
        raise FormatError(f"context record of {stream!r} holds no split")
    g, k = item_groups(items, n, decoded, dither)
    counts = np.bincount(g, minlength=k)
    return ungroup([decode_ints(read(f"{stream}@{i}"), int(counts[i])) for i in range(k)], g, k)
