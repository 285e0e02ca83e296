"""Range bounds taken against a file set's range (issue 22): the model records its training rows' ranges, and
``--range-of MODEL`` gives every file of the set the precision of one file of the whole set."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from baler_core.codec import CompressionOptions, compress_table, decompress
from baler_core.coding.error_bounds import Bound, BoundSpec, column_ranges, load_bound_spec, with_set_ranges
from baler_core.errors import InputError
from baler_core.format.container import ContainerReader
from baler_core.models.store import load_model, save_record


@pytest.fixture(scope="module")
def rows(prior_rows):
    return prior_rows


@pytest.fixture(scope="module")
def model(prior_models):
    """conftest's sequential model with priors for range=1e-3, fitted with its training rows (its ranges and
    header template), the first 5,000."""
    return prior_models[1]


def test_spans_resolve_range_bounds_only():
    spec = BoundSpec(Bound("range", 1e-3), {"b": Bound("rel", 1e-2), "c": Bound("range", 1e-2)})
    got = with_set_ranges(spec, {"a": [0.0, 50.0], "b": [1.0, 2.0], "c": [-1, 1], "d": [3.0, 3.0]}, "m")
    assert got.for_column("a") == Bound("abs", 0.05)
    assert got.for_column("b") == Bound("rel", 1e-2)  # not a range bound: unchanged
    assert got.for_column("c") == Bound("abs", 0.02)
    assert got.for_column("d") == Bound("range", 1e-3)  # an empty set range: the column keeps its own
    assert got.to_dict()["range_of"] == "set" and "range_of" not in spec.to_dict()
    with pytest.raises(InputError, match="fit-priors"):
        with_set_ranges(spec, None, "old.safetensors")
    with pytest.raises(InputError, match="column 'a'"):
        with_set_ranges(spec, {"a": [0.0]}, "m")


def test_training_records_the_rows_ranges(rows, model):
    record = load_model(model).record
    names = list(record["columns"])
    expect = column_ranges(rows.iloc[:5000][names].to_numpy(), names)
    assert set(record["ranges"]) == set(expect)
    for c, lohi in expect.items():
        assert record["ranges"][c] == pytest.approx(lohi), c
    # the decoder needs no ranges: a model without them has the same decoder bytes (and hash)
    stripped = {k: v for k, v in record.items() if k != "ranges"}
    save_record(model, model.with_name("noranges.safetensors"), stripped)
    assert load_model(model.with_name("noranges.safetensors")).decoder_blob() == load_model(model).decoder_blob()


def test_files_keep_the_sets_precision_and_shrink(rows, model, tmp_path):
    """A file of the narrowest rows (a quarter of the set's pt range) codes against the set's range: every value
    within 1e-3 of the set's range, fewer bytes than against its own range."""
    bundle = load_model(model)
    held = rows.iloc[5000:]
    part = held[held["pt"] <= held["pt"].quantile(0.5)].reset_index(drop=True)
    spans = {c: hi - lo for c, (lo, hi) in bundle.record["ranges"].items()}
    sizes = {}
    for how in ("file", "set"):
        bounds = load_bound_spec("range=1e-3")
        if how == "set":
            bounds = with_set_ranges(bounds, bundle.record["ranges"], "model")
        path = tmp_path / f"{how}.baler"
        header = compress_table([part], bundle, path, CompressionOptions(bounds))
        sizes[how] = path.stat().st_size
        back = decompress(path, bundle)
        for c in part.columns:
            err = np.abs(back[c].to_numpy(np.float64) - part[c].to_numpy(np.float64))
            own = float(part[c].max() - part[c].min())
            assert err.max() <= 1e-3 * (spans[c] if how == "set" else own), c
        assert header["error_bound"].get("range_of") == ("set" if how == "set" else None)
        assert header["priors"] == "range=0.001"
    assert sizes["set"] < sizes["file"], sizes


def test_cli_range_of(rows, model, tmp_path):
    part = rows.iloc[5000:5600].reset_index(drop=True)
    part.to_parquet(tmp_path / "small.parquet")
    out = tmp_path / "s.baler"
    subprocess.run(["baler", "compress", str(tmp_path / "small.parquet"), "-m", str(model), "-o", str(out),
                    "--error-bound", "range=1e-3", "--range-of", str(model)], check=True, capture_output=True)
    with ContainerReader(out) as rd:
        assert rd.header["error_bound"]["range_of"] == "set"
    subprocess.run(["baler", "decompress", str(out), "-m", str(model), "-o", str(tmp_path / "back.parquet")],
                   check=True, capture_output=True)
    for extra, kind in (([], "range"), (["--range-of", str(model)], "abs")):
        tsv = tmp_path / f"m-{kind}.tsv"
        subprocess.run(["baler", "evaluate-file", str(tmp_path / "small.parquet"), str(tmp_path / "back.parquet"),
                        "-o", str(tsv), "--error-bound", "range=1e-3", *extra], check=True, capture_output=True)
        m = pd.read_csv(tsv, sep="\t")
        assert set(m["bound_kind"]) == {kind}
        if kind == "abs":  # counted against the set's range, as it was coded
            assert (m["frac_outside_bound"] == 0).all()
    np.save(tmp_path / "f.npy", np.zeros((4, 8, 8), np.float32))
    proc = subprocess.run(["baler", "compress", str(tmp_path / "f.npy"), "-m", "none", "-o", str(tmp_path / "f.baler"),
                           "--error-bound", "range=1e-3", "--range-of", str(model)], capture_output=True, text=True)
    assert proc.returncode != 0 and "--range-of" in proc.stderr
