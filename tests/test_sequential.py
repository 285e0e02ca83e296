"""The sequential table model: exact relations, per-column coding choices, bounds on every value."""

import numpy as np
import pandas as pd
import pytest
from conftest import make_jets
from test_codec import _assert_bound

from baler_core.codec import CompressionOptions, compress_table, decompress
from baler_core.coding.column_choice import encode_best
from baler_core.coding.columns import decode_column, encode_column, short_step
from baler_core.coding.error_bounds import BoundSpec, parse_bound
from baler_core.coding.quantization import residual_step
from baler_core.format.container import ContainerReader
from baler_core.models.relations import apply_relation, find_energy_relation, find_linear_relations
from baler_core.models.store import load_model
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset


def _table(n: int = 2000, seed: int = 1) -> pd.DataFrame:
    """make_jets plus per-species energies that sum to the energy, mostly-zero columns and a total."""
    df = make_jets(n, seed).drop(columns=["flag"])
    rng = np.random.default_rng(seed)
    e = df["energy"].to_numpy(np.float64)
    share = rng.dirichlet([2, 1, 1], n)
    share[rng.uniform(size=n) < 0.5, 2] = 0.0  # a species that is often absent
    share /= share.sum(axis=1, keepdims=True)
    for i, name in enumerate(["chE", "neE", "rareE"]):
        df[name] = (e * share[:, i]).astype(np.float32)
    df["nTotal"] = df["nCharged"] + df["nNeutral"]
    return df


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _table()


@pytest.fixture(scope="module")
def seq_model(table, tmp_path_factory):
    path = tmp_path_factory.mktemp("seq") / "seq.safetensors"
    bundle, _ = train_dataset(table, path, ModelConfig(model="sequential", latent_dim=8),
                              TrainConfig(epochs=15, batch_size=256, device="cpu", loss="l1"))
    return bundle


def test_relations_found_and_ordered(seq_model):
    rel = seq_model.record["relations"]
    assert rel["energy"]["kind"] == "energy" and rel["energy"]["inputs"] == ["pt", "eta", "mass"]
    assert "kind" not in rel["nTotal"] and set(rel["nTotal"]["inputs"]) == {"nCharged", "nNeutral"}
    cols = seq_model.columns
    for name, r in rel.items():  # every relation's inputs are reconstructed before it
        assert all(cols.index(i) < cols.index(name) for i in r["inputs"]), name
    assert seq_model.record["version"] == 2  # a nonlinear relation: older readers must refuse the model


def test_model_without_nonlinear_relation_stays_version_1(tmp_path):
    df = _table(600).drop(columns=["energy"])
    bundle, _ = train_dataset(df, tmp_path / "m.safetensors", ModelConfig(model="sequential", latent_dim=4),
                              TrainConfig(epochs=2, batch_size=256, device="cpu"))
    assert "energy" not in bundle.record["relations"] and bundle.record["version"] == 1
    assert load_model(tmp_path / "m.safetensors").record["version"] == 1


def test_energy_relation_needs_the_physics_to_hold():
    df = _table(800)
    names = list(df.columns)
    found = find_energy_relation(df.to_numpy(np.float64), names)
    assert found is not None and found[0] == "energy"
    pred = apply_relation(found[1], {c: df[c].to_numpy() for c in names})
    assert np.max(np.abs(pred / df["energy"].to_numpy(np.float64) - 1)) < 1e-6
    broken = df.copy()
    broken["energy"] *= np.random.default_rng(0).uniform(0.9, 1.1, len(df)).astype(np.float32)
    assert find_energy_relation(broken.to_numpy(np.float64), names) is None
    renamed = df.rename(columns={"pt": "jet_pt", "eta": "jet_eta", "mass": "jet_m", "energy": "jet_e"})
    got = find_energy_relation(renamed.to_numpy(np.float64), list(renamed.columns))
    assert got is not None and got[0] == "jet_e" and got[1]["inputs"] == ["jet_pt", "jet_eta", "jet_m"]


def test_linear_relation_keeps_an_input_of_each_relation(table):
    order, rel = find_linear_relations(table.to_numpy(np.float64), list(table.columns))
    assert sorted(order) == sorted(table.columns)
    assert "nTotal" in rel and "nCharged" not in rel and "nNeutral" not in rel
    assert sum(c in rel for c in ("energy", "chE", "neE", "rareE")) == 1  # one member of the energy sum


