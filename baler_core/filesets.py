"""File sets: one trained model, many input files, one compression job per file.

A table dataset whose ``source`` has ``files`` (a glob pattern) or ``file_list`` (a text file with one path per
line) is a *file set*. The workflow trains once on rows drawn across a few *training files* and then compresses
every file of the set on its own with that model. This module holds the logic the workflow's rules call through
``baler`` subcommands (``baler_core.cli_filesets``):

* :func:`resolve_files`: the sorted, de-duplicated paths of a set;
* :func:`file_stem`: a stable, file-name-safe name per input path (``<name>-<12 hex of the path's SHA-1>``), which
  depends on that path alone, so adding files never renames the outputs of the others;
* :func:`training_files`: which files the training sample is drawn from, frozen in a manifest at first use so
  that adding files to the set does not change the sample (and hence does not retrain);
* :func:`draw_sample`: a seeded uniform sample of rows across the training files, in one streaming pass;
* :func:`pool_metrics` and :func:`pool_stats`: per-variable errors and byte counts pooled over files, with the
  shared decoder counted once.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError
from .tables import TABLE_SUFFIXES, iter_table_chunks

#: Defaults of ``source.train_sample``.
SAMPLE_DEFAULTS = {"rows": 100_000, "seed": 0, "max_files": 32}
#: The keys of ``source.train_sample`` that decide *which files* are training files (recorded in the manifest).
PICK_KEYS = ("max_files", "seed", "files")
STEM_HASH_CHARS = 12
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def is_fileset(source: Mapping) -> bool:
    """Whether a dataset ``source`` mapping describes a file set."""
    return "files" in source or "file_list" in source


def check_source(name: str, kind: str, source: Mapping) -> None:
    """Refuse settings that have no meaning for a file set, with a message naming the dataset."""
    if not is_fileset(source):
        return
    if kind != "table":
        raise InputError(f"dataset {name}: source.files / source.file_list are for kind: table only")
    if "max_rows" in source:
        raise InputError(f"dataset {name}: source.max_rows does not apply to a file set (every row of every file "
                         "is compressed); use source.train_sample.rows to limit the training sample")
    ts = source.get("train_sample") or {}
    if "rows" in ts and "fraction" in ts:
        raise InputError(f"dataset {name}: give source.train_sample.rows or .fraction, not both")


# --------------------------------------------------------------------------------------------- resolving
def _norm(path: str) -> str:
    return os.path.normpath(os.path.expanduser(str(path)))


def _expand(spec: str | Sequence[str], what: str) -> list[str]:
    """Paths of one glob pattern or a list of paths/patterns (relative ones: relative to the working directory)."""
    specs = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for s in specs:
        s = os.path.expanduser(str(s))
        if any(ch in s for ch in "*?["):
            hits = glob.glob(s, recursive=True)
            if not hits:
                raise InputError(f"{what}: pattern {s!r} matches no files")
            out.extend(hits)
        else:
            out.append(s)
    return out


def read_file_list(path: str | Path) -> list[str]:
    """Paths listed in a text file, one per line; blank lines and lines starting with ``#`` are skipped."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file list does not exist")
    lines = (line.strip() for line in p.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def resolve_files(source: Mapping) -> list[str]:
    """The input paths of a file-set source, normalized, unique and sorted.

    ``files``: a glob pattern (``**`` matches folders recursively), relative to the working directory or
    absolute. ``file_list``: a text file with one path per line; relative paths (of the list and in it) are
    relative to the working directory. Every path must have a table suffix (.parquet, .pq, .npz, .root).
    """
    if "files" in source:
        paths = _expand(source["files"], "source.files")
    elif "file_list" in source:
        paths = read_file_list(os.path.expanduser(str(source["file_list"])))
        if not paths:
            raise InputError(f"{source['file_list']}: file list names no files")
    else:
        raise InputError("source has neither 'files' nor 'file_list'")
    paths = sorted({_norm(p) for p in paths})
    bad = [p for p in paths if Path(p).suffix.lower() not in TABLE_SUFFIXES]
    if bad:
        raise InputError(f"file set holds files that are not tables ({', '.join(TABLE_SUFFIXES)}): "
                         f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
    return paths


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def file_stem(path: str) -> str:
    """Stable, safe output name of an input path: ``<name>-<hash>``.

    ``name`` is the file name without its suffix, with every character other than letters, digits, ``_`` and
    ``-`` replaced by ``_`` (at most 60 characters); ``hash`` is the first 12 hex digits of the SHA-1 of the
    normalized path, so two ``events.root`` in different folders get different stems. The stem depends on the
    path alone: adding or removing other files never renames it.
    """
    p = _norm(path)
    name = _UNSAFE.sub("_", Path(p).name.rsplit(".", 1)[0]).strip("_")[:60] or "file"
    return f"{name}-{_digest(p)[:STEM_HASH_CHARS]}"


def stems_map(paths: Iterable[str]) -> dict[str, str]:
    """``{stem: path}`` for a list of paths; two paths with the same stem are an error."""
    out: dict[str, str] = {}
    for p in paths:
        s = file_stem(p)
        if s in out and out[s] != _norm(p):
            raise InputError(f"input files {out[s]} and {p} have the same output name {s}; rename one")
        out[s] = _norm(p)
    return out


def file_batches(stems: Iterable[str], files_per_job: int) -> dict[str, int]:
    """``{stem: batch index}``: consecutive stems (sorted) in batches of ``files_per_job``."""
    k = max(1, int(files_per_job))
    return {s: i // k for i, s in enumerate(sorted(stems))}


# --------------------------------------------------------------------------------------------- training files
def sample_settings(source: Mapping) -> dict:
    """``source.train_sample`` with defaults (``rows`` is dropped when ``fraction`` is given)."""
    ts = dict(source.get("train_sample") or {})
    out = {**SAMPLE_DEFAULTS, **ts}
    if "fraction" in ts:
        out.pop("rows", None)
    return out


def pick_settings(source: Mapping) -> dict:
    """The settings that decide which files are training files (compared with the manifest's)."""
    s = sample_settings(source)
    return {k: s.get(k) for k in PICK_KEYS}


def pick_training_files(paths: Sequence[str], max_files: int, seed: int = 0) -> list[str]:
    """The ``max_files`` paths with the smallest seeded hash: a seeded random choice that does not depend on the
    order of ``paths`` (sorted in the result)."""
    keyed = sorted(paths, key=lambda p: _digest(f"{seed}:{_norm(p)}"))
    return sorted(_norm(p) for p in keyed[: max(1, int(max_files))])


def read_manifest(path: str | Path) -> dict | None:
    """The training-file manifest (``{"settings": ..., "files": [...]}``), or None when absent or unreadable."""
    p = Path(path)
    if not p.exists():
        return None
    try:
        doc = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("files"), list) else None


def write_manifest(path: str | Path, files: Sequence[str], settings: Mapping, rows: int | None = None) -> None:
    doc = {"settings": dict(settings), "files": [_norm(f) for f in files]}
    if rows is not None:
        doc["rows"] = int(rows)
    p = Path(path)
    tmp = p.with_name(f".{p.name}.part")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    tmp.replace(p)


def training_files(source: Mapping, manifest: str | Path | None = None,
                   all_files: Sequence[str] | None = None) -> list[str]:
    """The files the training sample is drawn from.

    1. ``train_sample.files`` (a glob pattern or a list of paths) when given: exactly those.
    2. Otherwise the files recorded in ``manifest`` (written when the sample was drawn), as long as the manifest
       was written with the same ``max_files`` and ``seed`` and every file in it is still in the set. Adding
       files to the set therefore keeps the sample, the normalization and the model as they are.
    3. Otherwise (first use, changed settings, or a training file left the set): ``max_files`` files picked
       from the current set with the seed.
    """
    settings = pick_settings(source)
    if settings.get("files"):
        return sorted({_norm(p) for p in _expand(settings["files"], "source.train_sample.files")})
    current = list(all_files) if all_files is not None else resolve_files(source)
    doc = read_manifest(manifest) if manifest else None
    if doc is not None and doc.get("settings") == settings:
        recorded = [_norm(f) for f in doc["files"]]
        if recorded and set(recorded) <= set(current):
            return sorted(recorded)
    return pick_training_files(current, settings["max_files"], settings["seed"])


# --------------------------------------------------------------------------------------------- sampling
def _file_rng(seed: int, path: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), int(_digest(_norm(path))[:15], 16)])


