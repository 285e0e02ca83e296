"""A D2Q9 lattice Boltzmann (BGK) channel flow past a square or a circular cylinder, vectorized numpy, float64
and bit-for-bit deterministic. Above a Reynolds number of about 50 the wake sheds a Karman vortex street. Arrays are
laid out ``[..., y, x]`` (rows vertical, columns streamwise)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from baler_core.errors import InputError
from baler_core.sim.checks import check_float, check_int

# Velocity set (cx, cy); index 0 is the rest population.
_CX = np.array([0, 1, 0, -1, 0, 1, -1, -1, 1])
_CY = np.array([0, 0, 1, 0, -1, 1, 1, -1, -1])
_W = np.array([4 / 9] + [1 / 9] * 4 + [1 / 36] * 4)
_OPP = np.array([0, 3, 4, 1, 2, 7, 8, 5, 6])
_RIGHT = np.array([1, 5, 8])  # cx = +1: unknown at the inlet
_MID = np.array([0, 2, 4])  # cx = 0
_LEFT = np.array([3, 7, 6])  # cx = -1: unknown at the outlet; _LEFT[k] = _OPP[_RIGHT[k]]

#: Smallest relaxation time accepted; BGK gets unreliable as tau -> 0.5.
MIN_TAU = 0.51
#: Largest inflow velocity accepted (lattice Mach number ~0.35).
MAX_INFLOW = 0.2
#: Relative amplitude of the seeded initial velocity perturbation.
PERTURBATION = 0.02
#: Obstacle shapes: a square of edge D, or a circular cylinder of diameter D (a staircase disc of cells).
SHAPES = ("square", "cylinder")


@dataclass(frozen=True)
class LBMResult:
    """Output and diagnostics of :func:`run_lbm`.

    Attributes:
        frames: float32 ``(n_frames, height, width)`` x-velocity divided by the
            inflow velocity (dimensionless, ~1 in the free stream, 0 in the
            obstacle).  Frame ``k`` is taken after
            ``warmup_steps + (k + 1) * steps_per_frame`` time steps.
        mass: float64 ``(n_frames,)`` total density summed over the fluid
            cells, sampled together with the frames.
        initial_mass: total fluid mass of the initial condition.
        boundary_inflow: float64 ``(n_frames,)`` net mass that entered the
            domain through the inlet and outlet columns between ``t = 0`` and
            each frame (populations set by the boundary conditions minus the
            populations that streamed out).  Collision, streaming and
            bounce-back conserve mass exactly, so ``mass - initial_mass ==
            boundary_inflow`` up to round-off.
        probe_uy: float64 ``(n_frames * steps_per_frame,)`` y-velocity divided
            by the inflow velocity at ``probe``, sampled after every time step
            of the recorded phase (sampling interval: one lattice time step).
        probe: ``(y, x)`` cell of the wake probe, ``2 * obstacle_size`` cells
            downstream of the obstacle's rear face at its centre height.
        obstacle: ``(y0, y1, x0, x1)``; the obstacle's bounding box is
            ``[y0:y1, x0:x1]`` (the square fills it, the cylinder is the disc
            inscribed in it).
        shape: ``"square"`` or ``"cylinder"``.
        obstacle_size: obstacle edge length D in cells.
        tau: BGK relaxation time.
        viscosity: kinematic viscosity in lattice units, ``(tau - 0.5) / 3``.
        inflow_velocity: inflow velocity U in lattice units.
        reynolds: U * D / viscosity.
        steps_per_frame: time steps between frames.
    """

    frames: np.ndarray
    mass: np.ndarray
    initial_mass: float
    boundary_inflow: np.ndarray
    probe_uy: np.ndarray
    probe: tuple[int, int]
    obstacle: tuple[int, int, int, int]
    obstacle_size: int
    tau: float
    viscosity: float
    inflow_velocity: float
    reynolds: float
    steps_per_frame: int
    shape: str = "square"


def _lbm_geometry(height: int, width: int, obstacle_size: int | None,
                  reynolds: float, inflow_velocity: float):
    """Validate the geometry/physics arguments; return (D, tau, obstacle, probe)."""
    if obstacle_size is None:
        obstacle_size = max(4, round(height / 8))
    d = check_int("obstacle_size", obstacle_size, 2)
    if d > height // 3:
        raise InputError(
            f"obstacle_size must be <= height // 3 = {height // 3}, got {d}")
    nu = inflow_velocity * d / reynolds
    tau = 3.0 * nu + 0.5
    if tau <= MIN_TAU:
        raise InputError(
            f"reynolds={reynolds} is too high for obstacle_size={d} and "
            f"inflow_velocity={inflow_velocity}: BGK relaxation time "
            f"tau={tau:.5f} must be > {MIN_TAU} (lower reynolds or raise "
            f"obstacle_size / inflow_velocity)")
    x0 = width // 5
    # Centred vertically.  With periodic top/bottom boundaries the vertical
    # position is irrelevant; the up/down symmetry is broken by the initial
    # vortex kick (see _initial_velocity) instead.
    y0 = (height - d) // 2
    probe_x = x0 + d + 2 * d
    if probe_x >= width - 2:
        raise InputError(
            f"width={width} is too small for obstacle_size={d}: need "
            f"width > {x0 + 3 * d + 2} so that the wake probe fits")
    probe = (y0 + d // 2, probe_x)
    return d, tau, (y0, y0 + d, x0, x0 + d), probe


def _equilibrium(rho: np.ndarray, ux: np.ndarray, uy: np.ndarray,
                 out: np.ndarray | None = None) -> np.ndarray:
    """D2Q9 second-order equilibrium, shape ``(9, *rho.shape)``.

    ``feq_i = w_i rho (1 + 3 c.u + 4.5 (c.u)^2 - 1.5 u^2)``, evaluated per pair
    of opposite directions (they share the even part) to limit temporaries.
    """
    if out is None:
        out = np.empty((9,) + rho.shape)
    usq = 1.5 * (ux * ux + uy * uy)
    base = 1.0 - usq
    np.multiply(rho, base, out=out[0])
    out[0] *= _W[0]
    for i, cu in ((1, ux), (2, uy), (5, ux + uy), (6, uy - ux)):
        cu3 = 3.0 * cu
        even = rho * (base + 0.5 * cu3 * cu3)
        even *= _W[i]
        odd = rho * cu3
        odd *= _W[i]
        np.add(even, odd, out=out[i])
        np.subtract(even, odd, out=out[_OPP[i]])
    return out


def _solid_mask(height: int, width: int, obstacle: tuple[int, int, int, int], shape: str) -> np.ndarray:
    """Cells inside the obstacle: the whole box for the square, the cells whose centres lie within the
    inscribed circle for the cylinder."""
    y0, y1, x0, x1 = obstacle
    solid = np.zeros((height, width), dtype=bool)
    if shape == "square":
        solid[y0:y1, x0:x1] = True
        return solid
    yy, xx = np.ogrid[y0:y1, x0:x1]
    cy, cx, r = 0.5 * (y0 + y1 - 1), 0.5 * (x0 + x1 - 1), 0.5 * (y1 - y0)
    solid[y0:y1, x0:x1] = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return solid


def _initial_velocity(height: int, width: int, u_in: float,
                      obstacle: tuple[int, int, int, int], seed: int):
    """Initial (ux, uy) in lattice units.

    Uniform inflow ``u_in`` plus

    * a deterministic "kick": one clockwise Lamb-Oseen vortex (circulation
      ``u_in * D``, core radius ``D / 2``) one obstacle size behind the rear
      face, slightly above the obstacle's centre line.  It seeds the wake
      instability with a finite amplitude so that shedding saturates within
      ~2000 steps instead of ~5000;
    * a smooth random field of a few low Fourier modes with maximum amplitude
      ``PERTURBATION * u_in``, drawn from ``numpy.random.default_rng(seed)``
      (the only use of the seed).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(height, dtype=float),
                         np.arange(width, dtype=float), indexing="ij")
    pert_u = np.zeros((height, width))
    pert_v = np.zeros((height, width))
    for _ in range(4):  # a few low Fourier modes (loop over modes, not cells)
        ky, kx = rng.integers(1, 4, size=2)
        ph_u, ph_v = rng.uniform(0.0, 2.0 * np.pi, size=2)
        amp_u, amp_v = rng.normal(size=2)
        arg = 2.0 * np.pi * (ky * yy / height + kx * xx / width)
        pert_u += amp_u * np.sin(arg + ph_u)
        pert_v += amp_v * np.sin(arg + ph_v)
    scale = PERTURBATION * u_in / max(np.abs(pert_u).max(), np.abs(pert_v).max())
    ux = u_in + scale * pert_u
    uy = scale * pert_v

    y0, y1, _, x1 = obstacle
    d = y1 - y0
    dx = xx - (x1 + d)
    dy = yy - (0.5 * (y0 + y1) + 0.25 * d)
    r2 = dx * dx + dy * dy
    r2[r2 == 0.0] = 1e-12
    # Lamb-Oseen azimuthal velocity divided by r; negative circulation = clockwise
    u_theta_over_r = (-u_in * d / (2.0 * np.pi * r2)) * -np.expm1(-r2 / (0.5 * d) ** 2)
    ux -= u_theta_over_r * dy
    uy += u_theta_over_r * dx
    return ux, uy


