"""Subtractive dither on the model-free grid of table columns: the bound holds, histograms binned finer than a
few grid steps show no aliasing, and the file says how it was coded."""

import numpy as np
import pandas as pd
import pytest

from baler_core.codec import CompressionOptions, compress_table, decompress
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.coding.predictors.base import dither_offsets
from baler_core.format.container import ContainerReader


def _roundtrip(tmp_path, df: pd.DataFrame, spec: str, dither: bool, name: str = "x.baler") -> pd.DataFrame:
    out = tmp_path / name
    compress_table([df], None, out, CompressionOptions(BoundSpec(parse_bound(spec)), dither=dither))
    return decompress(out)


def _grid_records(path) -> list[dict]:
    with ContainerReader(path) as rd:
        return [c for b in rd.header["blocks"] for c in b["columns"] if c.get("mode") in ("grid", "dgrid")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dithered_grid_keeps_the_bound(tmp_path, dtype):
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.lognormal(3, 1, 20_000), [0.0, -0.0, 1e-30]]).astype(dtype)
    df = pd.DataFrame({"a": x, "b": rng.normal(0, 1, x.size).astype(dtype)})
    back = _roundtrip(tmp_path, df, "range=1e-3", True)
    for c in df.columns:
        tol = 1e-3 * float(df[c].max() - df[c].min())
        assert back[c].dtype == df[c].dtype
        assert np.abs(back[c].to_numpy(np.float64) - df[c].to_numpy(np.float64)).max() <= tol
    recs = _grid_records(tmp_path / "x.baler")
    assert len(recs) == 2 and all(isinstance(r["dither"], int) and r["mode"] == "dgrid" for r in recs)
    assert recs[0]["dither"] != recs[1]["dither"]  # columns get their own offsets, not one shared error


def test_dither_removes_histogram_aliasing(tmp_path):
    """Bins 3.5 grid steps wide hold 3 or 4 grid points: rounded values crowd into some bins (about 15 % each
    way), dithered ones do not."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 400_000).astype(np.float32)
    df = pd.DataFrame({"x": x})
    step = 2 * 1e-2 * 0.999
    edges = np.arange(0.05, 0.95, 3.5 * step)
    want, _ = np.histogram(x, edges)
    plain = np.histogram(_roundtrip(tmp_path, df, "range=1e-2", False, "p.baler")["x"], edges)[0]
    dith = np.histogram(_roundtrip(tmp_path, df, "range=1e-2", True, "d.baler")["x"], edges)[0]
    dev = lambda h: np.abs(h / want - 1).max()
    assert dev(plain) > 0.1
    assert dev(dith) < 0.03
    plain_rec = _grid_records(tmp_path / "p.baler")[0]
    assert "dither" not in plain_rec and plain_rec["mode"] == "grid"


def test_dither_is_deterministic_and_integers_stay_exact(tmp_path):
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"f": rng.normal(0, 1, 5000).astype(np.float32),
                       "n": rng.integers(0, 40, 5000).astype(np.float32)})  # integer-valued floats: step 1
    a = _roundtrip(tmp_path, df, "range=1e-3", True, "a.baler")
    _roundtrip(tmp_path, df, "range=1e-3", True, "b.baler")
    assert (tmp_path / "a.baler").read_bytes() == (tmp_path / "b.baler").read_bytes()
    assert np.array_equal(a["n"].to_numpy(), df["n"].to_numpy())
    assert [("dither" in r) for r in _grid_records(tmp_path / "a.baler")] == [True, False]


def test_dither_offsets_are_fixed_numbers():
    """The offsets are part of the format: they must never change with numpy's version or the machine."""
    u = dither_offsets(12345, 4, np.float64)  # PCG64's raw stream, 53 bits each, minus a half: pinned
    assert u.tolist() == [-0.27266397753283034, -0.18324166029024713, 0.2973654573327341, 0.17625467075097456]
    big = dither_offsets(7, 100_000, np.float64)
    assert big.min() >= -0.5 and big.max() < 0.5 and abs(big.mean()) < 0.01
    assert dither_offsets(12345, 4, np.float32).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_dither_offsets_match_numpy(dtype):
    """The compiled kernel (used for long columns) draws numpy's PCG64 stream bit for bit, in either dtype."""
    from baler_core.coding.pcg_kernels import dither_offsets as kernel

    for seed in (0, 1, 12345, 2**32 + 7, 2**62 + 11):
        for n in (0, 1, 3, 1000, 70_001):
            raw = np.random.PCG64(seed).random_raw(n)
            want = ((raw >> np.uint64(11)).astype(np.float64) * 2.0**-53 - 0.5).astype(dtype)
            got = kernel(seed, n, np.dtype(dtype))
            assert got.dtype == dtype and np.array_equal(got.view(np.uint8), want.view(np.uint8)), (seed, n)
    assert kernel(12345, 4, np.dtype(np.float64)).tolist() == dither_offsets(12345, 4, np.float64).tolist()