def draw_sample(paths: Sequence[str], rows: int | None = None, fraction: float | None = None, seed: int = 0,
                columns: list[str] | None = None, tree: str | None = None, cut: str | None = None,
                chunk_rows: int = 1_000_000) -> pd.DataFrame:
    """A seeded uniform random sample of rows across ``paths``, in one streaming pass.

    Every row gets a uniform key from a generator seeded by ``seed`` and its file's path; the sample is the
    ``rows`` rows with the smallest keys over all files (without replacement; every row when there are fewer),
    or, with ``fraction``, every row whose key is below ``fraction``. Memory stays at about ``rows`` rows plus
    one chunk. The result is in key order (shuffled) and does not depend on the order of ``paths``.
    """
    if (rows is None) == (fraction is None):
        raise InputError("give either rows or fraction for the training sample")
    if fraction is not None and not 0 < fraction <= 1:
        raise InputError(f"train_sample.fraction must lie in (0, 1], got {fraction}")
    if rows is not None and rows < 2:
        raise InputError(f"train_sample.rows must be at least 2, got {rows}")
    kept: pd.DataFrame | None = None
    kept_keys = np.empty(0)
    names: list[str] | None = None
    for path in sorted(_norm(p) for p in paths):
        rng = _file_rng(seed, path)
        for chunk in iter_table_chunks(path, columns, tree, cut, chunk_rows):
            if names is None:
                names = list(chunk.columns)
            elif list(chunk.columns) != names:
                raise InputError(f"{path}: columns {list(chunk.columns)} differ from the other files' {names}")
            keys = rng.random(len(chunk))
            if fraction is not None:
                sel = keys < fraction
                chunk, keys = chunk[sel], keys[sel]
            if not len(chunk):
                continue
            kept = chunk.reset_index(drop=True) if kept is None else pd.concat([kept, chunk], ignore_index=True)
            kept_keys = np.concatenate([kept_keys, keys])
            if rows is not None and len(kept_keys) > rows:
                top = np.argpartition(kept_keys, rows - 1)[:rows]
                kept, kept_keys = kept.iloc[top].reset_index(drop=True), kept_keys[top]
    if kept is None or not len(kept):
        raise InputError(f"no rows drawn from {len(paths)} training file(s)")
    order = np.argsort(kept_keys, kind="stable")
    return kept.iloc[order].reset_index(drop=True)


