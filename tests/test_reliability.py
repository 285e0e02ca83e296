"""Hostile files, edge-case data, interrupted jobs: fail loudly and safely, never silently."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import make_field, make_jets
from fuzz_baler_files import run_campaign

from baler_core.codec import CompressionOptions, compress_field, compress_table, decompress
from baler_core.codec.priors import add_priors, fit_priors
from baler_core.coding.error_bounds import Bound, BoundSpec
from baler_core.errors import BalerError, FormatError
from baler_core.format.container import ContainerReader
from baler_core.models.store import load_model
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset


def _train(df, path, **mc):
    bundle, _ = train_dataset(df, path, ModelConfig(model="dense", hidden=[16], **({"latent_dim": 3} | mc)),
                              TrainConfig(epochs=2, device="cpu", batch_size=128))
    return bundle


def build_fuzz_corpus(tmp: Path) -> list:
    """Eight real files: a table with its decoder embedded, a table without, a field, model-free ones (a
    transform-coded field with signed zeros among them), a sequential-model table, and one coded against its
    model's priors (decoder and priors embedded)."""
    jets = make_jets(300, seed=11)
    jets.loc[5, "eta"] = np.nan
    tb = _train(jets, tmp / "t.safetensors")
    compress_table([jets], tb, tmp / "a.baler", CompressionOptions(BoundSpec(Bound("rel", 1e-3)), True))
    compress_table([jets.iloc[:100]], tb, tmp / "b.baler", CompressionOptions(BoundSpec(Bound("range", 1e-2))))
    field = make_field(4, 21, 30)
    fb, _ = train_dataset(field, tmp / "f.safetensors", ModelConfig(latent_dim=2, channels=[4, 4]),
                          TrainConfig(epochs=1, device="cpu", patch=None))
    compress_field(field, fb, tmp / "c.baler", CompressionOptions(BoundSpec(Bound("abs", 1e-3))))
    # model-free: a grid table (threads) and a spline-coded field
    compress_table([jets], None, tmp / "d.baler", CompressionOptions(BoundSpec(Bound("range", 1e-3)), block_rows=128))
    compress_field(field, None, tmp / "e.baler", CompressionOptions(BoundSpec(Bound("abs", 1e-3)),
                                                                   field_predictor="spline"))
    zeros = field.copy()
    zeros[1, 2:5, 3:6] = 0.0
    zeros[2, 0, :4] = -0.0
    header = compress_field(zeros, None, tmp / "g.baler", CompressionOptions(BoundSpec(Bound("range", 1e-3)),
                                                                            field_predictor="dct"))
    assert header["blocks"][0]["columns"][0]["dct_zeros"] is True
    # the sequential model: relations, aligned modes, context groups of residuals and zero flags, methods 4, 5
    many = make_jets(4000, seed=12)
    sb, _ = train_dataset(many, tmp / "s.safetensors", ModelConfig(model="sequential", latent_dim=4),
                          TrainConfig(epochs=2, device="cpu", batch_size=256))
    header = compress_table([many], sb, tmp / "f.baler", CompressionOptions(BoundSpec(Bound("rel", 1e-3)), True))
    assert any("ctx" in r or "zero_ctx" in r for r in header["blocks"][0]["columns"])
    rd = ContainerReader(tmp / "f.baler")
    assert any(rd.read(s)[0] == 5 for s in rd.header["sections"])  # hybrid-token streams get fuzzed too
    # the same model with priors (a prior section: varint shifts, shared rANS words, low bits)
    bounds = BoundSpec(Bound("rel", 1e-3))
    # ... and its column records in section head, against the decoder's header template (format 1.12)
    add_priors(tmp / "s.safetensors", tmp / "sp.safetensors", sb, bounds, fit_priors(sb, many, bounds), many)
    small = many.iloc[:1500].reset_index(drop=True)
    header = compress_table([small], load_model(tmp / "sp.safetensors"), tmp / "h.baler",
                            CompressionOptions(bounds, True, model_fallback=False))
    assert header["priors"] and {"b0/prior", "head"} <= set(ContainerReader(tmp / "h.baler").header["sections"])
    return [(tmp / "a.baler", None, jets), (tmp / "b.baler", tb, jets), (tmp / "c.baler", fb, field),
            (tmp / "d.baler", None, jets), (tmp / "e.baler", None, field), (tmp / "f.baler", None, many),
            (tmp / "g.baler", None, zeros), (tmp / "h.baler", None, small)]