def test_relation_derives_its_largest_member_outside_keep():
    """A sum found on its smallest member derives the largest one instead (its prediction's error is the
    smallest relative to its values), never a column in ``keep``, with only the relation's members as inputs."""
    rng = np.random.default_rng(3)
    n = 3000
    big, mid, small = rng.uniform(50, 100, n), rng.uniform(5, 10, n), rng.uniform(0, 1, n)
    noise = rng.normal(size=n)
    x = np.column_stack([noise, big + mid + small, mid, big, small])
    names = ["noise", "total", "mid", "big", "small"]
    _, rel = find_linear_relations(x, names)
    assert list(rel) == ["total"] and sorted(rel["total"]["inputs"]) == ["big", "mid", "small"]
    _, rel = find_linear_relations(x, names, keep=("total",))
    assert list(rel) == ["big"] and sorted(rel["big"]["inputs"]) == ["mid", "small", "total"]
    pred = apply_relation(rel["big"], dict(zip(names, x.T)))
    assert np.max(np.abs(pred - big)) < 1e-9 * 100
    _, rel = find_linear_relations(x, names, keep=("total", "big", "mid", "small"))
    assert rel == {}


def test_relations_found_later_keep_those_found_earlier():
    """A member derived from a relation found late may be an input of one found earlier: both are kept, in an
    order that rebuilds every input first, and a tiny but exact term is not dropped."""
    rng = np.random.default_rng(4)
    a, b = rng.uniform(0, 1, 400), rng.uniform(0, 1, 400)
    order, rel = find_linear_relations(np.column_stack([100 * a + b, a, 10 * a, b]), ["s", "a", "t", "b"])
    assert len(rel) == 2
    for name, r in rel.items():
        assert all(order.index(i) < order.index(name) for i in r["inputs"]), name
    big, mid, tiny = rng.uniform(50, 100, 2000), rng.uniform(5, 10, 2000), rng.uniform(0, 2e-3, 2000)
    x = np.column_stack([big, mid, tiny, big + mid + tiny])
    for keep in ((), ("total",)):
        _, rel = find_linear_relations(x, ["big", "mid", "tiny", "total"], keep=keep)
        (r,) = rel.values()
        assert "tiny" in r["inputs"] and r["rel_rms"] < 1e-12


@pytest.mark.parametrize("spec", ["abs=1e-3", "rel=1e-3"])
def test_constant_and_tiny_columns_are_no_relations(tmp_path, spec):
    """A column constant up to one rounding, or below ~1e-162 (its square underflows), fits "a relation" with no
    inputs; it must stay an ordinary column so that compression works and keeps the bound."""
    rng = np.random.default_rng(0)
    c = np.full(1000, 0.3)
    c[::7] = 0.1 + 0.2  # 0.30000000000000004
    df = pd.DataFrame({"a": rng.normal(size=1000), "c": c, "tiny": rng.normal(size=1000) * 1e-200})
    _, rel = find_linear_relations(df.to_numpy(), list(df.columns))
    assert all(r["inputs"] for r in rel.values()), rel
    bundle, _ = train_dataset(df, tmp_path / "m.safetensors", ModelConfig(model="sequential", latent_dim=4),
                              TrainConfig(epochs=1, device="cpu", batch_size=256, loss="l1"))
    bound = parse_bound(spec)
    compress_table([df], bundle, tmp_path / "x.baler", CompressionOptions(BoundSpec(bound)))
    rec = decompress(tmp_path / "x.baler", bundle)
    for col in df.columns:
        _assert_bound(df[col].to_numpy(), rec[col].to_numpy(), bound)


def test_energy_kept_and_the_largest_species_derived(seq_model):
    """Energy comes from pt, eta and mass; the sum of species energies then derives the largest species."""
    rel = seq_model.record["relations"]
    assert rel["energy"]["kind"] == "energy"
    assert "chE" in rel and sorted(rel["chE"]["inputs"]) == ["energy", "neE", "rareE"]


