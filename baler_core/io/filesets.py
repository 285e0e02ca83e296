"""File sets: one trained model, many input files, one compression job per file.

A table or field dataset whose ``source`` has ``files`` (a glob pattern) or ``file_list`` (a text file with one
path per line) is a *file set*. The workflow trains once on rows (a table's) or frames (a field's) drawn across a
few *training files* and then compresses every file of the set on its own with that model; the decoder is stored
once for the whole set. This module holds the logic the workflow's rules call through
``baler`` subcommands (``baler_core.cli.filesets``):

* :func:`resolve_files`: the sorted, de-duplicated paths of a set;
* :func:`file_stem`: a stable, file-name-safe name per input path (``<name>-<12 hex of the path's SHA-1>``), which
  depends on that path alone, so adding files never renames the outputs of the others;
* :func:`training_files`: which files the training sample is drawn from, frozen in a manifest at first use so
  that adding files to the set does not change the sample (and hence does not retrain);
* :func:`draw_sample` and :func:`draw_frames`: a seeded uniform sample of rows (frames) across the training
  files, in one streaming pass;
* :func:`pool_metrics` and :func:`pool_stats`: per-variable errors and byte counts pooled over files, with the
  shared decoder counted once.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.errors import InputError
from baler_core.io.fields import FIELD_SUFFIXES, open_field
from baler_core.io.gridded import FORMATS, FrameReader, gridded_format, read_gridded
from baler_core.io.tables import TABLE_SUFFIXES, iter_table_chunks

#: Defaults of ``source.train_sample`` (tables draw ``rows``, fields ``frames``).
SAMPLE_DEFAULTS = {"rows": 100_000, "seed": 0, "max_files": 32}
#: A field set's training sample, when ``train_sample.frames`` is not given: as many frames as hold this many
#: values (64 MB of float32), at least :data:`MIN_FRAMES`.
SAMPLE_VALUES = 1 << 24
MIN_FRAMES = 4
SUFFIXES = {"table": TABLE_SUFFIXES, "field": (*FIELD_SUFFIXES, *FORMATS)}
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
    if kind not in SUFFIXES:
        raise InputError(f"dataset {name}: source.files / source.file_list are for kind: table or field, "
                         f"not {kind}")
    if "variable" in source and kind != "field":
        raise InputError(f"dataset {name}: source.variable names the variable of a field set's HDF5, NetCDF or "
                         "zarr files; a table set selects columns with source.branches")
    ts = source.get("train_sample") or {}
    wrong = "frames" if kind == "table" else "rows"
    if wrong in ts:
        right = "rows" if kind == "table" else "frames"
        raise InputError(f"dataset {name}: a {kind} set draws {right}, not {wrong}; give "
                         f"source.train_sample.{right} (or .fraction)")
    if "max_rows" in source:
        raise InputError(f"dataset {name}: source.max_rows does not apply to a file set (every row of every file "
                         "is compressed); use source.train_sample.rows to limit the training sample")
    if ("rows" in ts or "frames" in ts) and "fraction" in ts:
        raise InputError(f"dataset {name}: give source.train_sample.{'rows' if kind == 'table' else 'frames'} "
                         "or .fraction, not both")


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


def resolve_files(source: Mapping, kind: str = "table") -> list[str]:
    """The input paths of a file-set source, normalized, unique and sorted.

    ``files``: a glob pattern (``**`` matches folders recursively), relative to the working directory or
    absolute. ``file_list``: a text file with one path per line; relative paths (of the list and in it) are
    relative to the working directory. Every path must have a suffix of the kind (tables: .parquet, .pq, .npz,
    .root; fields: .npy, .npz, and HDF5, NetCDF or zarr: .h5, .hdf5, .hdf, .nc, .nc4, .zarr).
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
    if kind not in SUFFIXES:
        raise InputError(f"file sets hold tables or fields, not {kind}")
    bad = [p for p in paths if Path(p).suffix.lower() not in SUFFIXES[kind]]
    if bad:
        raise InputError(f"file set holds files that are not {kind}s ({', '.join(SUFFIXES[kind])}): "
                         f"{', '.join(bad[:5])}{' ...' if len(bad) > 5 else ''}")
    return paths


