"""Smoke tests of baler_core.plots: files are written, edge cases do not crash."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from baler_core.evaluation.plots import (
    plot_field_frames,
    plot_loss_curves,
    plot_per_variable,
)
from baler_core.evaluation.rate_distortion import plot_rate_distortion

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _pdf_pages(path: Path) -> int:
    """Count page objects (/Type /Page, not /Pages) in a PDF."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", path.read_bytes()))


def _tables(n: int = 400):
    rng = np.random.default_rng(0)
    normal = rng.normal(10.0, 2.0, n)
    zeros_nan = rng.normal(0.0, 1.0, n)
    zeros_nan[::7] = 0.0
    zeros_nan[::11] = np.nan
    orig = pd.DataFrame({
        "pt normal": normal,
        "constant": np.full(n, 5.0),
        "n_jets": rng.integers(0, 12, n),
        "zeros/nan": zeros_nan,
        "all_nan": np.full(n, np.nan),
    })
    reco = orig.copy()
    reco["pt normal"] = normal * (1 + rng.normal(0, 0.01, n))
    reco["n_jets"] = reco["n_jets"] + rng.normal(0, 0.2, n)
    reco["zeros/nan"] = zeros_nan + rng.normal(0, 0.01, n)
    return orig, reco


def test_plot_per_variable_pdf_and_pngs(tmp_path):
    orig, reco = _tables()
    pdf = tmp_path / "out" / "vars.pdf"
    pngs = plot_per_variable(orig, reco, pdf, png_dir=tmp_path / "png", title="test")
    assert pdf.stat().st_size > 0
    assert _pdf_pages(pdf) == orig.shape[1]
    assert len(pngs) == orig.shape[1]
    assert [p.name for p in pngs] == ["pt_normal.png", "constant.png", "n_jets.png",
                                      "zeros_nan.png", "all_nan.png"]
    for p in pngs:
        assert p.parent == tmp_path / "png"
        assert p.read_bytes()[:8] == PNG_MAGIC


def test_plot_per_variable_zero_rows_and_no_png(tmp_path):
    orig, reco = _tables()
    pdf = tmp_path / "empty.pdf"
    assert plot_per_variable(orig.iloc[:0], reco.iloc[:0], pdf) == []
    assert _pdf_pages(pdf) == orig.shape[1]
    pdf2 = tmp_path / "nocols.pdf"
    plot_per_variable(pd.DataFrame(), pd.DataFrame(), pdf2)
    assert _pdf_pages(pdf2) == 1


def test_plot_per_variable_name_collision_and_missing(tmp_path):
    orig = pd.DataFrame({"a b": [1.0, 2.0], "a/b": [3.0, 4.0]})
    pngs = plot_per_variable(orig, orig, tmp_path / "c.pdf", png_dir=tmp_path)
    assert len({p.name for p in pngs}) == 2
    with pytest.raises(ValueError, match="a/b"):
        plot_per_variable(orig, orig[["a b"]], tmp_path / "d.pdf")


def test_plot_field_frames(tmp_path):
    rng = np.random.default_rng(1)
    orig = rng.normal(size=(3, 17, 23))
    reco = orig + rng.normal(0, 0.01, orig.shape)
    out = plot_field_frames(orig, reco, [0, 2], tmp_path / "frames.png")
    assert out.read_bytes()[:8] == PNG_MAGIC
    pdf = plot_field_frames(orig, orig, [1], tmp_path / "exact.pdf")  # zero diff, PSNR inf
    assert _pdf_pages(pdf) == 1


def test_plot_field_frames_bad_index(tmp_path):
    f = np.zeros((3, 4, 5))
    with pytest.raises(ValueError, match=r"5.*3 frames"):
        plot_field_frames(f, f, [0, 5], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"-1.*3 frames"):
        plot_field_frames(f, f, [-1], tmp_path / "x.png")
    with pytest.raises(ValueError, match="shape"):
        plot_field_frames(f, f[:2], [0], tmp_path / "x.png")


def test_plot_loss_curves(tmp_path):
    ep = np.arange(1, 21)
    hist = pd.DataFrame({"epoch": ep, "train_loss": 1.0 / ep, "val_loss": 1.2 / ep + 0.002 * ep,
                         "lr": 1e-3 * 0.9 ** ep})
    out = plot_loss_curves(hist, tmp_path / "loss.png", title="run 0")
    assert out.read_bytes()[:8] == PNG_MAGIC
    out2 = plot_loss_curves(hist.drop(columns="lr"), tmp_path / "loss.pdf")
    assert _pdf_pages(out2) == 1
    with pytest.raises(ValueError, match="val_loss"):
        plot_loss_curves(hist.drop(columns="val_loss"), tmp_path / "bad.png")


def test_plot_rate_distortion(tmp_path):
    from baler_core.evaluation.rate_distortion import sweep_table

    rows = []
    for bound, scale in (("range=1e-2", 2.0), ("range=1e-3", 1.0), ("rel=1e-3", 0.8)):
        tag = bound.replace("=", "_")
        for seed, jitter in ((0, 1.0), (1, 1.1), (2, 0.95)):  # seeds: the median, with min and max as error bars
            rows.append({"method": "baler-dense", "label": f"dense-r4-s{seed}/eb-{tag}", "bound": bound,
                         "ratio_with_decoder": 5.0 * scale * jitter})
        rows.append({"method": "sz3", "label": f"sz3-{tag}", "bound": bound, "ratio_with_decoder": 4.0 * scale})
    rows += [{"method": "zstd", "label": "zstd-l3", "bound": "exact", "ratio_with_decoder": 1.3},
             {"method": "zstd", "label": "zstd-l19", "bound": "exact", "ratio_with_decoder": 1.4},
             {"method": "nanoaod", "label": "nanoaod-lzma9", "bound": "preset", "ratio_with_decoder": 3.0},
             {"method": "broken", "label": "no ratio", "bound": "exact", "ratio_with_decoder": np.nan}]
    summary = pd.DataFrame(rows)
    table = sweep_table(summary)
    dense = table[(table["series"] == "baler-dense r4") & (table["bound"] == "range=1e-3")].iloc[0]
    assert (dense["median"], dense["min"], dense["max"], dense["count"]) == (5.0, 4.75, 5.5, 3)
    assert {"zstd-l3", "zstd-l19", "sz3", "nanoaod-lzma9"} <= set(table["series"])  # levels are not seeds
    assert "broken" not in set(table["series"])
    out = plot_rate_distortion(summary, tmp_path / "rd.png", title="tables")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert _pdf_pages(plot_rate_distortion(summary, tmp_path / "rd.pdf")) == 1
    # an older summary without a bound column: the points' bounds come from their labels
    table = sweep_table(summary.drop(columns="bound"))
    assert "range=1e-2" in set(table[table["series"] == "baler-dense r4"]["bound"])
    plot_rate_distortion(summary.iloc[[rows.index(rows[-4])]], tmp_path / "rd2.png")  # lossless only: no curves
    plot_rate_distortion(summary.iloc[:0], tmp_path / "rd3.png")
    with pytest.raises(ValueError, match="ratio_with_decoder"):
        plot_rate_distortion(summary.drop(columns="ratio_with_decoder"), tmp_path / "rd4.png")
