"""Deterministic 2-D incompressible flow solvers (pure numpy) for CFD test fields.

The Baler study (arXiv:2305.02283) compresses x-velocity slices over time of a
flow-over-a-cube simulation.  This module generates comparable data without any
external CFD code:

* :func:`simulate_flow_past_square` / :func:`run_lbm` -- a D2Q9 lattice
  Boltzmann (BGK) channel flow past a square obstacle.  Above a Reynolds number
  of about 50 the wake becomes unstable and sheds a Karman vortex street.
* :func:`simulate_decaying_turbulence` / :func:`run_decaying_turbulence` -- a
  pseudo-spectral vorticity solver for 2-D decaying turbulence on a periodic
  box, giving a "turbulence-like" field.

Everything is vectorized numpy (no Python loops over grid cells), float64
internally, and bit-for-bit deterministic for fixed arguments.  Arrays are laid
out ``[..., y, x]`` (rows are the vertical direction, columns the streamwise
direction).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = [
    "LBMResult",
    "TurbulenceResult",
    "run_lbm",
    "simulate_flow_past_square",
    "run_decaying_turbulence",
    "simulate_decaying_turbulence",
]

# --------------------------------------------------------------------------- #
# argument validation helpers
# --------------------------------------------------------------------------- #


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_float(name: str, value: object, *, low: float, high: float = np.inf,
                 low_inclusive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InputError(f"{name} must be finite, got {value}")
    too_low = value < low if low_inclusive else value <= low
    if too_low or value > high:
        lo = "[" if low_inclusive else "("
        raise InputError(f"{name} must be in {lo}{low}, {high}], got {value}")
    return value


# --------------------------------------------------------------------------- #
# D2Q9 lattice Boltzmann: flow past a square obstacle
# --------------------------------------------------------------------------- #

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
        obstacle: ``(y0, y1, x0, x1)``; the obstacle occupies
            ``[y0:y1, x0:x1]``.
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


def _lbm_geometry(height: int, width: int, obstacle_size: int | None,
                  reynolds: float, inflow_velocity: float):
    """Validate the geometry/physics arguments; return (D, tau, obstacle, probe)."""
    if obstacle_size is None:
        obstacle_size = max(4, round(height / 8))
    d = _check_int("obstacle_size", obstacle_size, 2)
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
            inflow_velocity: float = 0.08, seed: int = 0) -> LBMResult:
    """Run the D2Q9 BGK flow past a square and return frames plus diagnostics.

    Setup (lattice units, dx = dt = 1):

    * square obstacle of edge ``D = obstacle_size`` (default
      ``max(4, round(height / 8))``) with its front face at ``x = width // 5``,
      centred vertically; no-slip via half-way bounce-back (the wall sits half
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
    n_frames = _check_int("n_frames", n_frames, 1)
    height = _check_int("height", height, 16)
    width = _check_int("width", width, 32)
    steps_per_frame = _check_int("steps_per_frame", steps_per_frame, 1)
    warmup_steps = _check_int("warmup_steps", warmup_steps, 0)
    seed = _check_int("seed", seed, 0)
    reynolds = _check_float("reynolds", reynolds, low=0.0)
    inflow_velocity = _check_float("inflow_velocity", inflow_velocity,
                                   low=0.0, high=MAX_INFLOW)
    d, tau, obstacle, probe = _lbm_geometry(height, width, obstacle_size,
                                            reynolds, inflow_velocity)
    omega = 1.0 / tau
    u_in = inflow_velocity
    y0, y1, x0, x1 = obstacle

    solid = np.zeros((height, width), dtype=bool)
    solid[y0:y1, x0:x1] = True
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
        reynolds=reynolds, steps_per_frame=steps_per_frame)


def simulate_flow_past_square(n_frames: int = 64, height: int = 64,
                              width: int = 192, reynolds: float = 150.0,
                              obstacle_size: int | None = None,
                              steps_per_frame: int = 20,
                              warmup_steps: int = 2000,
                              inflow_velocity: float = 0.08,
                              seed: int = 0) -> np.ndarray:
    """x-velocity slices over time of 2-D flow past a square (Karman street).

    Returns a float32 array ``(n_frames, height, width)`` of the x-velocity
    *normalized by the inflow velocity* (free stream ~1, obstacle 0).  See
    :func:`run_lbm` for the numerical setup; this is ``run_lbm(...).frames``.
    """
    return run_lbm(n_frames=n_frames, height=height, width=width,
                   reynolds=reynolds, obstacle_size=obstacle_size,
                   steps_per_frame=steps_per_frame, warmup_steps=warmup_steps,
                   inflow_velocity=inflow_velocity, seed=seed).frames


# --------------------------------------------------------------------------- #
# 2-D decaying turbulence: pseudo-spectral vorticity solver
# --------------------------------------------------------------------------- #

#: CFL number used to choose ``dt`` when it is not given.
TURBULENCE_CFL = 0.5
#: Largest CFL number accepted for a user-given ``dt``.
TURBULENCE_MAX_CFL = 1.0