def test_fuzz_mutated_files(tmp_path):
    corpus = build_fuzz_corpus(tmp_path)
    for p, bundle, _ in corpus:  # the unmutated files decode
        decompress(p, bundle)
    result = run_campaign(corpus, cases=10_000, seed=0, workdir=tmp_path)
    print(f"fuzz: {result}")
    kinds = {k: v for k, v in result.items() if k != "seconds"}
    assert sum(v["error"] + v["ok"] for v in kinds.values()) == 10_000
    for k in ("flip", "truncate", "insert", "resealed-body"):  # damage is always detected
        assert kinds[k]["ok"] == 0, (k, kinds[k])
    # a re-sealed (deliberately forged) header may decode to other well-formed data, never crash


def test_absurd_declared_sizes_refused_before_allocation(tmp_path):
    import json

    from fuzz_baler_files import reseal, split_file

    corpus = build_fuzz_corpus(tmp_path)
    raw = corpus[1][0].read_bytes()
    body, header = split_file(raw)
    h = json.loads(header)
    h["n_rows"] = 10**15
    h["blocks"][0]["rows"] = 10**15 - 100 + h["blocks"][0]["rows"]
    new = json.dumps(h).encode()
    p = tmp_path / "bomb.baler"
    p.write_bytes(reseal(body + new, len(new)))
    t0 = time.perf_counter()
    with pytest.raises(FormatError, match="refusing to allocate"):
        decompress(p, corpus[1][1])
    assert time.perf_counter() - t0 < 5


def test_header_dtype_strings_are_checked_before_numpy_parses_them(tmp_path):
    """A forged column dtype such as "," made numpy's dtype parser raise SyntaxError (found by the fuzzer):
    only numeric type codes are accepted, each failure a FormatError."""
    import json

    from fuzz_baler_files import reseal, split_file

    out = tmp_path / "t.baler"
    compress_table([make_jets(200, seed=3)], None, out, CompressionOptions(BoundSpec(Bound("range", 1e-3))))
    body, header = split_file(out.read_bytes())
    for bad in (",", "f4,f4", "(2,)f4", "<U8", "O", 7):
        h = json.loads(header)
        h["columns"][0]["dtype"] = bad
        new = json.dumps(h).encode()
        p = tmp_path / "forged.baler"
        p.write_bytes(reseal(body + new, len(new)))
        with pytest.raises(FormatError, match="dtype"):
            decompress(p)


def test_edge_case_values_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    n = 400
    df = pd.DataFrame({
        "x": rng.normal(size=n).astype(np.float32),
        "special": rng.normal(size=n).astype(np.float32),
        "const": np.full(n, 3.25, np.float32),
        "f64": rng.normal(1e3, 1, n),
        "i64": rng.integers(-5, 5, n).astype(np.int64),
        "u8": rng.integers(0, 256, n).astype(np.uint8),
        "i8": rng.integers(-128, 128, n).astype(np.int8),
        "b": rng.uniform(size=n) < 0.3,
    })
    bundle = _train(df, tmp_path / "m.safetensors")
    df.loc[0:5, "special"] = [np.nan, np.inf, -np.inf, -0.0, 1e-40, -1e-42]  # NaN, Inf, -0, denormals
    df.loc[0, "i64"] = np.iinfo(np.int64).max
    df.loc[1, "i64"] = np.iinfo(np.int64).min
    df.loc[0, "i8"], df.loc[1, "i8"] = -128, 127
    for spec in (Bound("rel", 1e-3), Bound("range", 1e-3), Bound("abs", 1e-6)):
        out = tmp_path / "e.baler"
        compress_table([df], bundle, out, CompressionOptions(BoundSpec(spec)))
        rec = decompress(out, bundle)
        assert rec.dtypes.to_dict() == df.dtypes.to_dict()
        for c in ("i64", "u8", "i8", "b", "const"):
            np.testing.assert_array_equal(rec[c].to_numpy(), df[c].to_numpy(), err_msg=c)
        s, r = df["special"].to_numpy(), rec["special"].to_numpy()
        assert np.isnan(r[0]) and r[1] == np.inf and r[2] == -np.inf and np.signbit(r[3])
        # -0 keeps its sign; exact under rel, within the bound (dithered) under abs and range
        assert r[3] == 0 or spec.kind != "rel"
        fin = np.isfinite(s)
        tol = {"rel": spec.value * np.abs(s[fin]), "abs": spec.value,
               "range": spec.value * (s[fin].max() - s[fin].min())}[spec.kind]
        assert np.all(np.abs(r[fin].astype(float) - s[fin]) <= tol)
        f64 = df["f64"].to_numpy()
        assert rec["f64"].dtype == np.float64
        tol64 = {"rel": spec.value * np.abs(f64), "abs": spec.value, "range": spec.value * np.ptp(f64)}[spec.kind]
        assert np.all(np.abs(rec["f64"].to_numpy() - f64) <= tol64)


