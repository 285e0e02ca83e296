"""Model-resident priors (issue 22): fitted once on a model's training rows, carried in its decoder, used by
every file the model compresses.

A model may hold a prior set per error bound (``bound_key``): per column and integer stream ("r" residuals,
"zero" and "flip" flags), the coding mode it was fitted under, the context split the training rows chose (``contexts``)
and one table per group (``prior_tables``). A file then codes such a stream against the model's tables where
that is smaller than the stream's own tables, and records only which streams did (``"prior"`` in the column
record, the set's key in the header). The priors are part of the decoder blob, so its sha256 covers them and
its bytes, counted once per model, include them.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.coding.error_bounds import BoundSpec, column_ranges, with_set_ranges
from baler_core.coding.grouping import by_group
from baler_core.coding.options import CompressionOptions
from baler_core.coding.prior_tables import PriorTable, fit_table
from baler_core.errors import FormatError, InputError
from baler_core.models.auto import is_sequential
from baler_core.models.store import ModelBundle, save_record

MAX_SPLIT_ITEMS = 4
TEMPLATE_ROWS = 4096  # rows of the training set whose header is the files' template


@dataclass(frozen=True)
class Prior:
    """The model's prior of one column's stream."""

    mode: str  # the mode the training rows were coded in (informative: a file's stream may use it in any mode)
    ctx: list[dict]
    tables: list[PriorTable]
    median: int  # of every training value: a file's stream may shift the tables' centers to its own median

    def to_dict(self) -> dict:
        return {"mode": self.mode, "ctx": self.ctx, "median": self.median, "tables": [t.to_dict() for t in self.tables]}


def bound_key(bounds: BoundSpec) -> str:
    """The name of the prior set for ``bounds``: the default bound, then each per-column bound."""
    return ";".join([str(bounds.default), *(f"{k}:{v}" for k, v in sorted(bounds.columns.items()))])


def prior_set(bundle: ModelBundle, key: str, source: str = "model") -> dict[str, dict[str, Prior]] | None:
    """The model's priors under ``key`` (column -> stream -> Prior), checked; None where it has none."""
    sets = bundle.record.get("priors")
    if sets is None:
        return None
    if not isinstance(sets, dict) or not isinstance(sets.get(key, {}), dict):
        raise FormatError(f"{source}: priors record malformed")
    if key not in sets:
        return None
    out: dict[str, dict[str, Prior]] = {}
    for column, streams in sets[key].items():
        if column not in bundle.columns or not isinstance(streams, dict):
            raise FormatError(f"{source}: prior of column {column!r}, which the model does not have")
        for stream, item in streams.items():
            what = f"{source}: prior {key!r} of {column}/{stream}"
            try:
                mode, ctx, tables, median = item["mode"], item["ctx"], item["tables"], item["median"]
            except (KeyError, TypeError) as exc:
                raise FormatError(f"{what} malformed ({exc})") from exc
            if (not isinstance(mode, str) or not isinstance(ctx, list) or len(ctx) > MAX_SPLIT_ITEMS
                    or not isinstance(median, int) or isinstance(median, bool) or abs(median) >= 2**61):
                raise FormatError(f"{what}: mode or context split malformed")
            if not isinstance(tables, list) or not tables:
                raise FormatError(f"{what}: no tables")
            out.setdefault(column, {})[stream] = Prior(mode, ctx, [PriorTable.from_dict(t, what) for t in tables],
                                                       median)
    return out


def why_no_priors(bundle: ModelBundle, bounds: BoundSpec) -> str | None:
    """Why no priors can be fitted for ``bundle`` under ``bounds``; None where they can."""
    if bundle.kind != "table" or not is_sequential(bundle.model):
        return (f"priors are fitted for sequential table models (baler train --model sequential), "
                f"not {bundle.record['model']}")
    if bounds.default.kind in ("none", "exact") and not bounds.columns:
        return "priors need the error bound the files will be compressed under (--error-bound)"
    return None