def rebuilt_suffix(kind: str, paths: Sequence[str]) -> str:
    """The suffix a set's files are decompressed to for evaluation: Parquet for tables, NPY for NPY/NPZ fields,
    HDF5 for HDF5, NetCDF and zarr files (read back through the same reader). One set holds one of the two
    kinds of field file."""
    if kind == "table":
        return "parquet"
    gridded = {gridded_format(p) is not None for p in paths}
    if len(gridded) > 1:
        raise InputError("a field set holds NPY/NPZ files and HDF5/NetCDF/zarr files; keep one kind per set")
    return "h5" if gridded == {True} else "npy"


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
def sample_settings(source: Mapping, kind: str = "table") -> dict:
    """``source.train_sample`` with defaults (``rows`` is dropped when ``fraction`` is given; a field set has
    ``frames`` instead, None meaning :data:`SAMPLE_VALUES` worth)."""
    ts = dict(source.get("train_sample") or {})
    out = {**SAMPLE_DEFAULTS, **ts}
    if kind == "field":
        out.pop("rows", None)
        out.setdefault("frames", None)
    if "fraction" in ts:
        out.pop("rows", None)
        out.pop("frames", None)
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
                   all_files: Sequence[str] | None = None, kind: str = "table") -> list[str]:
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
    current = list(all_files) if all_files is not None else resolve_files(source, kind)
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


def open_frames(path: str, variable: str | None = None) -> np.ndarray | FrameReader:
    """The frames of one field file, read on demand: an NPY/NPZ array, or the field ``variable`` of an HDF5,
    NetCDF or zarr file (which a gridded file must name)."""
    if gridded_format(path) is None:
        return open_field(path, variable)
    if not variable:
        raise InputError(f"{path}: an HDF5, NetCDF or zarr field set names the variable its model learns "
                         "(source.variable)")
    return FrameReader(read_gridded(path, [variable]).fields[0])


def draw_frames(paths: Sequence[str], frames: int | None = None, fraction: float | None = None, seed: int = 0,
                key: str | None = None) -> np.ndarray:
    """A seeded uniform random sample of whole frames across field files (N x H x W or N x D x H x W each), the
    way :func:`draw_sample` draws rows: every frame gets a key from a generator seeded by ``seed`` and its file's
    path, the sample is the ``frames`` frames with the smallest keys (or those below ``fraction``). ``frames``
    None: as many as hold :data:`SAMPLE_VALUES` values. Files are memory-mapped, so only the kept frames are
    held; the result is in key order and does not depend on the order of ``paths``. Every file must have the
    same frame shape and dtype; ``key`` names the variable of HDF5, NetCDF and zarr files (or an NPZ array)."""
    if fraction is not None and not 0 < fraction <= 1:
        raise InputError(f"train_sample.fraction must lie in (0, 1], got {fraction}")
    if frames is not None and frames < 2:
        raise InputError(f"train_sample.frames must be at least 2, got {frames}")
    picks: list[tuple[float, str, int]] = []  # (key, path, frame index)
    shape = dtype = None
    for path in sorted(_norm(p) for p in paths):
        arr = open_frames(path, key)
        if shape is None:
            shape, dtype = arr.shape[1:], arr.dtype
            if frames is None and fraction is None:
                frames = max(MIN_FRAMES, SAMPLE_VALUES // max(1, int(np.prod(shape))))
        elif arr.shape[1:] != shape or arr.dtype != dtype:
            raise InputError(f"{path}: frames {arr.shape[1:]} {arr.dtype} differ from the other training files' "
                             f"{shape} {dtype}; one model codes one frame shape")
        keys = _file_rng(seed, path).random(arr.shape[0])
        idx = np.flatnonzero(keys < fraction) if fraction is not None else np.arange(arr.shape[0])
        picks.extend((float(keys[i]), path, int(i)) for i in idx)
        if frames is not None and fraction is None and len(picks) > frames:
            picks = sorted(picks)[:frames]
    if not picks:
        raise InputError(f"no frames drawn from {len(paths)} training file(s)")
    picks.sort()
    out = np.empty((len(picks), *shape), dtype=dtype)
    by_file: dict[str, list[tuple[int, int]]] = {}
    for slot, (_, path, i) in enumerate(picks):
        by_file.setdefault(path, []).append((slot, i))
    for path, pairs in by_file.items():  # one open per file, frames read in file order
        arr = open_frames(path, key)
        for slot, i in sorted(pairs, key=lambda p: p[1]):
            out[slot] = np.asarray(arr[i : i + 1])[0]
    return out


def split_sample(sample: pd.DataFrame | np.ndarray, val_fraction: float
                 ) -> tuple[pd.DataFrame | np.ndarray, pd.DataFrame | np.ndarray]:
    """Training and validation part of a shuffled sample (a table's rows or a field's frames): the first
    ``val_fraction`` of it validates."""
    if not 0 < val_fraction < 1:
        raise InputError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    n = len(sample)
    if n < 2:
        what = "frame" if isinstance(sample, np.ndarray) else "row"
        raise InputError(f"the training sample has {n} {what}(s); need at least 2")
    n_val = min(max(1, int(round(n * val_fraction))), n - 1)
    if isinstance(sample, np.ndarray):
        return sample[n_val:], sample[:n_val]
    return sample.iloc[n_val:].reset_index(drop=True), sample.iloc[:n_val].reset_index(drop=True)