@pytest.mark.parametrize("spec", ["range=1e-3", "rel=4.9e-4", "rel=1e-2", "abs=0.05"])
def test_sequential_bounds_hold_on_every_value(table, seq_model, tmp_path, spec):
    out = tmp_path / "t.baler"
    bound = parse_bound(spec)
    compress_table([table], seq_model, out, CompressionOptions(BoundSpec(bound)))
    rec = decompress(out, seq_model)
    assert list(rec.columns) == list(table.columns)
    for c in table.columns:
        x, y = table[c].to_numpy(), rec[c].to_numpy()
        assert y.dtype == x.dtype, c
        xf, yf = x.astype(np.float64), y.astype(np.float64)
        if c in ("nCharged", "nNeutral", "nTotal"):
            assert np.array_equal(x, y), c
        elif bound.kind == "range":
            assert np.max(np.abs(xf - yf)) <= bound.value * np.ptp(xf), c
        elif bound.kind == "abs":
            assert np.max(np.abs(xf - yf)) <= bound.value, c
        else:
            assert np.all(np.abs(xf - yf) <= bound.value * np.abs(xf)), c
    if bound.kind == "rel":  # a relative bound keeps zeros exactly
        assert np.array_equal(rec["rareE"].to_numpy() == 0, table["rareE"].to_numpy() == 0)


def test_dithered_residuals_split_by_their_dither_position(table, seq_model, tmp_path):
    """Dithered columns' residual streams are split by where the prediction falls on the dithered grid
    (``contexts.choose``), alone or refining a split by an earlier column, and the file decodes within its bound."""
    out, spec = tmp_path / "t.baler", "range=1e-3"
    header = compress_table([table], seq_model, out, CompressionOptions(BoundSpec(parse_bound(spec))))
    items = [item for rec in header["blocks"][0]["columns"] for item in rec.get("ctx", [])]
    assert any(item.get("dither") in ("phase", "position") for item in items), items
    back = decompress(out, seq_model)
    for c in table.columns:
        _assert_bound(table[c].to_numpy(), back[c].to_numpy(), parse_bound(spec))


def test_energy_costs_little_with_its_relation(table, seq_model, tmp_path):
    out = tmp_path / "t.baler"
    compress_table([table], seq_model, out, CompressionOptions(BoundSpec(parse_bound("rel=4.9e-4"))))
    sections = ContainerReader(out).header["sections"]
    size = {c: sum(v[1] for k, v in sections.items() if k.split("/")[1] == c) for c in table.columns}
    assert size["energy"] * 4 < size["pt"]  # pt costs ~12 bits a value, energy from pt, eta, mass ~1.5


def _roundtrip_column(x, pred, spec, dec_pred=None, dither=True):
    bound = parse_bound(spec)
    rec, streams, out = encode_best(x, pred, bound, CompressionOptions(BoundSpec(bound), dither=dither))
    got = decode_column(rec, streams.__getitem__, len(x), pred if dec_pred is None else dec_pred, x.dtype)
    assert np.array_equal(got, out)
    return rec, streams, got


@pytest.mark.parametrize("dither", [True, False])
def test_repeated_values_coded_on_the_grid(dither):
    """A column of mostly exact zeros with a prediction that wanders around zero: the aligned mode keeps
    the zeros on the grid (dithered: the column minimum is the grid's undithered index 0), so the residual
    stream is far smaller than with plain residuals."""
    rng = np.random.default_rng(0)
    x = np.where(rng.uniform(size=20000) < 0.9, 0.0, rng.exponential(10, 20000)).astype(np.float32)
    pred = np.where(x == 0, rng.uniform(-0.004, 0.004, x.size), x * (1 + rng.normal(0, 3e-3, x.size)))
    rec, streams, got = _roundtrip_column(x, pred, "range=1e-3", dither=dither)
    assert rec["mode"] == ("dalin" if dither else "alin") and ("dither" in rec) == dither
    plain = encode_column(x, pred, parse_bound("range=1e-3"), "auto", 9, dither=dither)[1]
    assert sum(map(len, streams.values())) < sum(map(len, plain.values()))
    assert np.all(got[x == 0] == 0)
    assert np.abs(got.astype(np.float64) - x).max() <= 1e-3 * np.ptp(x)


@pytest.mark.parametrize("spec", ["range=1e-3", "rel=1e-3"])
def test_useless_prediction_replaced_by_a_constant(spec):
    rng = np.random.default_rng(1)
    x = rng.normal(5, 1, 20000).astype(np.float32)
    rec, _, got = _roundtrip_column(x, rng.normal(0, 100, x.size), spec)
    assert "pred" in rec and rec["mode"] == ("dalin" if spec.startswith("range") else "dalog") and "dither" in rec
    err = np.abs(got.astype(np.float64) - x)
    assert np.all(err <= 1e-3 * (np.ptp(x.astype(np.float64)) if spec.startswith("range") else np.abs(x)))