@pytest.mark.parametrize("rows", [0, 1])
def test_zero_and_single_row(tmp_path, jets_model, rows):
    _, bundle = jets_model
    df = make_jets(5).iloc[:rows]
    out = tmp_path / "z.baler"
    compress_table([df], bundle, out, CompressionOptions(BoundSpec(Bound("rel", 1e-3))))
    rec = decompress(out, bundle)
    assert len(rec) == rows and list(rec.columns) == list(df.columns)
    assert rec.dtypes.to_dict() == df.dtypes.to_dict()
    if rows:
        assert np.all(np.abs(rec["pt"] - df["pt"]) <= 1e-3 * np.abs(df["pt"]))


def test_zero_frame_field(tmp_path, field_model):
    _, bundle = field_model
    out = tmp_path / "z.baler"
    compress_field(np.zeros((0, 9, 11), np.float32), bundle, out, CompressionOptions(BoundSpec(Bound("abs", 1))))
    assert decompress(out, bundle).shape == (0, 9, 11)


def test_very_wide_table(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.normal(size=(300, 4))
    df = pd.DataFrame((base @ rng.normal(size=(4, 320))).astype(np.float32), columns=[f"c{i}" for i in range(320)])
    bundle = _train(df, tmp_path / "w.safetensors", latent_dim=8)
    out = tmp_path / "w.baler"
    compress_table([df], bundle, out, CompressionOptions(BoundSpec(Bound("range", 1e-3))))
    rec = decompress(out, bundle)
    err = np.abs(rec.to_numpy(np.float64) - df.to_numpy(np.float64))
    assert np.all(err <= 1e-3 * (df.max() - df.min()).to_numpy())


def test_field_of_wrong_dimensions_named(tmp_path, field_model):
    from baler_core.errors import InputError

    _, bundle = field_model
    with pytest.raises(InputError, match=r"N x H x W or N x D x H x W, got shape \(4, 5\)"):
        compress_field(np.zeros((4, 5), np.float32), bundle, tmp_path / "x.baler", CompressionOptions(BoundSpec()))


def test_table_into_field_model_refused(tmp_path, field_model, jets):
    from baler_core.errors import InputError

    _, bundle = field_model
    with pytest.raises(InputError, match="model is for fields"):
        compress_table([jets], bundle, tmp_path / "x.baler", CompressionOptions(BoundSpec()))


def test_killed_compression_leaves_no_complete_looking_file(tmp_path):

    big = pd.concat([make_jets(20000, seed=s) for s in range(25)], ignore_index=True)  # 500k rows
    src = tmp_path / "big.parquet"
    big.to_parquet(src)
    _train(big.iloc[:2000], tmp_path / "m.safetensors")
    out = tmp_path / "big.baler"
    proc = subprocess.Popen([sys.executable, "-m", "baler_core.cli", "compress", str(src), "-m",
                             str(tmp_path / "m.safetensors"), "-o", str(out), "--error-bound", "rel=1e-4"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob(".big.baler.*.part")):
        time.sleep(0.01)
    assert proc.poll() is None, "compression ended before it could be killed"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # only the hidden .part file may remain, never a truncated big.baler
    partial = list(tmp_path.glob(".big.baler.*.part"))
    assert partial
    with pytest.raises(BalerError):
        decompress(partial[0])
