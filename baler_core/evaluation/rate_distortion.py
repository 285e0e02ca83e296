"""The rate-distortion plot of a sweep summary: ratio against error, one line per model, baselines as markers."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: Snakemake jobs and CI have no display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from baler_core.errors import InputError  # noqa: E402
from baler_core.evaluation import metrics  # noqa: E402
from baler_core.evaluation.plots import finish, no_data, prepare, style  # noqa: E402

_BASELINE_MARKERS = ["s", "D", "^", "v", "P", "X", "<", ">", "h", "p"]


def plot_rate_distortion(
    summary: pd.DataFrame,
    path: str | Path,
    error_column: str = "max_range_rel_error",
    title: str = "",
) -> Path:
    """Error (log y) vs compression ratio (log x) for models and baselines.

    Rows whose method starts with "baler" are drawn twice, filled at
    ``ratio`` (decoder not counted) and open at ``ratio_with_decoder``,
    joined by a thin line.  Other methods get one marker at ``ratio`` and a
    text label.  Rows with zero or missing error are drawn at a floor below
    the smallest positive error and labelled "lossless" (missing: "lossless?
    (error n/a)"); infinite errors are drawn at a ceiling.  Rows without a
    positive finite ratio are listed in a note on the plot.
    """
    need = ["method", "label", "ratio", "ratio_with_decoder", error_column]
    missing = [c for c in need if c not in summary.columns]
    if missing:
        raise InputError(f"summary is missing column(s) {missing!r}")
    path = prepare(path)

    err = metrics.as_float(summary[error_column], error_column)
    ratio = metrics.as_float(summary["ratio"], "ratio")
    ratio_dec = metrics.as_float(summary["ratio_with_decoder"], "ratio_with_decoder")
    methods = ["" if pd.isna(m) else str(m) for m in summary["method"]]
    labels = ["" if pd.isna(x) else str(x) for x in summary["label"]]

    pos = err[np.isfinite(err) & (err > 0)]
    floor = 10.0 ** (math.floor(math.log10(pos.min())) - 1) if pos.size else 1e-6
    ceiling = 10.0 ** (math.ceil(math.log10(pos.max())) + 1) if pos.size else 1.0
    y = err.copy()
    tags = [""] * len(err)
    for i, e in enumerate(err):
        if math.isnan(e):
            y[i], tags[i] = floor, "lossless? (error n/a)"
        elif e == 0 or e < 0:
            y[i], tags[i] = floor, "lossless" if e == 0 else f"lossless? (error {e:.3g})"
        elif math.isinf(e):
            y[i], tags[i] = ceiling, "error = inf"

    with style():
        fig, ax = plt.subplots(figsize=(8, 5.5))
        skipped = []
        base_marker: dict[str, str] = {}
        any_model = False
        xs: list[float] = []
        ys: list[float] = []
        for i in range(len(err)):
            name = labels[i] or methods[i]
            text = f"{name} [{tags[i]}]" if tags[i] else name
            has_r = math.isfinite(ratio[i]) and ratio[i] > 0
            has_d = math.isfinite(ratio_dec[i]) and ratio_dec[i] > 0
            color = f"C{i % 10}"
            if methods[i].startswith("baler"):
                any_model = True
                if not (has_r or has_d):
                    skipped.append(name)
                    continue
                if has_r and has_d:
                    ax.plot([ratio[i], ratio_dec[i]], [y[i], y[i]], "-", color=color, linewidth=0.7)
                if has_r:
                    ax.plot(ratio[i], y[i], "o", color=color, markersize=8)
                if has_d:
                    ax.plot(ratio_dec[i], y[i], "o", markerfacecolor="none",
                            markeredgecolor=color, markersize=8)
                x_text = ratio[i] if has_r else ratio_dec[i]
                xs += [ratio[i]] if has_r else []
                xs += [ratio_dec[i]] if has_d else []
                ys.append(y[i])
            else:
                if not has_r:
                    skipped.append(name)
                    continue
                mk = base_marker.setdefault(
                    methods[i], _BASELINE_MARKERS[len(base_marker) % len(_BASELINE_MARKERS)]
                )
                ax.plot(ratio[i], y[i], mk, color=color, markersize=7)
                x_text = ratio[i]
                xs.append(ratio[i])
                ys.append(y[i])
            ax.annotate(text, (x_text, y[i]), textcoords="offset points", xytext=(5, 5),
                        fontsize="x-small", color=color)

        if any(tags[i].startswith("lossless") for i in range(len(tags))):
            ax.axhline(floor, color="gray", linestyle=":", linewidth=1)
            ax.text(0.99, floor, "lossless / no error value (drawn at floor) ", color="gray",
                    fontsize="x-small", ha="right", va="top", transform=ax.get_yaxis_transform())
        if any(t == "error = inf" for t in tags):
            ax.axhline(ceiling, color="red", linestyle=":", linewidth=1)

        handles = []
        if any_model:
            handles += [
                Line2D([], [], marker="o", linestyle="", color="k", label="baler, decoder not counted"),
                Line2D([], [], marker="o", linestyle="", markerfacecolor="none",
                       markeredgecolor="k", label="baler, decoder counted"),
            ]
        handles += [Line2D([], [], marker=mk, linestyle="", color="k", label=m)
                    for m, mk in base_marker.items()]
        if handles:
            ax.legend(handles=handles, fontsize="small", loc="best")
        if skipped:
            ax.text(0.01, 0.99, "not drawn (no positive ratio): " + ", ".join(skipped),
                    transform=ax.transAxes, ha="left", va="top", fontsize="x-small",
                    color="red")
        if len(err) == 0:
            no_data(ax, "no rows in summary")
        elif xs:
            ax.set_xlim(min(xs) / 1.5, max(xs) * 1.5)
            ax.set_ylim(min(ys) / 3.0, max(ys) * 3.0)
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("compression ratio")
        ax.set_ylabel(error_column)
        finish(fig, ax, path, title)
    return path
