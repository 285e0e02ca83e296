"""The 3-D decaying-turbulence solver: incompressible, energy decays, deterministic, and its fields compress
within the bound through HDF5 as several variables."""

import numpy as np
import pytest

from baler_core.errors import InputError
from baler_core.sim.turbulence3d import simulate_turbulence_3d


def test_turbulence_is_incompressible_decays_and_repeats():
    r = simulate_turbulence_3d(n_frames=4, size=16, steps_per_frame=2, seed=3)
    assert r.u.shape == r.v.shape == r.w.shape == (4, 16, 16, 16) and r.u.dtype == np.float32
    assert r.max_divergence < 1e-10
    assert np.all(np.diff(r.energy) < 0) and 0.3 < r.energy[0] < 0.5  # viscous decay from E(0) = 0.5
    # the float32 frames themselves: du/dx + dv/dy + dw/dz (spectral) vanishes against du/dx, up to rounding
    k = np.fft.fftfreq(16, 1 / 16)
    kz, ky, kx = np.meshgrid(k, k, k, indexing="ij")
    spectral = lambda f, kk: np.fft.ifftn(1j * kk * np.fft.fftn(f)).real  # noqa: E731
    div = spectral(r.u[-1], kx) + spectral(r.v[-1], ky) + spectral(r.w[-1], kz)
    assert np.abs(div).max() < 1e-5 * np.abs(spectral(r.u[-1], kx)).max()
    again = simulate_turbulence_3d(n_frames=4, size=16, steps_per_frame=2, seed=3)
    assert np.array_equal(again.u, r.u)
    assert not np.array_equal(simulate_turbulence_3d(n_frames=1, size=16, seed=4).u[0], r.u[0])


def test_bad_arguments_are_named():
    with pytest.raises(InputError, match="size"):
        simulate_turbulence_3d(size=4)
    with pytest.raises(InputError, match="viscosity"):
        simulate_turbulence_3d(viscosity=-1.0)


def test_turbulence_through_hdf5_as_three_variables(tmp_path):
    h5py = pytest.importorskip("h5py", reason="h5py is not installed")
    from baler_core.codec.gridded import compress_gridded, decompress_gridded
    from baler_core.coding.error_bounds import load_bound_spec
    from baler_core.coding.options import CompressionOptions
    from baler_core.io.gridded import read_gridded

    r = simulate_turbulence_3d(n_frames=6, size=24, steps_per_frame=2)
    with h5py.File(tmp_path / "turb.h5", "w") as f:
        for name in "uvw":
            f.create_dataset(name, data=getattr(r, name), chunks=(1, 24, 24, 24))
        f.create_dataset("time", data=r.time)
    compress_gridded(read_gridded(tmp_path / "turb.h5"), tmp_path / "t.baler",
                     CompressionOptions(load_bound_spec("range=1e-3")))
    back = {v.name: a for v, a in decompress_gridded(tmp_path / "t.baler")[0]}
    assert np.array_equal(back["time"], r.time)
    raw = 0
    for name in "uvw":
        x = getattr(r, name)
        raw += x.nbytes
        assert np.abs(back[name].astype(np.float64) - x).max() <= 1e-3 * np.ptp(x) * (1 + 1e-6)
    assert (tmp_path / "t.baler").stat().st_size < raw / 4
