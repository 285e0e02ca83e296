"""A D3Q19 lattice Boltzmann (BGK) channel flow past a cube: the 3-D case of issue 19 (the original Baler's
CFD example is a 2-D slice of such a flow). Vectorized numpy, float64 populations, deterministic for a seed.
Arrays are laid out ``[..., z, y, x]``: x streamwise, periodic in y and z; an equilibrium inflow at x = 0 with a
small seeded transverse wobble (which makes the wake unsteady at moderate Reynolds numbers, as free-stream
turbulence does), a zero-gradient outflow at x = W - 1, and full-way bounce-back on the cube."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baler_core.errors import InputError
from baler_core.sim.checks import check_float, check_int

# D3Q19 velocities (cx, cy, cz): rest, 6 faces, 12 edges; weights 1/3, 1/18, 1/36
_C = np.array([(0, 0, 0),
               (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1),
               (1, 1, 0), (-1, -1, 0), (1, -1, 0), (-1, 1, 0),
               (1, 0, 1), (-1, 0, -1), (1, 0, -1), (-1, 0, 1),
               (0, 1, 1), (0, -1, -1), (0, 1, -1), (0, -1, 1)])
_CF = _C.astype(np.float64)  # the velocities as floats, for the moments and the equilibrium
_W = np.array([1 / 3] + [1 / 18] * 6 + [1 / 36] * 12)
_OPP = np.array([int(np.flatnonzero((_C == -c).all(axis=1))[0]) for c in _C])
_LEFT = np.flatnonzero(_C[:, 0] < 0)  # unknown at the outlet after streaming
MIN_TAU = 0.505
MAX_INFLOW = 0.15


@dataclass(frozen=True)
class CubeFlow:
    """Frames of the flow past a cube, each ``(n_frames, depth, height, width)`` float32, velocities divided by
    the inflow velocity U and ``p`` the pressure deviation ``(rho - 1) / 3`` over ``U**2`` (0 inside the cube).
    ``cube`` is ``(z0, z1, y0, y1, x0, x1)``; frame k is taken after ``warmup_steps + (k + 1) *
    steps_per_frame`` steps."""

    u: np.ndarray
    v: np.ndarray
    w: np.ndarray
    p: np.ndarray
    cube: tuple[int, int, int, int, int, int]
    reynolds: float
    tau: float
    inflow_velocity: float
    steps_per_frame: int

    def variables(self) -> dict[str, np.ndarray]:
        return {"u": self.u, "v": self.v, "w": self.w, "p": self.p}


def _equilibrium(rho: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``w_i rho (1 + 3 c.u + 4.5 (c.u)^2 - 1.5 u^2)`` for every direction: shape ``(19, *rho.shape)``."""
    cu = np.tensordot(_CF, u, axes=(1, 0))
    usq = 1.5 * (u * u).sum(axis=0)
    return _W[:, None, None, None] * rho * (1.0 + 3.0 * cu + 4.5 * cu * cu - usq)