@pytest.mark.parametrize("spec", ["range=1e-3", "rel=1e-3", "int"])
def test_prediction_on_a_rounding_boundary_is_stored_exactly(spec):
    """A decoder elsewhere may compute the prediction an ulp apart. Values whose prediction sits on a rounding
    boundary are stored exactly, so such a decoder still rebuilds every value within the bound."""
    rng = np.random.default_rng(2)
    if spec == "int":
        x = rng.integers(0, 50, 5000).astype(np.float32)
        pred, step, spec = x.astype(np.float64) + 0.5, 1.0, "range=1e-3"
    else:
        x = rng.uniform(1, 2, 5000).astype(np.float32)
        if spec.startswith("range"):  # the coder's step: residual_step, rounded down to six digits
            step = short_step(residual_step("range", 1e-3, float(np.ptp(x.astype(np.float64)))))
        else:
            step = short_step(residual_step("rel", 1e-3, 0.0))
        xf = x.astype(np.float64)
        k = np.rint(xf / step) if spec.startswith("range") else np.rint(np.log(xf) / step)
        u = k + 0.5  # the prediction's index exactly half-way between two grid points
        pred = u * step if spec.startswith("range") else np.exp(u * step)
    bound = parse_bound(spec)
    rec, streams, out = encode_column(x, pred, bound, "auto", 9, aligned=x.dtype.kind == "f" and step != 1.0)
    if step != 1.0 and spec.startswith("range"):
        assert rec.get("n_exceptions", 0) >= 4000  # nearly every prediction sits on a boundary here
    elif step == 1.0:
        assert rec["mode"] == "int" and rec["n_exceptions"] == x.size
    for direction in (np.inf, -np.inf):  # the decoder's prediction one ulp off, either way
        got = decode_column(rec, streams.__getitem__, x.size, np.nextafter(pred, direction), x.dtype)
        if rec["mode"] == "int":
            assert np.array_equal(got, x)
        else:
            assert np.max(np.abs(got.astype(np.float64) - x) / (x if spec.startswith("rel") else np.ptp(x))) <= 1e-3


def test_auto_order_puts_counts_before_columns_with_zeros(seq_model):
    cols = seq_model.columns
    assert cols.index("nCharged") < cols.index("frac") and cols.index("nNeutral") < cols.index("rareE")
    assert cols.index("pt") < cols.index("nCharged")  # floats without zeros come first


def test_given_order_is_kept_and_unknown_order_refused(tmp_path):
    from baler_core.errors import InputError
    from baler_core.models.relations import coding_order

    df = _table(600)
    assert coding_order(df.to_numpy(np.float64), list(df.columns))[:5] == ["pt", "eta", "phi", "mass", "energy"]
    bundle, _ = train_dataset(df, tmp_path / "g.safetensors", ModelConfig(model="sequential", latent_dim=4,
                                                                          order="given", relations=False),
                              TrainConfig(epochs=1, batch_size=256, device="cpu"))
    assert bundle.columns == list(df.columns)
    with pytest.raises(InputError, match="order"):
        train_dataset(df, tmp_path / "b.safetensors", ModelConfig(model="sequential", order="random"),
                      TrainConfig(epochs=1, device="cpu"))


def test_zero_flags_split_by_a_count(tmp_path):
    """An energy that is zero exactly when its count is: under a relative bound its zero flags are coded in
    groups by the count, which makes them nearly free, and every zero comes back exactly."""
    rng = np.random.default_rng(5)
    n = 20000
    count = rng.poisson(0.7, n).astype(np.float32)
    df = pd.DataFrame({"pt": rng.gamma(3, 20, n).astype(np.float32), "count": count,
                       "e": np.where(count > 0, rng.gamma(2, 5, n), 0).astype(np.float32)})
    bundle, _ = train_dataset(df, tmp_path / "z.safetensors", ModelConfig(model="sequential", latent_dim=4),
                              TrainConfig(epochs=2, batch_size=1024, device="cpu"))
    out = tmp_path / "z.baler"
    header = compress_table([df], bundle, out, CompressionOptions(BoundSpec(parse_bound("rel=1e-3"))))
    rec = dict(zip([c["name"] for c in header["columns"]], header["blocks"][0]["columns"]))["e"]
    assert rec["zero_ctx"][0]["col"] == "count"
    sections = ContainerReader(out).header["sections"]
    assert sum(v[1] for k, v in sections.items() if k.startswith("b0/e/zero@")) < 100  # 20,000 flags
    back = decompress(out, bundle)
    np.testing.assert_array_equal(back["e"].to_numpy() == 0, df["e"].to_numpy() == 0)
    assert np.all(np.abs(back["e"].to_numpy(np.float64) - df["e"]) <= 1e-3 * np.abs(df["e"].to_numpy(np.float64)))


