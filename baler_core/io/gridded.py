"""Gridded data as CFD codes store it: several named variables (u, v, w, p, ...) on a grid over time, in HDF5
(h5py), NetCDF (xarray with netCDF4) or zarr, read and written with those libraries.

A :class:`Gridded` holds the *fields* (float variables of shape T x H x W or T x D x H x W, time first: what
baler compresses under a bound, read frame block by frame block) and *the rest*, kept exactly: coordinates,
other variables (a 2-D mask, an integer array, a 1-D time axis), the dimension names and every attribute of the
file and of each variable. Nothing is dropped: what is not a field is stored bit for bit.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from baler_core.errors import InputError

NONFINITE = "$nonfinite"  # JSON stand-in for an attribute that is NaN or +-Inf
FORMATS = {".h5": "hdf5", ".hdf5": "hdf5", ".hdf": "hdf5", ".nc": "netcdf", ".nc4": "netcdf", ".zarr": "zarr"}


@dataclass
class Variable:
    """One named array: ``data`` a numpy array or a lazily read one (h5py / zarr / xarray: sliced by frames),
    ``dims`` its dimension names (NetCDF; empty where the format has none), ``attrs`` JSON-safe attributes."""

    name: str
    data: object
    dims: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)
    coordinate: bool = False  # a NetCDF coordinate variable

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)


@dataclass
class Gridded:
    fields: list[Variable]  # compressed under a bound
    exact: list[Variable]  # kept bit for bit
    attrs: dict
    format: str
    order: list[str] = field(default_factory=list)  # every variable's name, in the file's order


def gridded_format(path: str | Path) -> str | None:
    """``hdf5``, ``netcdf`` or ``zarr`` by suffix (``.h5``/``.hdf5``, ``.nc``, ``.zarr``); None otherwise."""
    return FORMATS.get(Path(path).suffix.lower())


def json_safe(value):
    """Attribute values as JSON: numpy scalars and arrays become numbers and lists, bytes become text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not np.isfinite(value):  # NetCDF's NaN _FillValue: JSON has no NaN
        return {NONFINITE: repr(value)}
    if isinstance(value, np.ndarray):
        return [json_safe(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def from_json(value):
    """The inverse of :func:`json_safe` for what it changed beyond types: non-finite floats."""
    if isinstance(value, dict):
        if set(value) == {NONFINITE}:
            return float(value[NONFINITE])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def attrs_of(obj) -> dict:
    out = {str(k): json_safe(v) for k, v in dict(obj).items()}
    json.dumps(out)  # raises if something slipped through
    return out


def is_field(var: Variable) -> bool:
    return var.dtype in (np.float32, np.float64) and len(var.shape) in (3, 4) and min(var.shape) >= 1


def _select(variables: list[Variable], patterns: list[str] | None, source: str) -> Gridded:
    """Split into fields (float, rank 3 or 4; the ``patterns`` only, where given) and the rest."""
    names = [v.name for v in variables]
    chosen = set(names)
    if patterns:
        chosen = set()
        for pattern in patterns:
            hits = fnmatch.filter(names, pattern)
            if not hits:
                raise InputError(f"{source}: variable {pattern!r} matches nothing; variables: {', '.join(names)}")
            for h in hits:
                var = next(v for v in variables if v.name == h)
                if not is_field(var) or var.coordinate:
                    raise InputError(f"{source}: variable {h!r} ({var.dtype}, shape {var.shape}) is not a field: "
                                     "baler compresses float32/float64 arrays T x H x W or T x D x H x W")
            chosen.update(hits)
    fields = [v for v in variables if v.name in chosen and is_field(v) and not v.coordinate]
    if not fields:
        raise InputError(f"{source}: no field to compress (float32/float64, T x H x W or T x D x H x W); "
                         f"variables: {', '.join(f'{v.name} {v.dtype} {v.shape}' for v in variables)}")
    return Gridded(fields, [v for v in variables if v not in fields], {}, "", names)


def _read_hdf5(path: Path, patterns: list[str] | None) -> Gridded:
    import h5py

    f = h5py.File(path, "r")
    variables: list[Variable] = []

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            if obj.dtype.kind not in "biuf":
                raise InputError(f"{path}: dataset {name!r} has dtype {obj.dtype}; baler keeps numeric datasets")
            variables.append(Variable(name, obj, [], attrs_of(obj.attrs)))
        elif isinstance(obj, h5py.Group) and len(obj.attrs):
            raise InputError(f"{path}: group {name!r} has attributes, which baler does not keep yet")

    f.visititems(visit)
    g = _select(variables, patterns, str(path))
    g.attrs, g.format = attrs_of(f.attrs), "hdf5"
    return g


def _read_netcdf(path: Path, patterns: list[str] | None) -> Gridded:
    import xarray as xr

    ds = xr.open_dataset(path, decode_cf=False, decode_times=False, mask_and_scale=False)
    variables = [Variable(str(n), ds[n].variable, list(map(str, ds[n].dims)), attrs_of(ds[n].attrs), n in ds.coords)
                 for n in [*ds.coords, *ds.data_vars]]
    g = _select(variables, patterns, str(path))
    g.attrs, g.format = attrs_of(ds.attrs), "netcdf"
    return g


def _read_zarr(path: Path, patterns: list[str] | None) -> Gridded:
    import zarr

    root = zarr.open_group(str(path), mode="r")
    variables = []
    for name, arr in sorted(root.arrays()):
        dims = getattr(arr.metadata, "dimension_names", None) or arr.attrs.get("_ARRAY_DIMENSIONS", [])
        variables.append(Variable(name, arr, [str(d) for d in dims], attrs_of(arr.attrs)))
    g = _select(variables, patterns, str(path))
    g.attrs, g.format = attrs_of(root.attrs), "zarr"
    return g


def read_gridded(path: str | Path, variables: list[str] | None = None) -> Gridded:
    """Read an HDF5, NetCDF or zarr file lazily (fields are read frame block by frame block when coded)."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file does not exist")
    fmt = gridded_format(p)
    readers = {"hdf5": _read_hdf5, "netcdf": _read_netcdf, "zarr": _read_zarr}
    if fmt is None:
        raise InputError(f"{p}: not HDF5 (.h5, .hdf5), NetCDF (.nc) or zarr (.zarr)")
    try:
        return readers[fmt](p, variables)
    except InputError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{p}: cannot read as {fmt} ({type(exc).__name__}: {exc})") from exc


class FrameReader:
    """``[a:b]`` reads frames a to b of a lazily stored variable (h5py, zarr and xarray slice lazily) as a numpy
    array, so a field larger than memory is coded frame block by frame block."""

    def __init__(self, var: Variable) -> None:
        self.var, self.shape, self.dtype, self.ndim = var, var.shape, var.dtype, len(var.shape)
        self.size = int(np.prod(var.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, sl: slice) -> np.ndarray:
        return np.asarray(self.var.data[sl], dtype=self.dtype)


def gather(blocks, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """One array from a variable's frame blocks (a scalar or an unsplit variable comes as one block)."""
    parts = list(blocks)
    if not parts:
        return np.zeros(shape, dtype)
    return (parts[0] if len(parts) == 1 else np.concatenate(parts)).reshape(shape)


class GriddedWriter:
    """Write variables one after another, each from its frame blocks, so a decompressed field need not fit in
    memory (HDF5 and zarr write each block into its slice; NetCDF, written by xarray, gathers each variable)."""

    def __init__(self, path: str | Path, fmt: str | None, attrs: dict) -> None:
        self.path, self.fmt = Path(path), fmt or gridded_format(path)
        if self.fmt not in ("hdf5", "netcdf", "zarr"):
            raise InputError(f"{self.path}: write gridded data as .h5, .nc or .zarr")
        self.attrs = from_json(attrs)
        self._netcdf: list[tuple[Variable, np.ndarray]] = []
        if self.fmt == "hdf5":
            import h5py

            self._f = h5py.File(self.path, "w")
            self._f.attrs.update(self.attrs)
        elif self.fmt == "zarr":
            import zarr

            self._f = zarr.open_group(str(self.path), mode="w")
            self._f.attrs.update(self.attrs)

    def add(self, var: Variable, shape: tuple[int, ...], dtype: np.dtype, blocks) -> None:
        attrs = from_json(var.attrs)
        if self.fmt == "netcdf":
            self._netcdf.append((dataclasses.replace(var, attrs=attrs), gather(blocks, shape, dtype)))
            return
        if self.fmt == "hdf5":
            ds = self._f.create_dataset(var.name, shape=shape, dtype=dtype)
        else:
            ds = self._f.create_array(var.name, shape=shape, dtype=dtype, dimension_names=var.dims or None)
        start = 0
        for block in blocks:
            if block.ndim == 0 or len(shape) == 0:
                ds[...] = block
                continue
            ds[start : start + len(block)] = block
            start += len(block)
        ds.attrs.update(attrs)

    def close(self) -> None:
        if self.fmt == "hdf5":
            self._f.close()
        elif self.fmt == "netcdf":
            import xarray as xr

            v = self._netcdf
            coords = {x.name: xr.Variable(x.dims, a, x.attrs) for x, a in v if x.coordinate}
            data = {x.name: xr.Variable(x.dims or [f"{x.name}_dim{i}" for i in range(a.ndim)], a, x.attrs)
                    for x, a in v if not x.coordinate}
            xr.Dataset(data, coords=coords, attrs=self.attrs).to_netcdf(self.path)


def write_gridded(variables: list[tuple[Variable, np.ndarray]], attrs: dict, path: str | Path,
                  fmt: str | None = None) -> None:
    """Write whole variables (in the order given, with their dims and attributes) and the file attributes."""
    w = GriddedWriter(path, fmt, attrs)
    for var, arr in variables:
        w.add(var, arr.shape, arr.dtype, [arr])
    w.close()
