"""The physics-analysis check: does an analysis see a difference between the original and decompressed events?

For each observable (``evaluation.observables``) both event sets are histogrammed with the same bins (taken from
the original; underflow and overflow included). Each bin's pull is (decompressed - original) / sqrt(original),
the original's statistical uncertainty; the table gives chi2/ndf over the filled bins, the largest pull and a
two-sample Kolmogorov-Smirnov test on the unbinned values. Both sets hold the same events, so the pulls measure
only the events that compression moved from one bin to another: a pull below 1 means an analysis with these
events could not tell the two apart in that histogram.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from baler_core.errors import InputError
from baler_core.evaluation.observables import Observable, evaluate_observable

log = logging.getLogger(__name__)

N_BINS = 40
MAX_INTEGER_BINS = 60
COLUMNS = ["observable", "events", "bins", "chi2", "ndf", "chi2_ndf", "largest_pull", "largest_pull_at",
           "ks_statistic", "ks_pvalue", "mean_original", "mean_decompressed"]


@dataclass
class Comparison:
    observable: Observable
    original: object  # hist.Hist
    decompressed: object
    row: dict


def load_events(path: str | Path, tree: str | None = None):
    """Events of a ``.root`` file (TTree or RNTuple), an events ``.baler`` file or a ``.parquet`` file of events
    (list columns) as one awkward record array, one entry per event."""
    import awkward as ak

    from baler_core.codec.events import decompress_events, is_events_file
    from baler_core.io.events import read_events, to_awkward

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file does not exist")
    suffix = p.suffix.lower()
    if suffix == ".root":
        arrays = to_awkward(read_events(p, tree))
    elif suffix == ".baler":
        if not is_events_file(p):
            raise InputError(f"{p}: holds no events (a table or a field); the physics check needs events")
        arrays = to_awkward(decompress_events(p))
    elif suffix in (".parquet", ".pq"):
        return ak.from_parquet(p)
    else:
        raise InputError(f"{p}: events are read from .root, .baler or .parquet")
    return ak.zip(arrays, depth_limit=1)


def _axis(obs: Observable, values: np.ndarray):
    import hist

    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        raise InputError(f"observable {obs.name!r} is undefined in every original event")
    if obs.integer:
        lo, hi = int(np.floor(finite.min())), int(np.ceil(finite.max()))
        hi = min(hi, lo + MAX_INTEGER_BINS - 1)
        return hist.axis.Regular(hi - lo + 1, lo - 0.5, hi + 0.5, name=obs.name, label=obs.label)  # a bin each
    lo, hi = np.quantile(finite, [0.001, 0.999])
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    # A bounded observable (an edge within 5 % of the central range: delta-phi at pi, pt at a storage threshold)
    # gets its edge half a bin outside the extreme value: a quantile edge there would make a flow bin of a few
    # events that any shift of the extreme values fills or empties.
    width, margin = (hi - lo) / N_BINS, 0.05 * (hi - lo)
    vmin, vmax = float(finite.min()), float(finite.max())
    lo = vmin - width / 2 if lo - vmin < margin else lo
    hi = vmax + width / 2 if vmax - hi < margin else hi
    return hist.axis.Regular(N_BINS, float(lo), float(hi), name=obs.name, label=obs.label)


def compare(obs: Observable, original: np.ndarray, decompressed: np.ndarray) -> Comparison:
    """Histograms, pulls, chi2/ndf and KS of one observable."""
    import hist
    from scipy.stats import ks_2samp

    if original.shape != decompressed.shape:
        raise InputError(f"observable {obs.name!r}: {len(original)} values in the original, {len(decompressed)} "
                         "decompressed: the two files do not hold the same events")
    axis = _axis(obs, original)
    h_o, h_d = hist.Hist(axis), hist.Hist(axis)
    fo, fd = original[np.isfinite(original)], decompressed[np.isfinite(decompressed)]
    h_o.fill(fo)
    h_d.fill(fd)
    o, d = h_o.values(flow=True), h_d.values(flow=True)
    filled = (o > 0) | (d > 0)
    pull = np.where(filled, (d - o) / np.sqrt(np.maximum(o, 1.0)), 0.0)
    chi2, ndf = float(np.sum(pull**2)), int(filled.sum())
    worst = int(np.argmax(np.abs(pull)))
    e = axis.edges  # flow index 0 is the underflow, len(e) the overflow: reported at the edge they lie beyond
    at = e[0] if worst == 0 else e[-1] if worst == len(e) else 0.5 * (e[worst - 1] + e[worst])
    ks = ks_2samp(fo, fd) if len(fd) else None
    row = {"observable": obs.name, "events": int(len(fo)), "bins": axis.size, "chi2": chi2, "ndf": ndf,
           "chi2_ndf": chi2 / ndf if ndf else np.nan, "largest_pull": float(np.abs(pull).max(initial=0.0)),
           "largest_pull_at": float(at), "ks_statistic": float(ks.statistic) if ks else np.nan,
           "ks_pvalue": float(ks.pvalue) if ks else np.nan, "mean_original": float(fo.mean()) if len(fo) else np.nan,
           "mean_decompressed": float(fd.mean()) if len(fd) else np.nan}
    return Comparison(obs, h_o, h_d, row)


def plot_comparison(c: Comparison, path: str | Path, title: str = "") -> None:
    """Both histograms, and below them their ratio with the original's statistical band (mplhep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(6, 5.5), gridspec_kw={"height_ratios": [3, 1]})
    mplhep.histplot(c.original, ax=top, label="original", color="black", yerr=True, histtype="errorbar")
    mplhep.histplot(c.decompressed, ax=top, label="decompressed", color="tab:red")
    top.set_ylabel("events")
    top.legend(title=f"$\\chi^2$/ndf = {c.row['chi2_ndf']:.2f}, largest pull {c.row['largest_pull']:.2f}",
               fontsize=8, title_fontsize=8)
    if title:
        top.set_title(title, fontsize=9)
    o, d = c.original.values(), c.decompressed.values()
    edges = c.original.axes[0].edges
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio, band = d / o, 1 / np.sqrt(o)
    centers = 0.5 * (edges[1:] + edges[:-1])
    bottom.fill_between(edges, np.append(1 - band, 1 - band[-1]), np.append(1 + band, 1 + band[-1]), step="post",
                        color="grey", alpha=0.3, label="original stat.")
    bottom.plot(centers, ratio, "o", color="tab:red", markersize=3)
    bottom.axhline(1, color="black", lw=0.8)
    bottom.set_ylim(0.8, 1.2)
    bottom.set_ylabel("decomp. / orig.")
    bottom.set_xlabel(c.observable.label)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_physics(original, decompressed, observables: dict[str, Observable],
                     png_dir: str | Path | None = None, title: str = "") -> pd.DataFrame:
    """One row per observable (``COLUMNS``); with ``png_dir``, one plot per observable there."""
    if len(original) != len(decompressed):
        raise InputError(f"{len(original)} original events but {len(decompressed)} decompressed: the physics "
                         "check compares the same events")
    rows = []
    for name, obs in observables.items():
        c = compare(obs, evaluate_observable(obs, original), evaluate_observable(obs, decompressed))
        rows.append(c.row)
        if png_dir is not None:
            Path(png_dir).mkdir(parents=True, exist_ok=True)
            plot_comparison(c, Path(png_dir) / f"{name}.png", title)
        log.info("%s: chi2/ndf %.3f, largest pull %.2f, KS p %.3g", name, c.row["chi2_ndf"], c.row["largest_pull"],
                 c.row["ks_pvalue"])
    return pd.DataFrame(rows, columns=COLUMNS)
