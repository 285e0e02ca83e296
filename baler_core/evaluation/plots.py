"""Diagnostic plots: per-variable distributions, field frames, loss and rate-distortion.

All functions write files and close their figures.  matplotlib runs with the
non-interactive "Agg" backend; mplhep's ROOT style is used when mplhep is
installed, plain matplotlib otherwise.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402

from baler_core.errors import InputError  # noqa: E402  (a ValueError)
from baler_core.evaluation import metrics  # noqa: E402

try:  # optional HEP styling
    import mplhep  # type: ignore[import-not-found]
except Exception:  # pragma: no cover - depends on the environment
    mplhep = None


@contextlib.contextmanager
def style() -> Iterator[None]:
    """mplhep ROOT style if available, else matplotlib defaults."""
    style = getattr(getattr(mplhep, "style", None), "ROOT", None) if mplhep is not None else None
    if style is None:
        yield
        return
    # the ROOT style's fonts are sized for 10x10-inch single plots; shrink them
    small = {"font.size": 11, "axes.titlesize": 11, "axes.labelsize": 11,
             "xtick.labelsize": 10, "ytick.labelsize": 10, "legend.fontsize": 9}
    with plt.style.context([style, small]):
        yield


def _sanitize(name: str) -> str:
    """File-system safe version of a variable name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name)).strip("._")
    return s or "var"


def finish(fig: plt.Figure, ax: plt.Axes, path: Path, title: str) -> None:
    """Title, tight layout, write at 100 dpi, close."""
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def prepare(path: str | Path) -> Path:
    """Path with its parent directory created."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def _fmt(x: float) -> str:
    """Compact number for legends."""
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def no_data(ax: plt.Axes, text: str) -> None:
    """Mark an empty panel."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


# --------------------------------------------------------------------------
# per-variable distributions
# --------------------------------------------------------------------------
def _is_integer_like(series: pd.Series, finite: np.ndarray, max_bins: int) -> bool:
    """Integer dtype, or float values that are all integral with few distinct values."""
    if pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series):
        return True
    if finite.size == 0 or not np.all(finite == np.round(finite)):
        return False
    return np.unique(finite).size <= max_bins


def _edges(values: np.ndarray, integer: bool, max_bins: int) -> np.ndarray:
    """Histogram bin edges covering ``values`` (finite, non-empty)."""
    lo, hi = float(values.min()), float(values.max())
    max_bins = max(1, int(max_bins))
    if integer:
        lo_i, hi_i = math.floor(lo + 0.5), math.ceil(hi - 0.5)
        width = max(1, math.ceil((hi_i - lo_i + 1) / max_bins))
        n = math.ceil((hi_i - lo_i + 1) / width)
        return lo_i - 0.5 + width * np.arange(n + 1, dtype=np.float64)
    if hi == lo:
        half = 0.5 if lo == 0 else 0.05 * abs(lo)
        return np.linspace(lo - half, hi + half, 2)
    nb = int(min(max_bins, max(10, math.ceil(math.sqrt(values.size)))))
    return np.linspace(lo, hi, nb + 1)


def _robust_edges(values: np.ndarray, max_bins: int) -> np.ndarray:
    """Bin edges over the 0.5-99.5 percentile range of ``values``."""
    lo, hi = np.percentile(values, [0.5, 99.5])
    lo, hi = float(lo), float(hi)
    if hi <= lo:
        lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        half = 0.5 if lo == 0 else 0.05 * abs(lo)
        lo, hi = lo - half, hi + half
    nb = int(min(max_bins, max(10, math.ceil(math.sqrt(values.size)))))
    return np.linspace(lo, hi, nb + 1)


