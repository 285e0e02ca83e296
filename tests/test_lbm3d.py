"""The D3Q19 flow past a cube (sim/lbm3d.py): shapes, determinism, the physics a CFD user would check first
(free stream, a wake, stagnation pressure, the same volume flux through every plane) and clear errors for bad input."""

import numpy as np
import pytest

from baler_core.errors import InputError
from baler_core.sim.lbm3d import simulate_cube_flow

SMALL = dict(n_frames=6, depth=16, height=16, width=48, steps_per_frame=5, warmup_steps=200)


@pytest.fixture(scope="module")
def flow():
    return simulate_cube_flow(**SMALL, seed=3)


def test_shapes_dtypes_and_determinism(flow):
    for x in flow.variables().values():
        assert x.shape == (6, 16, 16, 48) and x.dtype == np.float32 and np.all(np.isfinite(x))
    again = simulate_cube_flow(**SMALL, seed=3)
    np.testing.assert_array_equal(again.u, flow.u)
    other = simulate_cube_flow(**SMALL, seed=4)
    assert not np.array_equal(other.u, flow.u)


def test_free_stream_wake_and_stagnation(flow):
    z0, z1, y0, y1, x0, x1 = flow.cube
    assert abs(float(flow.u[:, :, :, 1].mean()) - 1.0) < 0.05  # the inflow, in units of U
    assert np.all(flow.u[:, z0:z1, y0:y1, x0:x1] == 0) and np.all(flow.p[:, z0:z1, y0:y1, x0:x1] == 0)
    wake = float(flow.u[:, z0:z1, y0:y1, x1 + 1].mean())
    beside = float(flow.u[:, z0:z1, :2, x1 + 1].mean())  # the same x, away from the cube (periodic sides)
    assert wake < 0.5 < beside
    front, rear = float(flow.p[:, z0:z1, y0:y1, x0 - 1].mean()), float(flow.p[:, z0:z1, y0:y1, x1].mean())
    assert front > 0.2 and rear < front  # stagnation pressure ahead of the cube, lower behind it


def test_volume_flux_is_the_same_through_every_cross_section(flow):
    """Mass conservation as a CFD user checks it: the mean streamwise velocity over each y-z plane (the cube's
    planes included, where the fluid speeds up around it) stays within 1 % of the inflow's."""
    flux = flow.u.astype(np.float64).mean(axis=(0, 1, 2))
    assert np.all(np.abs(flux - flux[1]) < 0.01), np.round(flux, 4)


def test_the_flow_changes_in_time(flow):
    assert float(np.abs(np.diff(flow.v, axis=0)).mean()) > 1e-4  # the inflow wobble keeps the wake moving


@pytest.mark.parametrize("kwargs, word", [
    ({"cube_size": 12}, "cube_size"),
    ({"reynolds": 5000.0}, "reynolds"),
    ({"inflow_velocity": 0.3}, "inflow_velocity"),
    ({"depth": 4}, "depth"),
])
def test_bad_arguments_are_named(kwargs, word):
    with pytest.raises(InputError, match=word):
        simulate_cube_flow(**{**SMALL, **kwargs})


def test_cli_writes_the_cube_flow_as_hdf5_that_baler_compresses(tmp_path):
    """`baler simulate-cfd --flow cube -o flow.h5`, then the HDF5 round trip a CFD user would run."""
    h5py = pytest.importorskip("h5py")
    from baler_core.cli.main import main

    src = tmp_path / "cube.h5"
    assert main(["simulate-cfd", "--flow", "cube", "-o", str(src), "--n-frames", "3", "--depth", "12", "--height",
                 "12", "--width", "40", "--warmup-steps", "50", "--steps-per-frame", "4"]) == 0
    with h5py.File(src) as f:
        orig = {k: f[k][...] for k in ("u", "v", "w", "p")}
        assert float(f.attrs["reynolds"]) == 150.0 and f["p"].attrs["units"] == "rho U^2"
    assert all(x.shape == (3, 12, 12, 40) and x.dtype == np.float32 for x in orig.values())
    assert main(["compress", str(src), "-m", "none", "-o", str(tmp_path / "c.baler"), "--error-bound",
                 "range=1e-3"]) == 0
    assert main(["decompress", str(tmp_path / "c.baler"), "-o", str(tmp_path / "back.h5")]) == 0
    with h5py.File(tmp_path / "back.h5") as f:
        for k, x in orig.items():
            y = f[k][...]
            assert y.dtype == x.dtype and np.max(np.abs(y.astype(np.float64) - x)) <= 1e-3 * np.ptp(x) * (1 + 1e-9)
    assert main(["simulate-cfd", "--flow", "cube", "-o", str(tmp_path / "x.parquet")]) == 2  # named, not crashed