def split_sample(sample: pd.DataFrame, val_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training and validation rows of a shuffled sample: the first ``val_fraction`` rows validate."""
    if not 0 < val_fraction < 1:
        raise InputError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    n = len(sample)
    if n < 2:
        raise InputError(f"the training sample has {n} row(s); need at least 2")
    n_val = min(max(1, int(round(n * val_fraction))), n - 1)
    return sample.iloc[n_val:].reset_index(drop=True), sample.iloc[:n_val].reset_index(drop=True)


# --------------------------------------------------------------------------------------------- pooling
def file_metrics(original: pd.DataFrame, reconstructed: pd.DataFrame, bound: tuple[str, float] | None
                 ) -> pd.DataFrame:
    """Per-variable metrics of one file (``metrics.per_variable_metrics``) plus what pooling needs: ``n_residual``
    (rows where both values are finite), ``n_response`` (those with a nonzero original), ``min`` and ``max`` of the
    finite original values."""
    from .metrics import per_variable_metrics

    table = per_variable_metrics(original, reconstructed, {c: bound for c in original.columns} if bound else None)
    extra = {"n_residual": [], "n_response": [], "min": [], "max": []}
    for name in table["variable"]:
        o = original[name].to_numpy(dtype=np.float64, na_value=np.nan)
        r = reconstructed[name].to_numpy(dtype=np.float64, na_value=np.nan)
        both = np.isfinite(o) & np.isfinite(r)
        fin = o[np.isfinite(o)]
        extra["n_residual"].append(int(both.sum()))
        extra["n_response"].append(int((both & (o != 0)).sum()))
        extra["min"].append(float(fin.min()) if fin.size else math.nan)
        extra["max"].append(float(fin.max()) if fin.size else math.nan)
    for k, v in extra.items():
        table[k] = v
    return table


def _weighted(values: np.ndarray, weights: np.ndarray, square: bool = False) -> float:
    ok = np.isfinite(values) & (weights > 0)
    w = weights[ok]
    if not w.sum():
        return math.nan
    v = values[ok] ** 2 if square else values[ok]
    out = float(np.sum(v * w) / np.sum(w))
    return math.sqrt(out) if square else out


def _nanmax(v: np.ndarray) -> float:
    return math.nan if np.isnan(v).all() else float(np.nanmax(v))


def _nanmin(v: np.ndarray) -> float:
    return math.nan if np.isnan(v).all() else float(np.nanmin(v))


def pool_metrics(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Per-variable metrics pooled over files (each table from :func:`file_metrics` or ``baler evaluate``).

    Counts add up; maxima (``max_abs_error``, ``max_rel_error``) are the maxima over files; means and RMS are
    pooled with the files' row counts as weights (RMS as the root of the weighted mean square); the std follows
    from ``std**2 = rms**2 - mean**2``; ``frac_outside_bound`` is the row-weighted mean; ``max_range_rel_error`` is
    the largest absolute error over the range of all files together (needs ``min``/``max``; without them, the
    largest per-file value, an upper bound). ``n_files`` counts the files.
    """
    from .metrics import METRIC_COLUMNS, _ratio_of_range

    if not tables:
        raise InputError("pool_metrics needs at least one table")
    variables = [str(v) for v in tables[0]["variable"]]
    rows = []
    for var in variables:
        parts = []
        for i, t in enumerate(tables):
            hit = t[t["variable"].astype(str) == var]
            if len(hit) != 1:
                raise InputError(f"metrics table {i} has no single row for variable {var!r}")
            parts.append(hit.iloc[0])
        col = lambda k: np.array([float(p[k]) if k in p and p[k] != "" else math.nan for p in parts])  # noqa: E731
        n, n_nonfinite, n_zero = col("n"), col("n_nonfinite"), col("n_zero_excluded")
        n_res = col("n_residual") if "n_residual" in parts[0] else n - n_nonfinite
        n_resp = col("n_response") if "n_response" in parts[0] else n_res - n_zero
        resp_mean, resp_rms = _weighted(col("response_mean"), n_resp), _weighted(col("response_rms"), n_resp, True)
        res_mean, res_rms = _weighted(col("residual_mean"), n_res), _weighted(col("residual_rms"), n_res, True)
        max_abs, max_rel = _nanmax(col("max_abs_error")), _nanmax(col("max_rel_error"))
        if "min" in parts[0] and "max" in parts[0]:
            lo, hi = col("min"), col("max")
            max_range_rel = _ratio_of_range(max_abs, _nanmax(hi) - _nanmin(lo))
        else:
            lo = hi = np.array([math.nan])
            max_range_rel = _nanmax(col("max_range_rel_error"))
        frac = col("frac_outside_bound")
        row = {
            "variable": var, "n": int(n.sum()), "n_nonfinite": int(n_nonfinite.sum()),
            "n_zero_excluded": int(n_zero.sum()),
            "response_mean": resp_mean, "response_rms": resp_rms, "residual_mean": res_mean, "residual_rms": res_rms,
            "max_abs_error": max_abs, "max_rel_error": max_rel, "max_range_rel_error": max_range_rel,
            "bound_kind": str(parts[0]["bound_kind"]) if "bound_kind" in parts[0] else "",
            "bound_value": float(parts[0]["bound_value"]) if "bound_value" in parts[0] else math.nan,
            "frac_outside_bound": _weighted(frac, n) if not np.isnan(frac).all() else math.nan,
            "response_std": math.sqrt(max(resp_rms**2 - resp_mean**2, 0.0)) if math.isfinite(resp_rms) else math.nan,
            "residual_std": math.sqrt(max(res_rms**2 - res_mean**2, 0.0)) if math.isfinite(res_rms) else math.nan,
            "n_residual": int(np.nansum(n_res)), "n_response": int(np.nansum(n_resp)),
            "min": _nanmin(lo), "max": _nanmax(hi),
            "n_files": len(tables),
        }
        rows.append(row)
    cols = METRIC_COLUMNS + ["n_residual", "n_response", "min", "max", "n_files"]
    return pd.DataFrame(rows, columns=cols)


def pool_stats(stats: Sequence[Mapping], decompress: Sequence[Mapping] | None = None) -> dict:
    """Bytes and times of a model's files together: sums of raw and compressed bytes, rows and seconds, and the
    ratio with the shared decoder counted once (``raw / (compressed + decoder)``). Every file must name the same
    decoder size (one model)."""
    if not stats:
        raise InputError("pool_stats needs at least one file's stats")
    dec = {int(s.get("decoder_bytes", 0)) for s in stats}
    if len(dec) != 1:
        raise InputError(f"the files were compressed with different decoders (decoder bytes {sorted(dec)})")
    decoder = dec.pop()
    embedded = sum(bool(s.get("decoder_embedded")) for s in stats)
    raw = sum(int(s["raw_bytes"]) for s in stats)
    comp = sum(int(s["compressed_bytes"]) for s in stats)
    out = {
        "n_files": len(stats), "rows": sum(int(s.get("rows") or 0) for s in stats), "raw_bytes": raw,
        "compressed_bytes": comp, "decoder_bytes": decoder, "decoder_embedded_files": embedded,
        "ratio_without_decoder": raw / comp if comp else math.nan,
        "ratio_with_decoder": raw / (comp + decoder) if comp + decoder else math.nan,
        "compress_seconds": sum(float(s.get("compress_seconds") or 0.0) for s in stats),
    }
    if decompress:
        out["decompress_seconds"] = sum(float(d.get("decompress_seconds") or 0.0) for d in decompress)
    return out


def summarize_fileset(dataset: str, point_dirs: Sequence[str | Path], stems: Mapping[str, str],
                      evaluated: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Summary rows (one per sweep point and bound, in ``summary.SUMMARY_COLUMNS`` plus ``n_files``, ``rows``),
    one row per file and point, and per-variable metrics pooled per point (with a ``label`` column).

    Reads ``<point>/files/<stem>.json`` (from ``baler compress --stats``) and, when ``evaluated``,
    ``<stem>.decompress.json`` and ``<stem>.metrics.tsv`` for every stem.
    """
    from .metrics import read_metrics_tsv
    from .summary import SUMMARY_COLUMNS

    summary, per_file, pooled_tables = [], [], []
    for d in map(Path, point_dirs):
        label = f"{d.parent.name}/{d.name}"
        stats, dec, metrics = [], [], []
        for stem, path in sorted(stems.items()):
            folder = d / "files"
            s = json.loads((folder / f"{stem}.json").read_text())
            stats.append(s)
            row = {"label": label, "stem": stem, "path": path, "rows": s.get("rows"), "raw_bytes": s["raw_bytes"],
                   "compressed_bytes": s["compressed_bytes"], "ratio": s["ratio_without_decoder"],
                   "compress_seconds": s.get("compress_seconds")}
            if evaluated:
                dec.append(json.loads((folder / f"{stem}.decompress.json").read_text()))
                m = read_metrics_tsv(folder / f"{stem}.metrics.tsv")
                metrics.append(m)
                row.update(max_abs_error=float(m["max_abs_error"].max()),
                           max_range_rel_error=float(m["max_range_rel_error"].max()),
                           max_frac_outside_bound=float(m["frac_outside_bound"].max()),
                           decompress_seconds=dec[-1].get("decompress_seconds"))
            per_file.append(row)
        tot = pool_stats(stats, dec if evaluated else None)
        mb = tot["raw_bytes"] / 1e6
        srow = {"dataset": dataset, "method": f"baler-{stats[0]['model']['name']}", "label": label,
                "raw_bytes": tot["raw_bytes"], "compressed_bytes": tot["compressed_bytes"],
                "decoder_bytes": tot["decoder_bytes"], "ratio": tot["ratio_without_decoder"],
                "ratio_with_decoder": tot["ratio_with_decoder"],
                "compress_MBps": mb / tot["compress_seconds"] if tot["compress_seconds"] else math.nan,
                "decompress_MBps": mb / tot["decompress_seconds"] if tot.get("decompress_seconds") else math.nan,
                "n_files": tot["n_files"], "rows": tot["rows"]}
        if evaluated:
            pooled = pool_metrics(metrics)
            pooled.insert(0, "label", label)
            pooled_tables.append(pooled)
            srow.update(max_abs_error=float(pooled["max_abs_error"].max()),
                        max_range_rel_error=float(pooled["max_range_rel_error"].max()),
                        max_rel_error=float(pooled["max_rel_error"].max()),
                        max_response_rms=float(pooled["response_rms"].max()),
                        max_frac_outside_bound=float(max(float(m["frac_outside_bound"].max()) for m in metrics)))
        summary.append(srow)
    cols = SUMMARY_COLUMNS + ["n_files", "rows"]
    pooled_df = pd.concat(pooled_tables, ignore_index=True) if pooled_tables else pd.DataFrame(columns=["label"])
    return pd.DataFrame(summary, columns=cols), pd.DataFrame(per_file), pooled_df