def _stat_hist(ax: plt.Axes, values: np.ndarray, label: str, mean: float, rms: float,
               max_bins: int, empty_text: str) -> None:
    """Robust-range histogram with mean/RMS (over all values) in the legend."""
    ax.set_xlabel(label)
    if values.size == 0:
        no_data(ax, empty_text)
        return
    edges = _robust_edges(values, max_bins)
    outside = int(np.count_nonzero((values < edges[0]) | (values > edges[-1])))
    legend = f"mean = {_fmt(mean)}\nRMS = {_fmt(rms)}"
    if outside:
        legend += f"\n{outside} outside plot range"
    counts = ax.hist(values, bins=edges, histtype="step", color="C2", label=legend)[0]
    ax.set_ylim(0, max(1.0, float(counts.max())) * 1.5)  # headroom for the legend
    ax.set_ylabel("entries")
    ax.legend(fontsize="small", loc="upper right")


def _variable_figure(name: str, o_series: pd.Series, r_series: pd.Series,
                     title: str, max_bins: int) -> plt.Figure:
    """Three-panel figure for one variable."""
    orig = metrics.as_float(o_series, name)
    reco = metrics.as_float(r_series, name)
    stats = metrics.per_variable_metrics(
        pd.DataFrame({name: orig}), pd.DataFrame({name: reco})
    ).iloc[0]
    fin_o, fin_r = np.isfinite(orig), np.isfinite(reco)
    both = fin_o & fin_r
    residual = reco[both] - orig[both]
    nz = orig[both] != 0
    response = residual[nz] / orig[both][nz]

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    ax0, ax1, ax2 = axes

    # distributions
    shown = np.concatenate([orig[fin_o], reco[fin_r]])
    ax0.set_xlabel(name)
    if shown.size == 0:
        no_data(ax0, "no finite values")
    else:
        integer = _is_integer_like(o_series, orig[fin_o], max_bins)
        edges = _edges(shown, integer, max_bins)
        ax0.hist(orig[fin_o], bins=edges, histtype="step", color="C0", linewidth=1.5,
                 label=f"original ({int(fin_o.sum())})")
        ax0.hist(reco[fin_r], bins=edges, histtype="step", color="C1", linestyle="--",
                 linewidth=1.5, label=f"reconstructed ({int(fin_r.sum())})")
        counts = np.concatenate([np.histogram(orig[fin_o], edges)[0],
                                 np.histogram(reco[fin_r], edges)[0]])
        if np.any(counts > 0):
            ax0.set_yscale("log")
            ax0.set_ylim(0.5, float(counts.max()) * 30)  # headroom for the legend
        ax0.set_ylabel("entries")
        ax0.legend(fontsize="small", loc="best")
    notes = []
    if int(stats["n_nonfinite"]):
        notes.append(f"{int(stats['n_nonfinite'])} non-finite original")
    n_bad_reco = int(np.count_nonzero(fin_o & ~fin_r))
    if n_bad_reco:
        notes.append(f"{n_bad_reco} finite -> non-finite")
    if notes:
        ax0.text(0.02, 0.98, "\n".join(notes), transform=ax0.transAxes, va="top",
                 fontsize="small", color="red")

    _stat_hist(ax1, response, "response (reco - orig) / orig", stats["response_mean"],
               stats["response_rms"], max_bins, "no nonzero finite originals")
    if int(stats["n_zero_excluded"]):
        ax1.set_title(f"{int(stats['n_zero_excluded'])} zero originals excluded",
                      fontsize="small")
    _stat_hist(ax2, residual, "residual reco - orig", stats["residual_mean"],
               stats["residual_rms"], max_bins, "no finite values")
    ax2.set_title(f"max |residual| = {_fmt(stats['max_abs_error'])}", fontsize="small")

    fig.suptitle(f"{title}: {name}" if title else str(name))
    fig.tight_layout()
    return fig