@dataclass(frozen=True)
class TurbulenceResult:
    """Output and diagnostics of :func:`run_decaying_turbulence`.

    The box is ``[0, 2 pi)^2`` with ``size`` points per direction; the
    initial velocity is normalized to a kinetic energy
    ``E = <u^2 + v^2> / 2 = 0.5`` (unit r.m.s. speed per 2 components).
    Frame ``k`` is taken after ``(k + 1) * steps_per_frame`` time steps.

    Attributes:
        u: float32 ``(n_frames, size, size)`` x-velocity, layout ``[t, y, x]``.
        v: float32 ``(n_frames, size, size)`` y-velocity.
        time: float64 ``(n_frames,)`` simulation time of each frame.
        energy: ``<u^2 + v^2> / 2`` per frame (from the float64 state).
        enstrophy: ``<omega^2> / 2`` per frame.
        palinstrophy: ``<|grad omega|^2> / 2`` per frame.
        initial_energy, initial_enstrophy: the same at ``t = 0``.
        dt: time step used.
        viscosity: kinematic viscosity.
        peak_wavenumber: peak ``k0`` of the initial energy spectrum.
        cutoff_wavenumber: largest wavenumber kept by the 2/3 rule.
        shell_spectrum: float64 energy spectrum ``E(k)`` of the last frame in
            integer shells ``k = 0 .. size // 2`` (sums to ``energy[-1]``).
    """

    u: np.ndarray
    v: np.ndarray
    time: np.ndarray
    energy: np.ndarray
    enstrophy: np.ndarray
    palinstrophy: np.ndarray
    initial_energy: float
    initial_enstrophy: float
    dt: float
    viscosity: float
    peak_wavenumber: float
    cutoff_wavenumber: float
    shell_spectrum: np.ndarray


