"""Fields of three spatial dimensions over time (N x D x H x W): model-free coding with every predictor, NPY in
and out, plots of the middle slice, and clear refusals."""

import subprocess
import sys

import numpy as np
import pytest

from baler_core.codec import CompressionOptions, compress_field, decompress, file_info
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.errors import InputError
from baler_core.io.fields import open_field, read_field


def _flow(n=5, d=10, h=12, w=14, dtype=np.float32) -> np.ndarray:
    t, z, y, x = np.meshgrid(np.arange(n), np.arange(d), np.arange(h), np.arange(w), indexing="ij")
    rng = np.random.default_rng(0)
    f = np.sin(0.3 * x + 0.2 * t) * np.cos(0.25 * y) * np.cos(0.2 * z) + 0.01 * rng.normal(size=x.shape)
    return f.astype(dtype)


@pytest.mark.parametrize("predictor", ["lorenzo", "interp", "spline", "dct", "auto"])
@pytest.mark.parametrize("spec", ["range=1e-3", "abs=1e-2", "rel=1e-3"])
def test_3d_fields_round_trip_within_the_bound(tmp_path, predictor, spec):
    f = _flow()
    out = tmp_path / "f.baler"
    compress_field(f, None, out, CompressionOptions(BoundSpec(parse_bound(spec)), field_predictor=predictor))
    g = decompress(out)
    assert g.shape == f.shape and g.dtype == f.dtype
    kind, value = spec.split("=")
    err = np.abs(g.astype(np.float64) - f)
    tol = {"range": float(value) * np.ptp(f), "abs": float(value), "rel": float(value) * np.abs(f)}[kind]
    assert np.all(err <= tol * (1 + 1e-6))
    assert file_info(out)["shape"] == list(f.shape)
    assert out.stat().st_size < f.nbytes / (2 if kind != "rel" else 1.5)  # smooth: it compresses


def test_3d_fields_keep_nan_float64_and_many_blocks(tmp_path):
    f = _flow(n=40, d=6, h=8, w=10, dtype=np.float64)
    f[3, 2, 1, 0], f[30, 0, 0, 0] = np.nan, np.inf
    out = tmp_path / "f.baler"
    compress_field(f, None, out, CompressionOptions(BoundSpec(parse_bound("range=1e-4")), block_rows=2000))
    g = decompress(out)
    assert g.dtype == np.float64 and np.isnan(g[3, 2, 1, 0]) and g[30, 0, 0, 0] == np.inf
    ok = np.isfinite(f)
    assert np.all(np.abs(g[ok] - f[ok]) <= 1e-4 * np.ptp(f[ok]) * (1 + 1e-6))
    from baler_core.format.container import ContainerReader

    with ContainerReader(out) as rd:
        assert len(rd.header["blocks"]) > 1  # frame blocks, so memory stays flat


def test_npy_3d_in_and_out_through_the_cli(tmp_path):
    f = _flow()
    np.save(tmp_path / "f.npy", f)
    assert open_field(tmp_path / "f.npy").shape == f.shape
    run = [sys.executable, "-m", "baler_core.cli"]
    subprocess.run([*run, "compress", str(tmp_path / "f.npy"), "-m", "none", "--error-bound", "range=1e-3",
                    "-o", str(tmp_path / "f.baler")], check=True, capture_output=True)
    subprocess.run([*run, "decompress", str(tmp_path / "f.baler"), "-o", str(tmp_path / "g.npy")], check=True,
                   capture_output=True)
    g = np.load(tmp_path / "g.npy")
    assert g.shape == f.shape and np.abs(g - f).max() <= 1e-3 * np.ptp(f)
    subprocess.run([*run, "plot-run", str(tmp_path / "f.npy"), str(tmp_path / "g.npy"), "--pdf",
                    str(tmp_path / "p.pdf"), "--png-dir", str(tmp_path / "png")], check=True, capture_output=True)
    assert (tmp_path / "png" / "field_frames.png").stat().st_size > 0


def test_bad_ranks_and_models_are_refused_by_name(tmp_path):
    np.save(tmp_path / "five.npy", np.zeros((2, 2, 2, 2, 2), np.float32))
    with pytest.raises(InputError, match="N x D x H x W.*shape \\(2, 2, 2, 2, 2\\)"):
        read_field(tmp_path / "five.npy")
    with pytest.raises(InputError, match="N x H x W or N x D x H x W"):
        compress_field(np.zeros((2, 2, 2, 2, 2), np.float32), None, tmp_path / "x.baler",
                       CompressionOptions(BoundSpec(parse_bound("range=1e-3"))))


def test_a_2d_field_model_refuses_3d_frames_by_name(tmp_path, field_model):
    _, bundle = field_model
    with pytest.raises(InputError, match="models are 2-D.*-m none"):
        compress_field(_flow(), bundle, tmp_path / "x.baler", CompressionOptions(BoundSpec(parse_bound("abs=1e-3"))))