def plot_per_variable(
    original: pd.DataFrame | list[pd.DataFrame],
    reconstructed: pd.DataFrame | list[pd.DataFrame],
    pdf_path: str | Path,
    png_dir: str | Path | None = None,
    title: str = "",
    max_bins: int = 100,
) -> list[Path]:
    """One PDF page (and optional PNG) per column: distributions, response, residual.

    Left: original vs reconstructed step histograms (shared bins, log y;
    integer-centred bins for integer columns).  Middle: response over nonzero
    finite originals.  Right: residual.  Response/residual histograms span
    the 0.5-99.5 percentiles, but the legend mean and RMS (sqrt(mean(x^2)))
    are over all values.  The PDF has exactly one page per column (one
    placeholder page for a table without columns).  Returns the PNG paths
    (``<png_dir>/<sanitised variable>.png``), empty if ``png_dir`` is None. Lists of tables (the parts of
    events, each of its own length) give the pages of every table's columns.
    """
    originals = original if isinstance(original, list) else [original]
    recs = reconstructed if isinstance(reconstructed, list) else [reconstructed]
    if len(originals) != len(recs):
        raise InputError(f"{len(originals)} original tables but {len(recs)} reconstructed")
    for o, r in zip(originals, recs):
        metrics.check_tables(o, r)
    pairs = [(name, o[name], r[name]) for o, r in zip(originals, recs) for name in o.columns]
    pdf_path = prepare(pdf_path)
    png_paths: list[Path] = []
    used: set[str] = set()
    if png_dir is not None:
        Path(png_dir).mkdir(parents=True, exist_ok=True)
    with style(), PdfPages(pdf_path) as pdf:
        if not pairs:
            fig, ax = plt.subplots()
            no_data(ax, "table has no columns")
            pdf.savefig(fig)
            plt.close(fig)
        for name, o_col, r_col in pairs:
            fig = _variable_figure(str(name), o_col, r_col, title, max_bins)
            try:
                pdf.savefig(fig)
                if png_dir is not None:
                    stem = _sanitize(str(name))
                    base, k = stem, 1
                    while stem.lower() in used:
                        stem = f"{base}_{k}"
                        k += 1
                    used.add(stem.lower())
                    p = Path(png_dir) / f"{stem}.png"
                    fig.savefig(p, dpi=100)
                    png_paths.append(p)
            finally:
                plt.close(fig)
    return png_paths


# --------------------------------------------------------------------------
# fields
# --------------------------------------------------------------------------
def plot_field_frames(
    original: np.ndarray,
    reconstructed: np.ndarray,
    frames: list[int],
    path: str | Path,
) -> Path:
    """Original / reconstructed / difference images for selected frames of N x H x W fields.

    Original and reconstructed share one colour scale (one colourbar per
    row); the difference uses a symmetric diverging scale.  The suptitle gives
    whole-field stats and each difference panel its frame's stats (max abs
    error, range-relative max error, PSNR) from metrics.field_error_stats.
    """
    o = np.asarray(original, dtype=np.float64)
    r = np.asarray(reconstructed, dtype=np.float64)
    if o.shape != r.shape:
        raise InputError(f"shape mismatch: original {o.shape} vs reconstructed {r.shape}")
    if o.ndim != 3:
        raise InputError(f"fields must be N x H x W, got shape {o.shape}")
    n_frames = o.shape[0]
    frames = [int(f) for f in frames]
    if not frames:
        raise InputError("no frames selected")
    for f in frames:
        if not 0 <= f < n_frames:
            raise InputError(f"frame index {f} out of range: field has {n_frames} frames")
    path = prepare(path)
    total = metrics.field_error_stats(o, r)

    with style():
        fig, axes = plt.subplots(len(frames), 3, figsize=(13, 3.6 * len(frames)), squeeze=False,
                                 layout="constrained")
        for row, f in zip(axes, frames):
            of, rf = o[f], r[f]
            diff = rf - of
            both = np.concatenate([of[np.isfinite(of)], rf[np.isfinite(rf)]])
            vmin, vmax = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
            if vmin == vmax:
                vmin, vmax = vmin - 0.5, vmax + 0.5
            im = row[0].imshow(of, origin="lower", vmin=vmin, vmax=vmax, cmap="viridis")
            row[1].imshow(rf, origin="lower", vmin=vmin, vmax=vmax, cmap="viridis")
            fig.colorbar(im, ax=row[1], shrink=0.9)  # one bar for the shared scale
            fin_d = np.abs(diff[np.isfinite(diff)])
            lim = float(fin_d.max()) if fin_d.size and fin_d.max() > 0 else 1e-12
            imd = row[2].imshow(diff, origin="lower", vmin=-lim, vmax=lim, cmap="RdBu_r")
            fig.colorbar(imd, ax=row[2], shrink=0.9)
            st = metrics.field_error_stats(of[None], rf[None])
            row[0].set_title(f"original, frame {f}", fontsize="small")
            row[1].set_title(f"reconstructed, frame {f}", fontsize="small")
            row[2].set_title(
                f"reco - orig: max|d| {_fmt(st['max_abs_error'])}, "
                f"rel {_fmt(st['max_range_rel_error'])}, PSNR {_fmt(st['psnr_db'])} dB",
                fontsize="x-small",
            )
        fig.suptitle(
            f"all {n_frames} frames: max abs error {_fmt(total['max_abs_error'])}, "
            f"max error / range {_fmt(total['max_range_rel_error'])}, "
            f"PSNR {_fmt(total['psnr_db'])} dB"
        )
        fig.savefig(path, dpi=100)
        plt.close(fig)
    return path