def run_decaying_turbulence(n_frames: int = 32, size: int = 128,
                            viscosity: float = 1e-3,
                            steps_per_frame: int = 10,
                            dt: float | None = None,
                            seed: int = 0) -> TurbulenceResult:
    """2-D decaying turbulence on a periodic box; frames plus diagnostics.

    Solves ``d omega/dt + u . grad omega = viscosity * lap omega`` with
    ``u = (d psi/dy, -d psi/dx)``, ``lap psi = -omega`` pseudo-spectrally
    (numpy real FFTs, 2/3-rule dealiasing of the quadratic term) and a
    4th-order Runge-Kutta scheme with an exact integrating factor for the
    viscous term.  Because the 2/3 rule removes all aliasing, the discrete
    nonlinear term conserves energy and enstrophy, so the energy obeys
    ``dE/dt = -2 viscosity Z`` and decays monotonically.

    Initial vorticity: white noise from ``numpy.random.default_rng(seed)``
    shaped to the energy spectrum ``E(k) ~ k^4 exp(-2 (k / k0)^2)`` (peak at
    ``k0 = max(3, size / 32)``), normalized to ``E = 0.5``.  If ``dt`` is None
    it is ``0.5 * dx / max|u|`` of the initial field and stays fixed.

    Raises:
        ValueError: invalid argument (the message names it).
    """
    n_frames = _check_int("n_frames", n_frames, 1)
    size = _check_int("size", size, 16)
    steps_per_frame = _check_int("steps_per_frame", steps_per_frame, 1)
    seed = _check_int("seed", seed, 0)
    viscosity = _check_float("viscosity", viscosity, low=0.0)

    n = size
    ky = np.fft.fftfreq(n, 1.0 / n)[:, None]  # axis 0: y
    kx = np.fft.rfftfreq(n, 1.0 / n)[None, :]  # axis 1: x (half spectrum)
    k2 = kx * kx + ky * ky
    kmag = np.sqrt(k2)
    inv_k2 = np.zeros_like(k2)
    np.divide(1.0, k2, out=inv_k2, where=k2 > 0)
    cutoff = n // 3  # 2/3 rule: keep |kx|, |ky| <= N/3
    dealias = (np.abs(kx) <= cutoff) & (np.abs(ky) <= cutoff)
    ikx = 1j * kx
    iky = 1j * ky

    def velocity_hat(w_hat: np.ndarray):
        psi_hat = w_hat * inv_k2
        return iky * psi_hat, -ikx * psi_hat

    def nonlinear(w_hat: np.ndarray) -> np.ndarray:
        """-(u . grad omega), dealiased, in spectral space."""
        u_hat, v_hat = velocity_hat(w_hat)
        u = np.fft.irfft2(u_hat, s=(n, n))
        v = np.fft.irfft2(v_hat, s=(n, n))
        wx = np.fft.irfft2(ikx * w_hat, s=(n, n))
        wy = np.fft.irfft2(iky * w_hat, s=(n, n))
        adv_hat = np.fft.rfft2(u * wx + v * wy)
        adv_hat *= dealias
        return -adv_hat

    # ---- initial condition ----
    rng = np.random.default_rng(seed)
    k0 = max(3.0, n / 32.0)
    spectrum = kmag ** 4 * np.exp(-2.0 * (kmag / k0) ** 2)
    # |omega_hat|^2 ~ k^2 |u_hat|^2 ~ k^2 E(k) / k  (shell factor 2 pi k)
    w_hat = np.fft.rfft2(rng.standard_normal((n, n))) * np.sqrt(spectrum * kmag)
    w_hat[0, 0] = 0.0
    w_hat *= dealias

    def fields(w_hat: np.ndarray):
        u_hat, v_hat = velocity_hat(w_hat)
        return (np.fft.irfft2(u_hat, s=(n, n)), np.fft.irfft2(v_hat, s=(n, n)),
                np.fft.irfft2(w_hat, s=(n, n)),
                np.fft.irfft2(ikx * w_hat, s=(n, n)),
                np.fft.irfft2(iky * w_hat, s=(n, n)))

    u0, v0, *_ = fields(w_hat)
    e0 = 0.5 * np.mean(u0 * u0 + v0 * v0)
    w_hat *= np.sqrt(0.5 / e0)
    u0, v0, w0, _, _ = fields(w_hat)
    umax = float(np.max(np.abs(u0)) + np.max(np.abs(v0)))
    dx = 2.0 * np.pi / n
    if dt is None:
        dt = TURBULENCE_CFL * dx / umax
    else:
        dt = _check_float("dt", dt, low=0.0)
        cfl = dt * umax / dx
        if cfl > TURBULENCE_MAX_CFL:
            raise InputError(
                f"dt={dt} is too large: CFL number {cfl:.3f} > "
                f"{TURBULENCE_MAX_CFL} (use dt <= "
                f"{TURBULENCE_MAX_CFL * dx / umax:.3e} or dt=None)")

    decay = np.exp(-viscosity * k2 * dt)
    decay_half = np.exp(-0.5 * viscosity * k2 * dt)

    def rk4_step(w: np.ndarray) -> np.ndarray:
        a = dt * nonlinear(w)
        b = dt * nonlinear(decay_half * (w + 0.5 * a))
        c = dt * nonlinear(decay_half * w + 0.5 * b)
        d = dt * nonlinear(decay * w + decay_half * c)
        return decay * w + (decay * a + 2.0 * decay_half * (b + c) + d) / 6.0

    shape = (n_frames, n, n)
    u_out = np.empty(shape, dtype=np.float32)
    v_out = np.empty(shape, dtype=np.float32)
    energy = np.empty(n_frames)
    enstrophy = np.empty(n_frames)
    palinstrophy = np.empty(n_frames)
    for frame in range(n_frames):
        for _ in range(steps_per_frame):
            w_hat = rk4_step(w_hat)
        u, v, w, wx, wy = fields(w_hat)
        if not np.isfinite(w).all():
            raise FloatingPointError(
                f"turbulence solver diverged at frame {frame}; lower dt")
        u_out[frame] = u
        v_out[frame] = v
        energy[frame] = 0.5 * np.mean(u * u + v * v)
        enstrophy[frame] = 0.5 * np.mean(w * w)
        palinstrophy[frame] = 0.5 * np.mean(wx * wx + wy * wy)

    # shell spectrum of the last frame: rfft2 stores kx >= 0 only, so the
    # interior kx columns count twice (Parseval), normalized by n^4.
    u_hat, v_hat = velocity_hat(w_hat)
    dens = (np.abs(u_hat) ** 2 + np.abs(v_hat) ** 2) / n ** 4
    dens[:, 1:(n + 1) // 2] *= 2.0
    shells = np.rint(kmag).astype(np.int64)
    shell_spectrum = 0.5 * np.bincount(shells.ravel(), weights=dens.ravel(),
                                       minlength=n // 2 + 1)[: n // 2 + 1]

    return TurbulenceResult(
        u=u_out, v=v_out,
        time=dt * steps_per_frame * np.arange(1, n_frames + 1),
        energy=energy, enstrophy=enstrophy, palinstrophy=palinstrophy,
        initial_energy=float(0.5 * np.mean(u0 * u0 + v0 * v0)),
        initial_enstrophy=float(0.5 * np.mean(w0 * w0)),
        dt=float(dt), viscosity=viscosity, peak_wavenumber=k0,
        cutoff_wavenumber=float(cutoff), shell_spectrum=shell_spectrum)


def simulate_decaying_turbulence(n_frames: int = 32, size: int = 128,
                                 viscosity: float = 1e-3,
                                 steps_per_frame: int = 10,
                                 dt: float | None = None,
                                 seed: int = 0) -> np.ndarray:
    """x-velocity of 2-D decaying turbulence on a periodic ``2 pi`` box.

    Returns float32 ``(n_frames, size, size)`` (layout ``[t, y, x]``) in units
    where the initial r.m.s. speed is 1 (``<u^2 + v^2> = 1`` at ``t = 0``).
    See :func:`run_decaying_turbulence`; this is ``run_decaying_turbulence(
    ...).u``.
    """
    return run_decaying_turbulence(n_frames=n_frames, size=size,
                                   viscosity=viscosity,
                                   steps_per_frame=steps_per_frame, dt=dt,
                                   seed=seed).u