def simulate_cube_flow(n_frames: int = 16, depth: int = 24, height: int = 24, width: int = 72,
                       cube_size: int | None = None, reynolds: float = 120.0, inflow_velocity: float = 0.1,
                       steps_per_frame: int = 10, warmup_steps: int = 600, wobble: float = 0.05,
                       seed: int = 0) -> CubeFlow:
    """Run the flow and record ``n_frames`` frames of u, v, w and p (see ``CubeFlow``). ``wobble``: amplitude
    of the inflow's transverse velocity, relative to U (a seeded sum of slow sines)."""
    n_frames = check_int("n_frames", n_frames, 1)
    depth, height, width = (check_int(k, v, 8) for k, v in (("depth", depth), ("height", height), ("width", width)))
    steps_per_frame = check_int("steps_per_frame", steps_per_frame, 1)
    warmup_steps = check_int("warmup_steps", warmup_steps, 0)
    reynolds = check_float("reynolds", reynolds, low=0.0)
    u0 = check_float("inflow_velocity", inflow_velocity, low=0.0, high=MAX_INFLOW)  # lattice Mach number
    wobble = check_float("wobble", wobble, low=0.0, high=0.5, low_inclusive=True)
    d = cube_size if cube_size is not None else max(3, min(depth, height) // 4)
    d = check_int("cube_size", d, 2)
    if d > min(depth, height) // 2 or 3 * d + d // 2 >= width:
        raise InputError(f"cube_size={d} does not fit a {depth} x {height} x {width} channel (at most "
                         f"min(depth, height) // 2 and room for a wake of 2 cube sizes)")
    tau = 3.0 * u0 * d / reynolds + 0.5
    if tau <= MIN_TAU:
        raise InputError(f"reynolds={reynolds} is too high for cube_size={d} and inflow_velocity={u0}: the BGK "
                         f"relaxation time {tau:.4f} must be > {MIN_TAU} (lower reynolds, or a larger cube)")
    z0, y0, x0 = (depth - d) // 2, (height - d) // 2, width // 6
    cube = (z0, z0 + d, y0, y0 + d, x0, x0 + d)
    solid = np.zeros((depth, height, width), dtype=bool)
    solid[z0 : z0 + d, y0 : y0 + d, x0 : x0 + d] = True
    rng = np.random.default_rng(seed)
    # the inflow wobble: three slow sines per transverse component, periods of 20-60 cube passages
    periods = rng.uniform(20, 60, size=(2, 3)) * d / u0
    phases = rng.uniform(0, 2 * np.pi, size=(2, 3))

    def inflow(t: int) -> np.ndarray:
        vy, vz = (wobble * u0 / 3 * np.sin(2 * np.pi * t / periods[k] + phases[k]).sum() for k in range(2))
        u = np.empty((3, depth, height, 1))
        u[0], u[1], u[2] = u0, vy, vz
        return u

    u = np.zeros((3, depth, height, width))
    u[0] = u0
    u[:, ~solid] += 0.01 * u0 * rng.standard_normal((3, int((~solid).sum())))  # seeded kick
    u[:, solid] = 0.0
    f = _equilibrium(np.ones((depth, height, width)), u)
    shifts = [tuple(int(s) for s in (c[2], c[1], c[0])) for c in _C]
    frames = np.empty((4, n_frames, depth, height, width), dtype=np.float32)
    total = warmup_steps + n_frames * steps_per_frame
    for t in range(total):
        rho = f.sum(axis=0)
        u = np.tensordot(_CF.T, f, axes=(1, 0)) / rho
        post = f + (_equilibrium(rho, u) - f) / tau
        post[:, solid] = f[:, solid][_OPP]  # full-way bounce-back: what streamed into the cube goes back out
        post[:, :, :, :1] = _equilibrium(np.ones((depth, height, 1)), inflow(t))
        for i, s in enumerate(shifts):
            f[i] = np.roll(post[i], s, axis=(0, 1, 2))
        f[_LEFT, :, :, -1] = f[_LEFT, :, :, -2]  # zero-gradient outflow
        done = t + 1 - warmup_steps
        if done > 0 and done % steps_per_frame == 0:
            k = done // steps_per_frame - 1
            rho = f.sum(axis=0)
            if not np.all(np.isfinite(rho)):
                raise InputError(f"the cube flow became unstable at step {t} (reynolds={reynolds}, tau={tau:.4f}): "
                                 "lower reynolds or raise the resolution")
            u = np.tensordot(_CF.T, f, axes=(1, 0)) / rho
            u[:, solid] = 0.0
            frames[:3, k] = u / u0
            frames[3, k] = np.where(solid, 0.0, (rho - 1.0) / 3.0 / (u0 * u0))
    return CubeFlow(frames[0], frames[1], frames[2], frames[3], cube, float(reynolds), float(tau), float(u0),
                    steps_per_frame)
