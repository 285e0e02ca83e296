"""baler as a numcodecs codec: found by its id through the entry point, its JSON config round-trips, and zarr
arrays (and xarray's to_zarr) written through it read back within the bound."""

import json

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs", reason="numcodecs is not installed (the cfd extra)")
zarr = pytest.importorskip("zarr", reason="zarr is not installed (the cfd extra)")

from baler_core.codec.zarr_codec import Baler  # noqa: E402
from baler_core.errors import InputError  # noqa: E402


def _flow(dtype="f4"):
    t, z, y, x = np.meshgrid(np.arange(8), np.arange(6), np.arange(10), np.arange(12), indexing="ij")
    return (np.sin(0.3 * x + 0.2 * t) * np.cos(0.2 * y) * np.cos(0.3 * z)).astype(dtype)


def test_codec_is_registered_and_its_config_round_trips():
    codec = numcodecs.get_codec({"id": "baler", "error_bound": "abs=1e-4", "level": 3})
    assert isinstance(codec, Baler)
    config = json.loads(json.dumps(codec.get_config()))
    assert config == {"id": "baler", "error_bound": "abs=1e-4", "level": 3}
    assert numcodecs.get_codec(config) == codec
    with pytest.raises(InputError, match="abs=, range=, rel= or exact"):
        Baler("none")


@pytest.mark.parametrize("shape, chunks", [((8, 6, 10, 12), (4, 6, 10, 12)), ((80, 60), (32, 60)), ((5760,), (2000,))])
def test_zarr_arrays_read_back_within_the_bound(tmp_path, shape, chunks):
    f = _flow().reshape(-1)[: int(np.prod(shape))].reshape(shape)  # 5,760 smooth values, in any shape
    a = zarr.create_array(str(tmp_path / "a.zarr"), shape=shape, chunks=chunks, dtype="f4", zarr_format=2,
                          compressors=Baler("abs=1e-3"))
    a[...] = f
    b = zarr.open_array(str(tmp_path / "a.zarr"), mode="r")
    g = b[...]
    assert g.dtype == f.dtype and g.shape == f.shape
    assert np.abs(g.astype(np.float64) - f).max() <= 1e-3
    assert not np.array_equal(g, f)  # lossy: the bound was used
    stored = sum(p.stat().st_size for p in (tmp_path / "a.zarr").iterdir() if p.name[0].isdigit())
    assert stored < f.nbytes / 2


def test_integers_exact_and_xarray_to_zarr(tmp_path):
    xr = pytest.importorskip("xarray", reason="xarray is not installed")
    n = np.arange(600, dtype=np.int32).reshape(20, 30) % 7
    a = zarr.create_array(str(tmp_path / "n.zarr"), shape=n.shape, chunks=(10, 30), dtype="i4", zarr_format=2,
                          compressors=Baler("abs=1e-3"))
    a[...] = n
    assert np.array_equal(zarr.open_array(str(tmp_path / "n.zarr"), mode="r")[...], n)
    f = _flow()
    ds = xr.Dataset({"u": (("t", "z", "y", "x"), f)})
    ds.to_zarr(tmp_path / "ds.zarr", zarr_format=2, encoding={"u": {"compressors": (Baler("abs=1e-2"),)}})
    with xr.open_zarr(tmp_path / "ds.zarr") as back:
        assert np.abs(back["u"].values - f).max() <= 1e-2


def test_zarr_format_3_arrays_through_the_baler_serializer(tmp_path):
    """zarr 3: baler as the array-to-bytes codec; the metadata names it, and a fresh process opens the array by
    that name (the ``zarr.codecs`` entry point) and reads it back within the bound."""
    import subprocess
    import sys

    from baler_core.codec.zarr3_codec import BalerCodec

    x = _flow()
    tol = 1e-3 * float(np.ptp(x))
    a = zarr.create_array(str(tmp_path / "v3.zarr"), shape=x.shape, chunks=(4, 6, 10, 12), dtype="float32",
                          serializer=BalerCodec(error_bound=f"abs={tol!r}"), compressors=None, zarr_format=3)
    a[...] = x
    meta = json.loads((tmp_path / "v3.zarr" / "zarr.json").read_text())
    assert {"name": "baler", "configuration": {"error_bound": f"abs={tol!r}", "level": BalerCodec().level}} \
        in meta["codecs"]
    assert BalerCodec.from_dict(BalerCodec(error_bound="range=1e-3").to_dict()) == BalerCodec(error_bound="range=1e-3")
    code = ("import sys, numpy as np, zarr; b = zarr.open_array(sys.argv[1], mode='r'); "
            "np.save(sys.argv[2], b[...])")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "v3.zarr"), str(tmp_path / "back.npy")], check=True)
    back = np.load(tmp_path / "back.npy")
    assert back.dtype == x.dtype and back.shape == x.shape
    assert np.max(np.abs(back.astype(np.float64) - x)) <= tol * (1 + 1e-6)
    assert not np.array_equal(back, x)  # lossy: the bound is used, not ignored
    with pytest.raises(InputError, match="abs=, range=, rel= or exact"):
        BalerCodec(error_bound="rms=1e-2")
