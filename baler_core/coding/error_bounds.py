"""Error-bound specifications: ``abs=X``, ``rel=X`` (pointwise, relative to each value), ``range=X`` (relative to
each column's value range), ``rms=X`` (tables: each float column's response, (reconstructed - original) /
original over nonzero values, has RMS <= X and |mean| <= X/10, the Baler study's quality measure; zeros and
integer columns exact), ``exact`` (every bit kept, by a lossless float coder), or ``none`` (the autoencoder's
reconstruction as it is), with per-column overrides."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from baler_core.errors import InputError

KINDS = ("abs", "rel", "range", "rms", "none", "exact")
RMS_MEAN_FRACTION = 0.1  # rms=X also keeps |mean response| <= X/10 (the Baler study: 1e-3 at an RMS of 1e-2)


@dataclass(frozen=True)
class Bound:
    kind: str
    value: float = 0.0

    def __str__(self) -> str:
        return self.kind if self.kind in ("none", "exact") else f"{self.kind}={self.value:g}"


@dataclass
class BoundSpec:
    """The default bound and per-column overrides. ``spans``: a column's ``range=X`` means X times this span (a
    file set's range, recorded by the model) instead of X times the range of the values coded; see
    :func:`with_set_ranges`."""

    default: Bound = Bound("none")
    columns: dict[str, Bound] = field(default_factory=dict)
    spans: dict[str, float] = field(default_factory=dict)

    def for_column(self, name: str) -> Bound:
        """The bound a column is coded and checked under (``range`` against a set's span: ``abs``)."""
        b = self.columns.get(name, self.default)
        if b.kind == "range" and name in self.spans:
            return Bound("abs", b.value * self.spans[name])
        return b

    def check_columns(self, names: list[str]) -> None:
        unknown = [c for c in self.columns if c not in names]
        if unknown:
            raise InputError(f"error-bound overrides name columns not in the data: {', '.join(unknown)}; "
                             f"columns: {', '.join(names)}")

    def to_dict(self) -> dict:
        out = {"default": str(self.default), "columns": {k: str(v) for k, v in self.columns.items()}}
        if self.spans:  # the spans are the model's (its record's ``ranges``), not repeated in every file
            out["range_of"] = "set"
        return out


def column_ranges(values: np.ndarray, names: list[str]) -> dict[str, list[float]]:
    """The finite minimum and maximum of each column of an (N, F) array (a model record's ``ranges``); columns
    without a finite value are left out."""
    out = {}
    for j, name in enumerate(names):
        col = np.asarray(values[:, j], dtype=np.float64)
        col = col[np.isfinite(col)]
        if col.size:
            out[str(name)] = [float(col.min()), float(col.max())]
    return out


def with_set_ranges(spec: BoundSpec, ranges: object, source: str) -> BoundSpec:
    """``spec`` with its ``range=X`` bounds taken against a file set's per-column ``ranges`` ({column: [min,
    max]}, a model record's): every file of the set then keeps the same absolute precision, the one a single file
    of the whole set would have, rather than X times its own, narrower range. Columns whose set range is empty
    keep their own range."""
    if not isinstance(ranges, dict):
        raise InputError(f"{source}: records no training ranges to take range bounds against; train it with this "
                         "baler or run 'baler fit-priors' on its training rows")
    spans = {}
    for name, lohi in ranges.items():
        if (not isinstance(lohi, list) or len(lohi) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in lohi)):
            raise InputError(f"{source}: training range of column {name!r} malformed")
        span = float(lohi[1]) - float(lohi[0])
        if math.isfinite(span) and span > 0:
            spans[str(name)] = span
    return BoundSpec(spec.default, dict(spec.columns), spans)


def parse_bound(spec: str) -> Bound:
    """Parse ``abs=1e-3``, ``rel=4.9e-4``, ``range=1e-3``, ``rms=1e-2`` or ``none``."""
    s = str(spec).strip()
    if s in ("none", ""):
        return Bound("none")
    if s == "exact":  # every bit kept (coding/lossless.py)
        return Bound("exact")
    kind, sep, val = s.partition("=")
    if not sep or kind not in KINDS[:4]:
        raise InputError(f"error bound {spec!r} not understood; write abs=X, rel=X, range=X, rms=X, exact or none")
    try:
        value = float(val)
    except ValueError as exc:
        raise InputError(f"error bound {spec!r}: {val!r} is not a number") from exc
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"error bound {spec!r}: the value must be positive and finite")
    if kind == "rel" and value >= 1:
        raise InputError(f"error bound {spec!r}: a relative bound must be below 1")
    if kind == "rms" and value >= 0.5:
        raise InputError(f"error bound {spec!r}: a response RMS target must be below 0.5")
    return Bound(kind, value)


def load_bound_spec(default: str | None = None, overrides_file: str | Path | None = None) -> BoundSpec:
    """Build a BoundSpec from a default spec string and an optional YAML file
    ``{default: "range=1e-3", columns: {pt: "rel=1e-3"}}`` (the command-line default wins over the file's)."""
    spec = BoundSpec()
    if overrides_file:
        p = Path(overrides_file)
        if not p.exists():
            raise InputError(f"{p}: error-bound file does not exist")
        doc = yaml.safe_load(p.read_text()) or {}
        if not isinstance(doc, dict) or set(doc) - {"default", "columns"}:
            raise InputError(f"{p}: error-bound file may only hold the keys 'default' and 'columns'")
        if "default" in doc:
            spec.default = parse_bound(doc["default"])
        cols = doc.get("columns") or {}
        if not isinstance(cols, dict):
            raise InputError(f"{p}: 'columns' must map column names to bounds")
        spec.columns = {str(k): parse_bound(v) for k, v in cols.items()}
    if default is not None:
        spec.default = parse_bound(default)
    return spec
