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

from baler_core.sim.lbm import LBMResult, run_lbm, simulate_flow_past_square
from baler_core.sim.turbulence import TurbulenceResult, run_decaying_turbulence, simulate_decaying_turbulence

__all__ = ["LBMResult", "TurbulenceResult", "run_decaying_turbulence", "run_lbm", "simulate_decaying_turbulence",
           "simulate_flow_past_square"]