def run_lbm(n_frames: int = 64, height: int = 64, width: int = 192,
            reynolds: float = 150.0, obstacle_size: int | None = None,
            steps_per_frame: int = 20, warmup_steps: int = 2000,
            inflow_velocity: float = 0.08, seed: int = 0, shape: str = "square") -> LBMResult:
    """Run the D2Q9 BGK flow past a square (or a cylinder) and return frames plus diagnostics.

    Setup (lattice units, dx = dt = 1):

    * square obstacle of edge ``D = obstacle_size`` (default
      ``max(4, round(height / 8))``) with its front face at ``x = width // 5``,
      centred vertically (``shape="cylinder"``: the disc of diameter D
      inscribed in that square); no-slip via half-way bounce-back (the wall sits half
      a cell outside the solid cells); solid cells are held at rest;
    * inlet (x = 0): velocity ``(U, 0)`` imposed with the Zou-He /
      non-equilibrium bounce-back rule, density from the known populations;
    * outlet (x = width - 1): convective (zero-gradient in a frame moving with
      U) for the unknown populations, ``f(N, t+1) = (f(N, t) + U f(N-1, t+1))
      / (1 + U)``; it lets vortices leave with little reflection.  The
      pressure level is not pinned anywhere, so the total mass still relaxes
      by a few 1e-4 (relative) after the impulsive start;
    * top/bottom: periodic (i.e. a vertical array of obstacles ``height``
      apart);
    * ``tau = 3 U D / reynolds + 0.5`` (must exceed 0.51);
    * initial state: equilibrium at ``rho = 1`` and ``u = (U, 0)`` plus a
      deterministic vortex "kick" behind the obstacle (starts the shedding
      early) and a smooth random velocity perturbation of relative amplitude
      0.02 drawn from ``numpy.random.default_rng(seed)``.  The seed affects
      nothing else.

    Raises:
        ValueError: invalid argument (the message names it).
        FloatingPointError: the simulation became non-finite.
    """
    n_frames = check_int("n_frames", n_frames, 1)
    height = check_int("height", height, 16)
    width = check_int("width", width, 32)
    steps_per_frame = check_int("steps_per_frame", steps_per_frame, 1)
    warmup_steps = check_int("warmup_steps", warmup_steps, 0)
    seed = check_int("seed", seed, 0)
    if shape not in SHAPES:
        raise InputError(f"obstacle shape {shape!r} unknown; choose from {', '.join(SHAPES)}")
    reynolds = check_float("reynolds", reynolds, low=0.0)
    inflow_velocity = check_float("inflow_velocity", inflow_velocity,
                                   low=0.0, high=MAX_INFLOW)
    d, tau, obstacle, probe = _lbm_geometry(height, width, obstacle_size,
                                            reynolds, inflow_velocity)
    omega = 1.0 / tau
    u_in = inflow_velocity
    solid = _solid_mask(height, width, obstacle, shape)
    fluid = ~solid
    n_cells = height * width
    solid_flat = np.flatnonzero(solid)
    # Half-way bounce-back links: fluid cell x whose upstream neighbour
    # x - c_i is solid receives f_opp(i) (post-collision, at x) instead.
    bb_links = []
    for i in range(1, 9):
        src_solid = np.roll(solid, shift=(_CY[i], _CX[i]), axis=(0, 1))
        idx = np.flatnonzero(src_solid & fluid)
        bb_links.append((i, _OPP[i], idx))

    # ---- initial condition: uniform flow + seeded smooth perturbation ----
    ux0, uy0 = _initial_velocity(height, width, u_in, obstacle, seed)
    ux0[solid] = 0.0
    uy0[solid] = 0.0
    f = _equilibrium(np.ones((height, width)), ux0, uy0)
    f_rest = _W.copy()
    f.reshape(9, n_cells)[:, solid_flat] = f_rest[:, None]

    # work arrays
    feq = np.empty_like(f)
    f_post = np.empty_like(f)
    rho = np.empty((height, width))
    ux = np.empty((height, width))
    uy = np.empty((height, width))
    py, px = probe
    inlet_ux = np.full(height, u_in)
    flux = np.zeros(1)  # cumulative net boundary inflow (mutable in step())
    inlet_uy = np.zeros(height)
    f_out_prev = f[_LEFT, :, -1].copy()

    def macroscopic() -> None:
        np.sum(f, axis=0, out=rho)
        np.subtract(f[1] + f[5] + f[8], f[3] + f[6] + f[7], out=ux)
        np.divide(ux, rho, out=ux)
        np.subtract(f[2] + f[5] + f[6], f[4] + f[7] + f[8], out=uy)
        np.divide(uy, rho, out=uy)

    def step() -> None:
        # -- collision (BGK), velocity (U, 0) enforced on the inlet column --
        macroscopic()
        ux[:, 0] = u_in
        uy[:, 0] = 0.0
        _equilibrium(rho, ux, uy, out=feq)
        np.subtract(feq, f, out=f_post)  # f_post = f + omega (feq - f)
        np.multiply(f_post, omega, out=f_post)
        np.add(f_post, f, out=f_post)
        # mass about to leave: right-movers of the last column, left-movers
        # of the first column (they wrap around and are overwritten below)
        flux[0] -= f_post[_RIGHT, :, -1].sum() + f_post[_LEFT, :, 0].sum()
        # -- streaming (periodic wrap; inlet/outlet unknowns rebuilt below) --
        for i in range(9):
            f[i] = np.roll(f_post[i], shift=(_CY[i], _CX[i]), axis=(0, 1))
        # -- half-way bounce-back on the obstacle; solid cells kept at rest --
        flat = f.reshape(9, n_cells)
        post_flat = f_post.reshape(9, n_cells)
        for i, o, idx in bb_links:
            flat[i, idx] = post_flat[o, idx]
        flat[:, solid_flat] = f_rest[:, None]
        # -- outlet: convective (implicit upwind of d/dt + U d/dx = 0) for
        #    the unknown, left-moving populations --
        np.add(f_out_prev, u_in * f[_LEFT, :, -2], out=f_out_prev)
        np.multiply(f_out_prev, 1.0 / (1.0 + u_in), out=f_out_prev)
        f[_LEFT, :, -1] = f_out_prev
        # -- inlet: Zou-He velocity condition; density from the known
        #    populations, unknowns by non-equilibrium bounce-back --
        known = f[_MID, :, 0].sum(axis=0) + 2.0 * f[_LEFT, :, 0].sum(axis=0)
        rho_in = known / (1.0 - u_in)
        feq_in = _equilibrium(rho_in, inlet_ux, inlet_uy)
        f[_RIGHT, :, 0] = feq_in[_RIGHT] + f[_LEFT, :, 0] - feq_in[_LEFT]
        flux[0] += f[_RIGHT, :, 0].sum() + f[_LEFT, :, -1].sum()

    def fluid_mass() -> float:
        return float(f.sum(axis=0)[fluid].sum())

    initial_mass = fluid_mass()
    for t in range(warmup_steps):
        step()
        if (t + 1) % 500 == 0 and not np.isfinite(f[:, py, px]).all():
            raise FloatingPointError(f"LBM diverged during warm-up (tau={tau:.4f})")

    frames = np.empty((n_frames, height, width), dtype=np.float32)
    mass = np.empty(n_frames)
    boundary_inflow = np.empty(n_frames)
    probe_uy = np.empty(n_frames * steps_per_frame)
    fp = f[:, py, px]  # view
    k = 0
    for n in range(n_frames):
        for _ in range(steps_per_frame):
            step()
            r = fp.sum()
            probe_uy[k] = (fp[2] + fp[5] + fp[6] - fp[4] - fp[7] - fp[8]) / r
            k += 1
        macroscopic()
        if not np.isfinite(ux).all():
            raise FloatingPointError(
                f"LBM diverged at frame {n} (tau={tau:.4f}); lower reynolds "
                f"or inflow_velocity")
        # (solid cells hold the rest equilibrium, so ux = 0 there)
        frames[n] = ux / u_in
        mass[n] = rho[fluid].sum()
        boundary_inflow[n] = flux[0]
    probe_uy /= u_in

    return LBMResult(
        frames=frames, mass=mass, initial_mass=initial_mass,
        boundary_inflow=boundary_inflow, probe_uy=probe_uy,
        probe=probe, obstacle=obstacle, obstacle_size=d, tau=tau,
        viscosity=(tau - 0.5) / 3.0, inflow_velocity=u_in,
        reynolds=reynolds, steps_per_frame=steps_per_frame, shape=shape)


def simulate_flow_past_square(n_frames: int = 64, height: int = 64,
                              width: int = 192, reynolds: float = 150.0,
                              obstacle_size: int | None = None,
                              steps_per_frame: int = 20,
                              warmup_steps: int = 2000,
                              inflow_velocity: float = 0.08,
                              seed: int = 0, shape: str = "square") -> np.ndarray:
    """x-velocity slices over time of 2-D flow past a square (Karman street).

    Returns a float32 array ``(n_frames, height, width)`` of the x-velocity
    *normalized by the inflow velocity* (free stream ~1, obstacle 0).  See
    :func:`run_lbm` for the numerical setup; this is ``run_lbm(...).frames``.
    """
    return run_lbm(n_frames=n_frames, height=height, width=width,
                   reynolds=reynolds, obstacle_size=obstacle_size,
                   steps_per_frame=steps_per_frame, warmup_steps=warmup_steps,
                   inflow_velocity=inflow_velocity, seed=seed, shape=shape).frames


# --------------------------------------------------------------------------- #
# 2-D decaying turbulence: pseudo-spectral vorticity solver
# --------------------------------------------------------------------------- #