def test_boundary_guard_scales_with_large_predictions():
    """Event numbers near 1e10: one ulp of the prediction is about 2e-6, above a fixed 1e-6 margin. The guard's
    margin grows with the index, so a decoder whose prediction is an ulp off still rebuilds every value."""
    rng = np.random.default_rng(6)
    x = (10**10 + rng.integers(0, 10**6, 1000)).astype(np.int64)
    enc_pred = np.nextafter(x.astype(np.float64) + 0.5, np.inf)
    rec, streams, out = encode_column(x, enc_pred, parse_bound("range=1e-3"), "auto", 9)
    assert rec["mode"] == "int" and np.array_equal(out, x)
    got = decode_column(rec, streams.__getitem__, x.size, x.astype(np.float64) + 0.5, x.dtype)
    np.testing.assert_array_equal(got, x)


def test_model_free_integer_columns_need_no_exceptions(tmp_path):
    """A constant prediction stored in the file is read back bit for bit: no value is stored as an exception
    even when the constant sits half-way between two integers."""
    n = 5000
    df = pd.DataFrame({"k": np.arange(n) % 8, "flag": np.arange(n) % 3 == 0,
                       "x": np.where(np.arange(n) % 50 == 0, np.nan, np.arange(n, dtype=np.float64) % 7)})
    out = tmp_path / "i.baler"
    header = compress_table([df], None, out, CompressionOptions(BoundSpec(parse_bound("range=1e-3"))))
    assert all(r.get("n_exceptions", 0) == 0 for r in header["blocks"][0]["columns"][:2])
    back = decompress(out)
    for c in ("k", "flag"):
        np.testing.assert_array_equal(back[c].to_numpy(), df[c].to_numpy())


def test_values_near_the_float64_maximum_compress(tmp_path, seq_model):
    df = pd.DataFrame({"big": np.linspace(1e308, 1.7e308, 2000), "z": np.r_[np.nan, np.ones(1999)]})
    out = tmp_path / "b.baler"
    compress_table([df], None, out, CompressionOptions(BoundSpec(parse_bound("range=1e-3"))))
    back = decompress(out)
    assert np.all(np.abs(back["big"].to_numpy() - df["big"].to_numpy()) <= 1e-3 * 0.7e308)


def _responses(orig: pd.DataFrame, rec: pd.DataFrame) -> dict[str, tuple[float, float]]:
    out = {}
    for c in orig.columns:
        x, y = orig[c].to_numpy(np.float64), rec[c].to_numpy(np.float64)
        nz = x != 0
        r = (y[nz] - x[nz]) / x[nz]
        out[c] = (float(np.sqrt(np.mean(r**2))), float(np.mean(r)))
    return out


@pytest.mark.parametrize("model", ["sequential", "none"])
def test_rms_target_holds_on_every_column(table, seq_model, tmp_path, model):
    """rms=1e-2, the Baler study's quality: every float column's response RMS <= 1e-2 and |mean| <= 1e-3 on
    the real values, counts and zeros exact."""
    bundle = seq_model if model == "sequential" else None
    out = tmp_path / "q.baler"
    compress_table([table], bundle, out, CompressionOptions(BoundSpec(parse_bound("rms=1e-2"))))
    rec = decompress(out, bundle)
    for c, (rms, mean) in _responses(table, rec).items():
        assert rms <= 1e-2 and abs(mean) <= 1e-3, (c, rms, mean)
    for c in ("nCharged", "nNeutral", "nTotal"):
        assert np.array_equal(rec[c].to_numpy(), table[c].to_numpy())
    assert np.array_equal(rec["rareE"].to_numpy() == 0, table["rareE"].to_numpy() == 0)


