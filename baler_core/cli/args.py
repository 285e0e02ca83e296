"""Argument helpers shared by the ``baler`` subcommand modules."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.errors import InputError


def split_list(s: str | None) -> list[str] | None:
    return [x.strip() for x in s.split(",") if x.strip()] if s else None


def add_input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tree", help="ROOT input: the TTree to read (needed when the file holds several)")
    p.add_argument("--branches", "--columns", dest="branches",
                   help="comma-separated branches/columns to read; ROOT accepts glob patterns such as 'Jet_*'")
    p.add_argument("--cut", help="ROOT input: an uproot cut expression selecting entries, e.g. 'NJet > 0'")
    p.add_argument("--field-key", help="NPZ field input: the array to read (default: 'field' or the only one)")


def resolve_source(path: str) -> str:
    """``testdata:NAME`` names a file shipped by scikit-hep-testdata (offline); anything else is a path."""
    if path.startswith("testdata:"):
        import skhep_testdata

        return str(skhep_testdata.data_path(path.split(":", 1)[1]))
    return path


def load_any(path: str | Path) -> pd.DataFrame | np.ndarray:
    from baler_core.io.fields import is_field_path, read_field
    from baler_core.io.tables import read_table

    return np.asarray(read_field(path)) if is_field_path(path) else read_table(path)


def load_parts(path: str | Path) -> list[tuple[str, pd.DataFrame]] | None:
    """The tables of a ROOT file of events (the per-event values, then each collection's objects), each value
    once; None for any other file."""
    if Path(path).suffix.lower() != ".root":
        return None
    from baler_core.io.events import read_events

    return read_events(path).parts()


def load_part_pairs(original: str | Path, reconstructed: str | Path) -> list[tuple[pd.DataFrame, pd.DataFrame]] | None:
    """(original, reconstructed) tables of two ROOT event files, part by part; None where the original is not
    ROOT. The two must hold the same parts."""
    orig = load_parts(original)
    if orig is None:
        return None
    rec = load_parts(reconstructed)
    if rec is None or [n for n, _ in rec] != [n for n, _ in orig]:
        got = "not a ROOT file of events" if rec is None else f"parts {', '.join(n for n, _ in rec)}"
        raise InputError(f"{reconstructed}: {got}; the original {original} holds events with parts "
                         f"{', '.join(n for n, _ in orig)}")
    return [(o, r) for (_, o), (_, r) in zip(orig, rec)]


def save_any(data: pd.DataFrame | np.ndarray, path: str | Path) -> None:
    from baler_core.io.fields import write_field
    from baler_core.io.tables import write_table

    p = Path(path)
    tmp = p.with_name(f".{p.name}.part{p.suffix}")
    (write_field if isinstance(data, np.ndarray) else write_table)(data, tmp)
    tmp.replace(p)


def bound_tuple(spec: str | None) -> tuple[str, float] | None:
    from baler_core.coding.error_bounds import parse_bound

    if not spec:
        return None
    b = parse_bound(spec)
    return None if b.kind == "none" else (b.kind, b.value)
