"""The rate-distortion plot of a sweep summary: for each kind of error bound, the ratio (decoder counted) against
the bound, one line per method (seeds' spread as error bars), and below a bar chart of every method's ratio at
each bound (lossless coders under ``exact``, the HEP precision presets under ``preset``). Methods are named in
one legend beside the axes, never as text on the points."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: Snakemake jobs and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from baler_core.errors import InputError  # noqa: E402
from baler_core.evaluation import metrics  # noqa: E402
from baler_core.evaluation.plots import no_data, prepare, style  # noqa: E402
from baler_core.evaluation.summary import bound_of_label  # noqa: E402

_KINDS = ("range", "rel", "abs", "rms")  # bounds drawn as curves (a value on a log axis)
_LAST = ("exact", "preset", "none")  # bounds without a value: bars only, after the others
_MARKERS = ["o", "s", "D", "^", "v", "P", "X", "<", ">", "h", "p", "*"]


def _bound_of(row: pd.Series) -> str:
    """A row's bound: the summary's ``bound`` column, else the ``eb-...`` of a sweep point's label."""
    b = row.get("bound")
    if isinstance(b, str) and b:
        return b
    return bound_of_label(str(row.get("label", "")))


def _series_of(row: pd.Series, bound: str) -> str:
    """What one line follows: a baler point's method and ratio without its seed and bound (``baler-dense r4``),
    an error-bounded baseline's method (``sz3``), or any other baseline's label (``zstd-l19``, ``atlas7-lzma9``)."""
    method, label = str(row.get("method", "")), str(row.get("label", ""))
    if method.startswith("baler") and "/" in label:
        point = label.split("/", 1)[0]  # dense-r4-s0
        parts = point.split("-")
        ratio = next((p for p in parts if p.startswith("r") and p[1:2].isdigit()), "")
        return f"{method} {ratio}".strip()
    if _value(bound)[0] in _KINDS or not label:
        return method or label
    return label


def sweep_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per series and bound: the median ratio with the decoder counted over seeds, and its min and max."""
    need = ["method", "label", "ratio_with_decoder"]
    missing = [c for c in need if c not in summary.columns]
    if missing:
        raise InputError(f"summary is missing column(s) {missing!r}")
    ratio = metrics.as_float(summary["ratio_with_decoder"], "ratio_with_decoder")
    bounds = [_bound_of(r) for _, r in summary.iterrows()]
    rows = pd.DataFrame({"series": [_series_of(r, b) for (_, r), b in zip(summary.iterrows(), bounds)],
                         "bound": bounds, "ratio": ratio})
    rows = rows[np.isfinite(rows["ratio"]) & (rows["ratio"] > 0)]
    out = rows.groupby(["series", "bound"], sort=False)["ratio"].agg(["median", "min", "max", "count"])
    return out.reset_index()


def _bound_order(bound: str) -> tuple:
    """Bars left to right: each bound kind from the loosest value to the tightest, then exact, preset, none."""
    kind, value = _value(bound)
    if kind in _KINDS and math.isfinite(value):
        return (_KINDS.index(kind), -value)
    return (len(_KINDS) + (_LAST.index(kind) if kind in _LAST else len(_LAST)), 0.0)


def _value(bound: str) -> tuple[str, float]:
    kind, _, value = bound.partition("=")
    try:
        return kind, float(value)
    except ValueError:
        return kind, math.nan


def plot_rate_distortion(summary: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Write the figure (PNG or PDF by suffix): a row of curve panels (one per bound kind with a value) over a
    bar chart of every bound; one shared legend to the right."""
    path = prepare(path)
    table = sweep_table(summary)
    series = list(dict.fromkeys(table["series"]))
    palette = (plt.get_cmap("tab10").colors if len(series) <= 10 else
               plt.get_cmap("tab20").colors + plt.get_cmap("tab20b").colors)  # distinct up to 40 methods
    colour = {s: palette[i % len(palette)] for i, s in enumerate(series)}
    marker = {s: _MARKERS[i % len(_MARKERS)] for i, s in enumerate(series)}
    kinds = [k for k in _KINDS if any(_value(b)[0] == k and math.isfinite(_value(b)[1]) for b in table["bound"])]
    with style():
        ncols = max(1, len(kinds))
        fig = plt.figure(figsize=(4.2 * ncols + 3.2, 8.0), layout="constrained")
        grid = fig.add_gridspec(2, ncols, height_ratios=[1.0, 0.9])
        handles: dict[str, object] = {}
        for j, kind in enumerate(kinds):
            ax = fig.add_subplot(grid[0, j])
            for s in series:
                part = table[(table["series"] == s) & table["bound"].map(lambda b, k=kind: _value(b)[0] == k)]
                if part.empty:
                    continue
                x = part["bound"].map(lambda b: _value(b)[1]).to_numpy()
                order = np.argsort(x)
                med, lo, hi = (part[c].to_numpy()[order] for c in ("median", "min", "max"))
                h = ax.errorbar(x[order], med, yerr=[med - lo, hi - med], color=colour[s], marker=marker[s],
                                linestyle="-", linewidth=1.2, markersize=6, capsize=3)
                handles.setdefault(s, h)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(f"{kind}= bound")
            ax.set_ylabel("ratio, decoder counted" if j == 0 else "")
            ax.grid(True, which="both", alpha=0.3)
        if not kinds:
            no_data(fig.add_subplot(grid[0, :]), "no error-bounded rows to draw as curves")
        bar_ax = fig.add_subplot(grid[1, :])
        table = table.assign(bound=table["bound"].replace("", "(no bound)"))
        bounds = sorted(dict.fromkeys(table["bound"]), key=_bound_order)
        if not bounds:
            no_data(bar_ax, "no rows with a positive ratio in the summary")
        else:
            for k, b in enumerate(bounds):  # at each bound only the methods measured there, side by side
                present = [s for s in series if ((table["series"] == s) & (table["bound"] == b)).any()]
                width = 0.8 / len(present)
                for i, s in enumerate(present):
                    value = float(table.loc[(table["series"] == s) & (table["bound"] == b), "median"].iloc[0])
                    bars = bar_ax.bar(k - 0.4 + width * (i + 0.5), value, width=width, color=colour[s],
                                      edgecolor="black", linewidth=0.3)
                    handles.setdefault(s, bars)
            bar_ax.set_xticks(range(len(bounds)), bounds)
            bar_ax.set_yscale("log")
            bar_ax.set_ylabel("ratio, decoder counted")
            bar_ax.grid(True, axis="y", which="both", alpha=0.3)
        if handles:
            fig.legend(list(handles.values()), list(handles.keys()), loc="outside right center", fontsize="small",
                       frameon=False)
        if title:
            fig.suptitle(title)
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path