def test_rms_target_tightens_where_errors_are_not_uniform():
    """A prediction whose error is a little wider than the grid's step folds the errors towards the edges of
    the bound: the plain relative bound sqrt(3) T then misses an RMS of T, the rms target does not."""
    from baler_core.coding.error_bounds import Bound
    from baler_core.coding.rms import encode_rms

    rng = np.random.default_rng(7)
    x = rng.uniform(1, 10, 20000)
    h = np.sqrt(3) * 1e-2 * 0.999
    pred = x * np.exp(rng.uniform(-1.1, 1.1, x.size) * h)
    code = lambda b: encode_column(x, pred, b, "auto", 9)  # noqa: E731
    plain = code(Bound("rel", h))[2]
    assert np.sqrt(np.mean(((plain - x) / x) ** 2)) > 1e-2
    rec, _, got = encode_rms(x, Bound("rms", 1e-2), code)
    r = (got - x) / x
    assert np.sqrt(np.mean(r**2)) <= 1e-2 and abs(r.mean()) <= 1e-3
    assert rec["step"] / 2 > 0.8 * h  # tightened a little, not the last resort (a bound of T/10)


def test_rms_target_is_for_tables(tmp_path):
    from baler_core.codec import compress_field
    from baler_core.errors import InputError

    with pytest.raises(InputError, match="rms="):
        compress_field(np.ones((2, 4, 4), np.float32), None, tmp_path / "f.baler",
                       CompressionOptions(BoundSpec(parse_bound("rms=1e-2"))))
    for bad in ("rms=0.7", "rms=-1", "rms=x"):
        with pytest.raises(InputError):
            parse_bound(bad)


def test_embedded_decoder_never_costs_more_than_no_model(table, seq_model, tmp_path):
    """With the decoder in the file, a one-block table is also coded without a model and the smaller file
    kept: on 300 rows the decoder outweighs what the model saves. Larger inputs stream as before."""
    bound = BoundSpec(parse_bound("rel=1e-3"))
    embed = CompressionOptions(bound, embed_decoder=True)
    for n in (300, len(table)):
        t = table.iloc[:n].reset_index(drop=True)
        compress_table([t.iloc[: n // 2], t.iloc[n // 2 :]], seq_model, tmp_path / "e.baler", embed)
        compress_table([t], seq_model, tmp_path / "m.baler", embed, _compare=False)
        compress_table([t], None, tmp_path / "g.baler", CompressionOptions(bound))
        size = {k: (tmp_path / f"{k}.baler").stat().st_size for k in "emg"}
        assert size["e"] == min(size["m"], size["g"]), (n, size)
        if n == 300:
            assert size["g"] < size["m"]  # the case this exists for
        rec = decompress(tmp_path / "e.baler")  # self-contained either way
        for c in ("pt", "energy", "rareE"):
            x, y = t[c].to_numpy(np.float64), rec[c].to_numpy(np.float64)
            assert np.all(np.abs(y - x) <= 1e-3 * np.abs(x)), c
        assert not list(tmp_path.glob("*.part"))
    blocks = CompressionOptions(bound, embed_decoder=True, block_rows=500)  # several blocks: no comparison
    h = compress_table(iter([table.iloc[:1000], table.iloc[1000:]]), seq_model, tmp_path / "b.baler", blocks)
    assert len(h["blocks"]) == 4 and h["model"]["embedded"]
    np.testing.assert_array_equal(decompress(tmp_path / "b.baler")["nTotal"].to_numpy(), table["nTotal"].to_numpy())


def test_model_blocks_in_threads_give_the_same_file_and_values(table, seq_model, tmp_path):
    """Blocks of a model-coded table code and decode in parallel threads: the file is byte for byte the one a
    single thread writes (the blocks' sections in block order, the header the same), and so are the values;
    the decoder recorded in the header is the model's."""
    files = {}
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.baler"
        opts = CompressionOptions(BoundSpec(parse_bound("range=1e-3")), block_rows=300, threads=threads)
        compress_table([table], seq_model, out, opts)
        files[threads] = out
    assert files[1].read_bytes() == files[2].read_bytes()
    with ContainerReader(files[2]) as rd:
        assert len(rd.header["blocks"]) == -(-len(table) // 300)
        assert rd.header["model"]["decoder_bytes"] == len(seq_model.decoder_blob())
    one, two = decompress(files[1], seq_model, threads=1), decompress(files[2], seq_model, threads=2)
    pd.testing.assert_frame_equal(one, two)
    for c in table.columns:
        _assert_bound(table[c].to_numpy(), two[c].to_numpy(), parse_bound("range=1e-3"))
