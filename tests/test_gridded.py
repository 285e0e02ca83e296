"""Gridded CFD files (HDF5, NetCDF, zarr) with several variables: written by their own libraries, compressed
and written back through the CLI with names, dimensions, coordinates, attributes, dtypes and shapes kept."""

import subprocess
import sys

import numpy as np
import pytest

from baler_core.codec.gridded import compress_gridded, decompress_gridded
from baler_core.coding.error_bounds import load_bound_spec
from baler_core.coding.options import CompressionOptions
from baler_core.errors import InputError
from baler_core.io.gridded import read_gridded

h5py = pytest.importorskip("h5py", reason="h5py is not installed")
xr = pytest.importorskip("xarray", reason="xarray is not installed")
zarr = pytest.importorskip("zarr", reason="zarr is not installed")

T, D, H, W = 6, 8, 10, 12


def _flow() -> dict[str, np.ndarray]:
    t, z, y, x = np.meshgrid(np.arange(T), np.arange(D), np.arange(H), np.arange(W), indexing="ij")
    rng = np.random.default_rng(5)
    u = np.sin(0.4 * x + 0.3 * t) * np.cos(0.3 * y) + 0.01 * rng.normal(size=x.shape)
    return {"u": u.astype(np.float32), "v": (np.cos(0.4 * x) * np.sin(0.3 * z + 0.2 * t)).astype(np.float32),
            "p": (1e5 + 50 * u[:, 0]).astype(np.float64)}  # a 2-D pressure slice over time, float64


def _write(fmt: str, path):
    f = _flow()
    mask = (np.arange(H * W).reshape(H, W) % 3 == 0).astype(np.int8)
    if fmt == "hdf5":
        with h5py.File(path, "w") as h:
            h.attrs.update({"solver": "lbm", "Re": 150.0})
            for k, v in f.items():
                h.create_dataset(f"flow/{k}", data=v, chunks=(1, *v.shape[1:])).attrs["units"] = "m/s"
            h.create_dataset("mask", data=mask)
            h.create_dataset("dt", data=0.1)  # a scalar, kept exactly
    elif fmt == "netcdf":
        coords = {"time": ("time", np.arange(T) * 0.1, {"units": "s"}), "z": np.arange(D) * 1.0,
                  "y": np.linspace(0, 1, H), "x": np.linspace(0, 2, W)}
        ds = xr.Dataset({"u": (("time", "z", "y", "x"), f["u"], {"units": "m/s", "long_name": "x velocity"}),
                         "v": (("time", "z", "y", "x"), f["v"], {"units": "m/s"}),
                         "p": (("time", "y", "x"), f["p"], {"units": "Pa"}), "mask": (("y", "x"), mask),
                         "dt": ((), np.float64(0.1))},  # a scalar, kept exactly
                        coords=coords, attrs={"title": "cube flow", "Re": 150.0})
        ds.to_netcdf(path)
    else:
        root = zarr.open_group(str(path), mode="w")
        root.attrs.update({"title": "cube flow"})
        for k, v in f.items():
            dims = ["time", "z", "y", "x"] if v.ndim == 4 else ["time", "y", "x"]
            a = root.create_array(k, shape=v.shape, dtype=v.dtype, chunks=(1, *v.shape[1:]), dimension_names=dims)
            a[...] = v
            a.attrs["units"] = "m/s"
        m = root.create_array("mask", shape=mask.shape, dtype=mask.dtype)
        m[...] = mask
    return f, mask


def _read_back(fmt: str, path) -> tuple[dict, dict, dict]:
    """name -> array, name -> attrs, file attrs, read with the format's own library."""
    if fmt == "hdf5":
        with h5py.File(path, "r") as h:
            arrays, attrs = {}, {}
            h.visititems(lambda n, o: (arrays.__setitem__(n, o[...]), attrs.__setitem__(n, dict(o.attrs)))
                         if isinstance(o, h5py.Dataset) else None)
            return arrays, attrs, dict(h.attrs)
    if fmt == "netcdf":
        with xr.open_dataset(path) as ds:
            names = [*ds.coords, *ds.data_vars]
            return ({n: ds[n].values for n in names}, {n: dict(ds[n].attrs) for n in names} |
                    {f"{n}.dims": ds[n].dims for n in names}, dict(ds.attrs))
    root = zarr.open_group(str(path), mode="r")
    return ({n: a[...] for n, a in root.arrays()}, {n: dict(a.attrs) for n, a in root.arrays()}, dict(root.attrs))


