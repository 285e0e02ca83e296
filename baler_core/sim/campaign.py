"""Simulation campaigns: many field files with the same physics, as a CFD campaign writes them (issue 25).

A campaign is runs x windows: one solver run per parameter value (the Reynolds number of a wake, the seed of a
turbulence run), each recorded as successive output windows of ``frames`` frames, one file a window. Window
``k`` of a run holds exactly frames ``k * frames .. (k + 1) * frames - 1`` of one long run (the solvers are
deterministic and frame ``k`` does not depend on how many frames are recorded), so the files join up in time
as a solver's restart files do. ``write_campaign`` stores each window as NPY with a JSON manifest of what
produced it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from baler_core.errors import InputError
from baler_core.sim.checks import check_int
from baler_core.sim.lbm import SHAPES, run_lbm
from baler_core.sim.turbulence import simulate_decaying_turbulence

FLOWS = (*SHAPES, "turbulence")  # a wake behind a square or a cylinder, or 2-D decaying turbulence


@dataclass(frozen=True)
class CampaignFile:
    """One output window of one run: ``name`` (``<flow>-<run>-w<window>``), the run's ``params``, the window
    index and its ``frames`` (float32, N x H x W)."""
    name: str
    params: dict
    window: int
    frames: np.ndarray = field(repr=False)


def field_campaign(flow: str, runs: Sequence[float | int], windows: int, frames: int, height: int = 64,
                   width: int = 192, steps_per_frame: int = 20, warmup_steps: int = 2000,
                   seed: int = 0) -> Iterator[CampaignFile]:
    """The campaign's files, run by run: ``runs`` are Reynolds numbers for a wake (``square`` or
    ``cylinder``, ``height`` x ``width``), seeds for ``turbulence`` (``height`` x ``height``, the box is
    square); each run simulated once for ``windows * frames`` frames and cut into ``windows`` files."""
    if flow not in FLOWS:
        raise InputError(f"campaign flow {flow!r} unknown; choose from {', '.join(FLOWS)}")
    windows, frames = check_int("windows", windows, 1), check_int("frames", frames, 1)
    if not runs:
        raise InputError("a campaign needs at least one run (a Reynolds number or a seed)")
    for run in runs:
        if flow == "turbulence":
            params = {"flow": flow, "seed": check_int("seed", run, 0), "size": height,
                      "steps_per_frame": steps_per_frame}
            series = simulate_decaying_turbulence(n_frames=windows * frames, size=height, seed=params["seed"],
                                                  steps_per_frame=steps_per_frame)
            tag = f"s{params['seed']}"
        else:
            params = {"flow": flow, "reynolds": float(run), "height": height, "width": width,
                      "steps_per_frame": steps_per_frame, "warmup_steps": warmup_steps, "seed": seed}
            series = run_lbm(n_frames=windows * frames, height=height, width=width, reynolds=float(run),
                             steps_per_frame=steps_per_frame, warmup_steps=warmup_steps, seed=seed,
                             shape=flow).frames
            tag = f"re{float(run):g}"
        for w in range(windows):
            yield CampaignFile(f"{flow}-{tag}-w{w:03d}", params, w, series[w * frames : (w + 1) * frames])


def write_campaign(files: Iterator[CampaignFile], out_dir: str | Path) -> list[Path]:
    """Write each file as ``<out_dir>/<name>.npy`` and ``campaign.json`` (per file: name, window, first frame,
    the run's parameters); returns the NPY paths in campaign order."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths, manifest = [], []
    for f in files:
        path = out / f"{f.name}.npy"
        np.save(path, f.frames)
        paths.append(path)
        manifest.append({"file": path.name, "window": f.window, "first_frame": f.window * len(f.frames),
                         "frames": len(f.frames), **f.params})
    (out / "campaign.json").write_text(json.dumps({"files": manifest}, indent=1) + "\n")
    return paths