def fit_priors(bundle: ModelBundle, table: pd.DataFrame, bounds: BoundSpec) -> dict[str, dict[str, dict]]:
    """The priors of ``bundle`` under ``bounds``, fitted on ``table`` (the model's training rows): the rows are
    compressed as one block, and every residual, zero-flag and sign-flip stream is counted group by group, in
    the groups the coder chose."""
    reason = why_no_priors(bundle, bounds)
    if reason:
        raise InputError(reason)
    if not len(table):
        raise InputError("no rows to fit priors on")
    from baler_core.codec.table import compress_table

    fitted: dict[str, dict[str, dict]] = {}

    def observe(column: str, stream: str, mode: str, ctx: list[dict], r: np.ndarray, groups) -> None:
        g, k = groups(ctx)
        median = int(np.partition(r, r.size // 2)[r.size // 2]) if r.size else 0
        tables = [fit_table(p) for p in by_group(r, g, k)]
        fitted.setdefault(column, {})[stream] = Prior(mode, ctx, tables, median).to_dict()

    # range bounds in the steps of the set's range, as files compressed with ``--range-of`` the model use them
    coding = with_set_ranges(bounds, training_ranges(bundle, table), "model")
    run = CompressionOptions(coding, block_rows=len(table), threads=1, use_priors=False, observe=observe)
    with tempfile.TemporaryDirectory(prefix="baler-priors-") as d:
        compress_table([table], bundle, Path(d) / "fit.baler", run, "training rows")
    return fitted


def header_template(bundle: ModelBundle, key: str, source: str = "decoder") -> bytes | None:
    """The model's header template for the prior set ``key`` (the inner header of rows it was fitted on: the
    zstd dictionary of 1.12 files' column records); None where it has none."""
    templates = bundle.record.get("header_templates")
    if templates is None:
        return None
    if not isinstance(templates, dict) or not isinstance(templates.get(key, ""), str):
        raise FormatError(f"{source}: header templates malformed")
    return templates[key].encode() if key in templates else None


def _fit_template(bundle: ModelBundle, rows: pd.DataFrame, bounds: BoundSpec) -> str:
    """The inner header (column names and records) of the first ``TEMPLATE_ROWS`` of ``rows`` compressed with
    ``bundle``'s priors: what the files' inner headers are compressed against."""
    from baler_core.codec.table import compress_table
    from baler_core.format.container import inner_json

    run = CompressionOptions(bounds, threads=1, use_priors=True, header_template=False)
    with tempfile.TemporaryDirectory(prefix="baler-priors-") as d:
        header = compress_table([rows.iloc[:TEMPLATE_ROWS]], bundle, Path(d) / "t.baler", run, "training rows")
    return inner_json(header).decode()


def training_ranges(bundle: ModelBundle, table: pd.DataFrame) -> dict[str, list[float]]:
    """The set's per-column ranges: the model's record (all its training rows), else ``table``'s (a model
    trained before models recorded them)."""
    if isinstance(bundle.record.get("ranges"), dict):
        return bundle.record["ranges"]
    names = [c for c in bundle.columns if c in table.columns]
    return column_ranges(table[names].to_numpy(dtype=np.float64), names)


def add_priors(model_path: str | Path, out_path: str | Path, bundle: ModelBundle, bounds: BoundSpec,
               fitted: dict[str, dict[str, dict]], rows: pd.DataFrame | None = None) -> None:
    """Write ``bundle``'s model file with the prior set of ``bounds`` added (or replaced). With the training
    ``rows``: also the set's ranges where the model records none, and the set's header template."""
    key = bound_key(bounds)
    sets = dict(bundle.record.get("priors") or {})
    sets[key] = fitted
    record = {**bundle.record, "priors": sets}
    if rows is not None:
        record.setdefault("ranges", training_ranges(bundle, rows))
        template = _fit_template(ModelBundle(bundle.model, record, bundle.packed), rows,
                                 with_set_ranges(bounds, record["ranges"], "model"))
        record["header_templates"] = {**(record.get("header_templates") or {}), key: template}
    save_record(model_path, out_path, record)
