"""The ``exact`` bound: every bit back, per column or as the default, on tables, fields and events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from baler_core.codec import CompressionOptions, compress_field, compress_table, decompress
from baler_core.coding.error_bounds import Bound, BoundSpec, load_bound_spec, parse_bound
from baler_core.coding.lossless import decode_exact, encode_exact
from baler_core.errors import FormatError
from baler_core.evaluation.metrics import per_variable_metrics


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _table(n: int = 5000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "pt": rng.lognormal(3, 0.6, n).astype(np.float32),
        "weight": rng.choice(np.array([1.25, -1.25, np.nan, -0.0, 0.0, np.inf], np.float32), n),
        "x64": rng.normal(size=n),
        "eta": rng.normal(0, 1.5, n).astype(np.float32),
        "flag": rng.random(n) < 0.3,
    })


def test_parse_exact():
    assert parse_bound("exact") == Bound("exact") and str(Bound("exact")) == "exact"


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint64", "uint8", "bool", "float16"])
def test_encode_exact_round_trips_every_dtype(dtype):
    rng = np.random.default_rng(0)
    x = (rng.normal(0, 100, 3000)).astype(dtype)
    rec, streams, _ = encode_exact(x, 9)
    assert rec["mode"] == "exact" and rec["codec"] in ("shuffle-zstd", "pcodec")
    assert _same_bits(decode_exact(rec, streams.__getitem__, x.size, x.dtype), x)


def test_forged_exact_streams_are_refused():
    x = np.arange(1000, dtype=np.float32)
    rec, streams, _ = encode_exact(x, 9)
    with pytest.raises(FormatError):
        decode_exact(rec, streams.__getitem__, 2000, x.dtype)  # the stream holds fewer values than declared
    with pytest.raises(FormatError, match="unknown codec"):
        decode_exact({"mode": "exact", "codec": "lzma"}, streams.__getitem__, 1000, x.dtype)


def test_exact_default_keeps_every_bit_of_a_table(tmp_path):
    df = _table()
    compress_table([df], None, tmp_path / "x.baler", CompressionOptions(load_bound_spec("exact")))
    back = decompress(tmp_path / "x.baler")
    for c in df.columns:
        assert _same_bits(back[c].to_numpy(), df[c].to_numpy()), c


def test_exact_per_column_beside_lossy_columns(tmp_path):
    df = _table()
    bounds = BoundSpec(Bound("rel", 1e-3), {"pt": Bound("exact"), "weight": Bound("exact")})
    compress_table([df], None, tmp_path / "x.baler", CompressionOptions(bounds))
    back = decompress(tmp_path / "x.baler")
    assert _same_bits(back["pt"].to_numpy(), df["pt"].to_numpy())
    assert _same_bits(back["weight"].to_numpy(), df["weight"].to_numpy())
    eta, eta0 = back["eta"].to_numpy(np.float64), df["eta"].to_numpy(np.float64)
    assert not np.array_equal(eta, eta0) and np.all(np.abs(eta - eta0) <= 1e-3 * np.abs(eta0) * (1 + 1e-6))
    m = per_variable_metrics(df[["pt", "eta"]], back[["pt", "eta"]], {"pt": ("exact", 0.0), "eta": ("exact", 0.0)})
    by = m.set_index("variable")["frac_outside_bound"]
    assert by["pt"] == 0 and by["eta"] > 0.5  # the metrics catch a lossy column under exact


def test_exact_field_keeps_every_bit(tmp_path):
    rng = np.random.default_rng(2)
    field = np.cumsum(rng.normal(size=(6, 20, 24)), axis=2).astype(np.float32)
    compress_field(field, None, tmp_path / "f.baler", CompressionOptions(load_bound_spec("exact")))
    assert _same_bits(decompress(tmp_path / "f.baler"), field)


def test_exact_events_columns(tmp_path):
    from baler_core.codec.events import compress_events, decompress_events
    from baler_core.io.events import read_events
    from baler_core.sim.nanoaod import write_nanoaod

    ev = read_events(write_nanoaod(tmp_path / "nano.root", 500, seed=11))
    bounds = BoundSpec(Bound("rel", 2.0**-11), {"Jet_pt": Bound("exact"), "genWeight": Bound("exact")})
    compress_events(ev, None, tmp_path / "e.baler", CompressionOptions(bounds))
    back = decompress_events(tmp_path / "e.baler")
    assert _same_bits(back.collections[0].objects["Jet_pt"].to_numpy(), ev.collections[0].objects["Jet_pt"].to_numpy())
    assert _same_bits(back.per_event["genWeight"].to_numpy(), ev.per_event["genWeight"].to_numpy())
