"""Event-level observables for the physics-analysis check: the standard ones an analysis of jets and missing
energy looks at first, and users' own, named ``module:function``.

An observable takes the events as one awkward record array (one entry per event: per-event branches as
numbers, collections as lists of records, as :func:`baler_core.io.events.to_awkward` builds them) and returns
one value per event, NaN where it is undefined (no second jet for ``mjj``). A user function may also return a
jagged array (one value per object); it is then compared object by object.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from baler_core.errors import InputError

JET_PT_MIN = 30.0  # GeV: the jets counted by n_jets and summed in H_T (a common analysis threshold)


@dataclass(frozen=True)
class Observable:
    name: str
    label: str
    func: Callable  # events (awkward) -> array
    integer: bool = False  # counts: histogrammed with one bin per integer


@dataclass(frozen=True)
class EventNames:
    """Where the standard observables find their inputs (NanoAOD's names by default)."""

    jets: str = "Jet"
    met: str = "MET_pt"
    jet_pt_min: float = JET_PT_MIN


def _field(rec, name: str):
    """The field ``name`` of a record array, whatever its case (``pt``, ``Px``, ``E``); None if absent."""
    lower = {f.lower(): f for f in rec.fields}
    return rec[lower[name]] if name in lower else None


def jet_kinematics(events, names: EventNames) -> dict:
    """pt, eta, phi, mass of the jet collection, from (pt, eta, phi, mass) or from (px, py, pz, E) fields;
    raises InputError naming what is missing."""
    import awkward as ak

    if names.jets not in events.fields:
        raise InputError(f"no jet collection {names.jets!r} in the events (top-level names: "
                         f"{', '.join(events.fields)})")
    jets = events[names.jets]
    fields = ak.fields(jets)
    polar = [_field(jets, n) for n in ("pt", "eta", "phi", "mass")]
    if all(x is not None for x in polar):
        return dict(zip(("pt", "eta", "phi", "mass"), polar))
    cart = [_field(jets, n) for n in ("px", "py", "pz", "e")]
    if all(x is not None for x in cart):
        px, py, pz, e = (ak.values_astype(x, np.float64) for x in cart)  # E^2 - p^2 cancels: float32 is too short
        pt = np.hypot(px, py)
        p2 = px**2 + py**2 + pz**2
        return {"pt": pt, "eta": np.arcsinh(pz / np.where(pt > 0, pt, np.inf)), "phi": np.arctan2(py, px),
                "mass": np.sqrt(np.maximum(e**2 - p2, 0.0))}
    raise InputError(f"jet collection {names.jets!r} has fields {', '.join(fields)}: the standard observables "
                     "need pt, eta, phi, mass or px, py, pz, E")


def _nth(x, i: int) -> np.ndarray:
    import awkward as ak

    return ak.to_numpy(ak.fill_none(ak.pad_none(x, i + 1, axis=1)[:, i], np.nan)).astype(np.float64)


def _four_vector(j: dict, i: int) -> tuple[np.ndarray, ...]:
    pt, eta, phi, m = (_nth(j[k], i) for k in ("pt", "eta", "phi", "mass"))
    return pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)


def _mjj(j: dict) -> np.ndarray:
    a, b = _four_vector(j, 0), _four_vector(j, 1)
    px, py, pz, e = (x + y for x, y in zip(a, b))
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))


def _dphi(j: dict) -> np.ndarray:
    d = np.abs(_nth(j["phi"], 0) - _nth(j["phi"], 1))
    return np.where(d > np.pi, 2 * np.pi - d, d)


def _above(pt, cut: float, summed: bool) -> np.ndarray:
    """Per event: the summed pt (H_T) or the number of jets above ``cut``."""
    import awkward as ak

    keep = pt > cut
    return ak.to_numpy(ak.sum(pt[keep] if summed else keep, axis=1)).astype(np.float64)


def _met(events, names: EventNames) -> np.ndarray:
    import awkward as ak

    if names.met in events.fields:
        return ak.to_numpy(events[names.met]).astype(np.float64)
    base = names.met.rsplit("_", 1)[0]
    if f"{base}_px" in events.fields and f"{base}_py" in events.fields:
        return np.hypot(ak.to_numpy(events[f"{base}_px"]), ak.to_numpy(events[f"{base}_py"])).astype(np.float64)
    raise InputError(f"no missing-energy branch {names.met!r} (or {base}_px and {base}_py) in the events")


def standard_observables(names: EventNames = EventNames()) -> dict[str, Observable]:
    """Leading and subleading jet pt, m_jj and delta-phi of the leading pair, H_T and the number of jets above
    ``jet_pt_min``, and MET."""
    cut = names.jet_pt_min

    def j(events):
        return jet_kinematics(events, names)

    return {
        "lead_jet_pt": Observable("lead_jet_pt", "leading jet $p_T$ [GeV]", lambda ev: _nth(j(ev)["pt"], 0)),
        "sublead_jet_pt": Observable("sublead_jet_pt", "subleading jet $p_T$ [GeV]",
                                     lambda ev: _nth(j(ev)["pt"], 1)),
        "mjj": Observable("mjj", "$m_{jj}$ of the leading pair [GeV]", lambda ev: _mjj(j(ev))),
        "ht": Observable("ht", f"$H_T$ (jets $p_T > {cut:g}$ GeV) [GeV]", lambda ev: _above(j(ev)["pt"], cut, True)),
        "n_jets": Observable("n_jets", f"jets with $p_T > {cut:g}$ GeV", lambda ev: _above(j(ev)["pt"], cut, False),
                             integer=True),
        "met": Observable("met", "$p_T^{miss}$ [GeV]", lambda ev: _met(ev, names)),
        "dphi_jj": Observable("dphi_jj", r"$\Delta\phi$ of the leading pair", lambda ev: _dphi(j(ev))),
    }


def user_observable(name: str, spec: str, where: str = "observables") -> Observable:
    """``module:function`` (a module on the Python path, or ``path/to/file.py:function``) as an observable."""
    mod_name, sep, func_name = spec.rpartition(":")
    if not sep or not mod_name or not func_name:
        raise InputError(f"{where}: {name}: {spec!r} is not module:function")
    try:
        if mod_name.endswith(".py"):
            path = Path(mod_name)
            if not path.is_file():
                raise InputError(f"{where}: {name}: no file {mod_name}")
            loader = importlib.util.spec_from_file_location(f"baler_user_{path.stem}", path)
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise InputError(f"{where}: {name}: cannot import {mod_name!r} ({exc})") from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise InputError(f"{where}: {name}: {mod_name} has no function {func_name!r}")
    return Observable(name, name, func)


def evaluate_observable(obs: Observable, events) -> np.ndarray:
    """The observable's values as float64 (a jagged result flattened object by object)."""
    import awkward as ak

    try:
        out = obs.func(events)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"observable {obs.name!r} failed: {type(exc).__name__}: {exc}") from exc
    arr = ak.Array(out) if not isinstance(out, np.ndarray) else out
    if isinstance(arr, ak.Array):
        if arr.ndim > 1:
            arr = ak.flatten(arr, axis=None)
        arr = ak.to_numpy(ak.fill_none(arr, np.nan))
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise InputError(f"observable {obs.name!r} returned {arr.dtype} of shape {arr.shape}, not numbers")
    return arr.astype(np.float64)
