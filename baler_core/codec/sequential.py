"""Code a table block with the sequential model: columns in model order, each predicted from the columns already
rebuilt, its streams split by context (``coding.contexts``; a later block reuses the first block's splits, see
``split_reuse``) or coded against the model's priors.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from baler_core.codec.inference import sequential_prediction
from baler_core.codec.priors import Prior
from baler_core.codec.split_reuse import FirstBlock, Records, reused_groups
from baler_core.coding import contexts, prior_tables
from baler_core.coding.column_choice import encode_best
from baler_core.coding.columns import dither_sources, dither_values
from baler_core.coding.entropy import decode_ints
from baler_core.coding.grouping import by_group
from baler_core.coding.options import CompressionOptions
from baler_core.coding.predictors.base import Pending, coded, stream_size
from baler_core.coding.rms import bounded
from baler_core.errors import FormatError, InputError
from baler_core.models.store import ModelBundle

PriorPlan = tuple[int, list[np.ndarray], list, int]  # (estimated bytes, values by group, tables, shift)


def encode_sequential(w, b: int, chunk: pd.DataFrame, bundle: ModelBundle, dec64, opts: CompressionOptions,
                      priors: dict[str, dict[str, Prior]] | None, first: FirstBlock | None = None) -> Records:
    """Code block ``b`` (sections into ``w.add``); returns its column records. ``first``: where block 0 gives
    its records and later blocks take them, to reuse its context splits (None: every block searches)."""
    if first is not None:
        if b == 0:
            first.describe(chunk, list(bundle.columns))
        elif not first.reuses(chunk):
            first = None
    if opts.bounds.default.kind == "none" and any(
            opts.bounds.for_column(c).kind == "none" for c in bundle.columns):
        raise InputError("the sequential model (what --model auto trains for tables) stores no latent: give an "
                         "error bound (--error-bound range=1e-3, abs=, rel= or rms=), or train --model dense to "
                         "store the autoencoder's reconstruction without one")
    norm = bundle.normalizer
    relations = bundle.record.get("relations") or {}
    recon_n = np.zeros((len(chunk), len(bundle.columns)), order="F")  # a column written at a time
    recon: dict[str, np.ndarray] = {}
    sources: dict[tuple[str, bool], contexts.Source] = {}
    unsorted: list[str] = []  # columns rebuilt whose context sources are not built yet (built when searched)

    def searchable() -> dict[tuple[str, bool], contexts.Source]:
        while unsorted:
            name = unsorted.pop(0)
            sources.update(contexts.sources_of(name, recon[name]))
        return sources

    recs = {}
    prior_section = prior_tables.BlockWriter()
    for j, name in enumerate(bundle.columns):
        pred = sequential_prediction(dec64, norm, j, recon_n, recon, relations)
        x = chunk[name].to_numpy()
        reuse = None if first is None or b == 0 else first.get(name)
        rec, streams, out = bounded(x, opts.bounds.for_column(name),
                                    lambda b: encode_best(x, pred, b, opts, j, pending=True, like=reuse))
        _split_by_context(name, rec, streams, searchable, recon, opts, pred, (priors or {}).get(name, {}),
                          prior_section, reuse)
        streams = coded(streams)
        for k, v in streams.items():
            w.add(f"b{b}/{name}/{k}", v)
        recs[name] = rec
        if first is not None and b == 0:
            first.put(name, rec)
        recon[name] = out
        unsorted.append(name)
        if reuse is None:  # a block that searches: every column's sources are needed
            searchable()
        recon_n[:, j] = norm.transform_column(j, out)
    if len(prior_section):
        w.add(f"b{b}/prior", prior_section.finish())
    return recs


def _split_by_context(name: str, rec: dict, streams: dict[str, bytes],
                      searchable: Callable[[], dict[tuple[str, bool], contexts.Source]],
                      recon: dict[str, np.ndarray], opts: CompressionOptions, pred: np.ndarray,
                      priors: dict[str, Prior], prior_section: prior_tables.BlockWriter, first: dict | None) -> None:
    """Replace the residual stream and the zero and sign flags by per-group streams (see ``contexts``) where smaller:
    split by an earlier column (``searchable()``) or by the column's own dither position or phase; or by the
    model's prior for the stream (``priors``: split and tables from the model, the values coded into the block's
    ``prior_section``). A prior estimated smaller than the stream with one table of its own is taken without
    searching the splits (the prior carries the training rows' split); otherwise the split is the first block's
    (``first``: this column's record there) where it can be reused, else searched, and the prior is taken only
    where smaller than the split."""
    if "lorenzo" in rec:
        return
    dither = dither_values(rec, pred)
    values = None if dither is None else dither[0]
    searched = None
    n = pred.size
    for stream in ("r", "zero", "flip"):
        if stream not in streams:
            continue
        own = streams[stream]
        r = own.values if isinstance(own, Pending) else decode_ints(own, n)
        plan = _prior_plan(r, priors[stream], recon, values) if stream in priors else None
        if plan is not None and plan[0] < stream_size(own):
            _use_prior(stream, plan, rec, streams, prior_section)
            continue
        ctx: list[dict] = []
        got = None
        items = None if first is None else first.get(contexts.record_key(stream))
        grouped = reused_groups(items, n, recon, dither) if items else None
        if grouped is not None:
            got = contexts.encode_split(r, grouped[0], grouped[1], opts.entropy, opts.level, stream), grouped[2]
        elif first is None or items:  # the first block, or a split that cannot be reused here: search
            if searched is None:
                searched = {**searchable(), **dither_sources(dither)}  # the dither values computed once a column
            got = contexts.choose(
                r, searched, stream_size(own),
                lambda r, g, k, s=stream: contexts.encode_split(r, g, k, opts.entropy, opts.level, s),
                lambda r, g, k: contexts.estimate_split(r, g, k, opts.entropy, opts.level)) if searched else None
        if got is not None and sum(map(len, got[0].values())) < stream_size(own):
            del streams[stream]
            streams.update(got[0])
            ctx = rec[contexts.record_key(stream)] = got[1]
        if plan is not None and plan[0] < sum(stream_size(v) for k, v in streams.items() if k.split("@")[0] == stream):
            _use_prior(stream, plan, rec, streams, prior_section)
        if opts.observe is not None:
            opts.observe(name, stream, rec["mode"], ctx, r,
                         lambda items, values=values: contexts.item_groups(items, n, recon, values))


def _prior_plan(r: np.ndarray, prior: Prior, recon: dict[str, np.ndarray], dither: dict[str, np.ndarray] | None
                ) -> PriorPlan | None:
    """``r`` coded against the model's ``prior``: its groups, the better of the two center shifts and the bytes
    it would add to the block's prior section (within a few bytes); None where the prior cannot code it."""
    try:
        g, k = contexts.item_groups(prior.ctx, r.size, recon, dither)
    except FormatError:  # the prior's split needs what this block lacks (a dither context)
        return None
    if k != len(prior.tables):
        return None
    parts = by_group(r, g, k)
    best = None
    for shift in sorted({0, prior_tables.best_shift(parts, prior.median)}):
        est = prior_tables.estimate(parts, prior.tables, shift)
        if est is not None and (best is None or est < best[0]):
            best = (est, parts, prior.tables, shift)
    return best


def _use_prior(stream: str, plan: PriorPlan, rec: dict, streams: dict[str, bytes],
               prior_section: prior_tables.BlockWriter) -> None:
    """Move ``stream`` into the block's prior section: its own sections and context record go."""
    _, parts, tables, shift = plan
    prior_section.add(parts, tables, shift)
    for key in [k for k in streams if k.split("@")[0] == stream]:
        del streams[key]
    rec.pop(contexts.record_key(stream), None)
    rec["prior"] = [*rec.get("prior", []), stream]