# --------------------------------------------------------------------------
# training history
# --------------------------------------------------------------------------
def plot_loss_curves(history: pd.DataFrame, path: str | Path, title: str = "") -> Path:
    """Train and validation loss vs epoch (log y), best validation epoch marked.

    ``history`` needs columns epoch, train_loss, val_loss; an ``lr`` column is
    drawn on a secondary log axis.  Falls back to a linear y axis if a loss
    is <= 0.
    """
    missing = [c for c in ("epoch", "train_loss", "val_loss") if c not in history.columns]
    if missing:
        raise InputError(f"history is missing column(s) {missing!r}")
    path = prepare(path)
    ep = metrics.as_float(history["epoch"], "epoch")
    tr = metrics.as_float(history["train_loss"], "train_loss")
    va = metrics.as_float(history["val_loss"], "val_loss")
    with style():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ok_tr, ok_va = np.isfinite(tr), np.isfinite(va)
        if not (ok_tr.any() or ok_va.any()):
            no_data(ax, "no finite losses")
        else:
            ax.plot(ep[ok_tr], tr[ok_tr], "-", color="C0", label="train")
            ax.plot(ep[ok_va], va[ok_va], "-", color="C1", label="validation")
            finite = np.concatenate([tr[ok_tr], va[ok_va]])
            if np.all(finite > 0):
                ax.set_yscale("log")
            if ok_va.any():
                i = int(np.nanargmin(np.where(ok_va, va, np.nan)))
                ax.axvline(ep[i], color="gray", linestyle=":", linewidth=1)
                ax.plot([ep[i]], [va[i]], "*", color="C3", markersize=12,
                        label=f"best val: epoch {_fmt(ep[i])}, {_fmt(va[i])}")
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss")
            handles, labels = ax.get_legend_handles_labels()
            if "lr" in history.columns:
                lr = metrics.as_float(history["lr"], "lr")
                ok = np.isfinite(lr)
                if ok.any():
                    ax2 = ax.twinx()
                    ax2.plot(ep[ok], lr[ok], "--", color="gray", linewidth=1, label="learning rate")
                    if np.all(lr[ok] > 0):
                        ax2.set_yscale("log")
                    ax2.set_ylabel("learning rate")
                    h2, l2 = ax2.get_legend_handles_labels()
                    handles, labels = handles + h2, labels + l2
            ax.legend(handles, labels, fontsize="small", loc="upper right")
        finish(fig, ax, path, title)
    return path