@pytest.mark.parametrize("fmt, suffix", [("hdf5", "h5"), ("netcdf", "nc"), ("zarr", "zarr")])
def test_round_trip_keeps_every_variable(tmp_path, fmt, suffix):
    src, out, back = tmp_path / f"in.{suffix}", tmp_path / "x.baler", tmp_path / f"back.{suffix}"
    f, mask = _write(fmt, src)
    bounds = tmp_path / "bounds.yaml"
    prefix = "flow/" if fmt == "hdf5" else ""
    bounds.write_text(f"default: range=1e-3\ncolumns:\n  {prefix}p: abs=0.5\n")
    run = [sys.executable, "-m", "baler_core.cli"]
    subprocess.run([*run, "compress", str(src), "-m", "none", "--error-bound-file", str(bounds), "-o", str(out)],
                   check=True, capture_output=True)
    subprocess.run([*run, "decompress", str(out), "-o", str(back)], check=True, capture_output=True)
    want, want_attrs, want_file = _read_back(fmt, src)
    got, got_attrs, got_file = _read_back(fmt, back)
    order = sorted if fmt == "zarr" else list  # a zarr group lists its arrays in no fixed order
    assert order(got) == order(want)
    assert got_attrs == want_attrs and got_file == want_file
    for name, w in want.items():
        g = got[name]
        assert g.dtype == w.dtype and g.shape == w.shape, name
        leaf = name.split("/")[-1]
        if leaf in f:  # a field: within its bound
            tol = 0.5 if leaf == "p" else 1e-3 * float(np.ptp(w))
            assert np.abs(g.astype(np.float64) - w).max() <= tol * (1 + 1e-6), name
            assert not np.array_equal(g, w) or leaf == "p"  # lossy: the bound was used
        else:  # coordinates and the mask: bit for bit
            assert np.array_equal(g, w), name
    assert out.stat().st_size < 0.5 * sum(v.nbytes for v in f.values())


@pytest.mark.parametrize("fmt, suffix", [("hdf5", "h5"), ("netcdf", "nc")])
def test_scalars_come_back_through_the_api(tmp_path, fmt, suffix):
    _write(fmt, tmp_path / f"in.{suffix}")
    compress_gridded(read_gridded(tmp_path / f"in.{suffix}"), tmp_path / "x.baler",
                     CompressionOptions(load_bound_spec("range=1e-3")))
    got = {v.name: a for v, a in decompress_gridded(tmp_path / "x.baler")[0]}
    assert got["dt"].shape == () and got["dt"] == 0.1


def test_hdf5_field_larger_than_a_block_is_read_frame_by_frame(tmp_path):
    src = tmp_path / "big.h5"
    rng = np.random.default_rng(1)
    with h5py.File(src, "w") as h:
        h.create_dataset("T", data=np.cumsum(rng.normal(size=(64, 6, 16, 16)), axis=0).astype(np.float32),
                         chunks=(1, 6, 16, 16))
    g = read_gridded(src)
    assert isinstance(g.fields[0].data, h5py.Dataset)  # not loaded: the coder reads frame blocks
    compress_gridded(g, tmp_path / "x.baler", CompressionOptions(load_bound_spec("range=1e-4"), block_rows=4096))
    (var, arr), = decompress_gridded(tmp_path / "x.baler")[0]
    with h5py.File(src, "r") as h:
        want = h["T"][...]
    assert var.name == "T" and np.abs(arr - want).max() <= 1e-4 * np.ptp(want) * (1 + 1e-6)


def test_bad_input_is_named(tmp_path):
    src = tmp_path / "in.h5"
    _write("hdf5", src)
    with pytest.raises(InputError, match="variable 'nope' matches nothing.*flow/u"):
        read_gridded(src, ["nope"])
    with pytest.raises(InputError, match="'mask'.*is not a field"):
        read_gridded(src, ["mask"])
    g = read_gridded(src, ["flow/u"])
    assert [v.name for v in g.fields] == ["flow/u"] and {v.name for v in g.exact} >= {"flow/v", "mask"}
    with pytest.raises(InputError, match="not fields: w"):
        compress_gridded(g, tmp_path / "x.baler", CompressionOptions(_bounds_with("w")))
    with h5py.File(tmp_path / "ints.h5", "w") as h:
        h.create_dataset("n", data=np.zeros((4, 4, 4), np.int32))
    with pytest.raises(InputError, match="no field to compress.*n int32"):
        read_gridded(tmp_path / "ints.h5")
    with pytest.raises(InputError, match="does not exist"):
        read_gridded(tmp_path / "missing.nc")


def test_variables_come_back_in_the_file_order(tmp_path):
    """A NetCDF file lists an exact variable between two fields: the written-back file lists them the same way."""
    f = _flow()
    ds = xr.Dataset({"u": (("t", "z", "y", "x"), f["u"]), "flag": (("t",), np.arange(T, dtype=np.int16)),
                     "v": (("t", "z", "y", "x"), f["v"])})
    ds.to_netcdf(tmp_path / "in.nc")
    compress_gridded(read_gridded(tmp_path / "in.nc"), tmp_path / "x.baler",
                     CompressionOptions(load_bound_spec("range=1e-3")))
    variables, _, fmt = decompress_gridded(tmp_path / "x.baler")
    assert fmt == "netcdf" and [v.name for v, _ in variables] == ["u", "flag", "v"]


def _bounds_with(name: str):
    spec = load_bound_spec("range=1e-3")
    spec.columns = {name: spec.default}
    return spec
