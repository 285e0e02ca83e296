"""The sequential model's compiled column heads (``coding.mlp_kernels``): the same predictions as torch to a few
ulps for every activation and depth, a GELU within 2e-16 of the exact one, and files that decode to the same
values whichever side (kernel or torch) coded and decoded them."""

import math

import numpy as np
import pytest
import torch
from test_codec import _assert_bound

from baler_core.codec import CompressionOptions, compress_table, decompress
from baler_core.codec.inference import compiled_heads, float64_decoder
from baler_core.coding import jit
from baler_core.coding.error_bounds import load_bound_spec, parse_bound
from baler_core.models.sequential import SequentialPredictor
from baler_core.models.store import load_model

kernels = jit.module("mlp_kernels")
pytestmark = pytest.mark.skipif(kernels is None, reason="numba is not installed")


@pytest.mark.parametrize("act", ["gelu", "relu", "leaky_relu", "tanh"])
@pytest.mark.parametrize(("depth", "hidden", "context"), [(2, 8, True), (1, 5, True), (3, 16, False)])
def test_heads_match_torch(act, depth, hidden, context):
    torch.manual_seed(3)
    model = SequentialPredictor(9, hidden=hidden, depth=depth, context=context, activation=act).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(4.0)  # pre-activations well beyond the GELU table's +-8.5
    x = np.random.default_rng(0).normal(size=(700, 9)) * 3  # 700 rows: two full tiles and a short one
    name, slope = model.activation_name()
    assert name == act
    for j in range(9):
        k, *weights = model.head_arrays(j)
        out = np.full(700, np.nan)
        kernels.column_head(x, k, *weights, kernels.ACTIVATIONS[name], slope, kernels.PHI, out)
        ref = model.predict_column(j, torch.from_numpy(x)).detach().numpy()
        np.testing.assert_allclose(out, ref, rtol=1e-13, atol=1e-12 * max(1.0, float(np.max(np.abs(ref)))))


def test_gelu_table_is_exact_to_a_few_ulps():
    """Every interval's ends and middle, both signs, the table's edge and beyond it; infinities and NaN as torch."""
    edges = np.arange(-9.0, 9.0, 1 / 32)
    x = np.concatenate([edges, edges + 1e-9, [0.0, -0.0, 8.5, -8.5, -8.6, -40.0, 40.0, 1e300, -1e300]])
    exact = x * np.array([0.5 * math.erfc(-v / math.sqrt(2.0)) for v in x])
    got = x.copy()
    kernels.activate(got, kernels.ACTIVATIONS["gelu"], 0.0, kernels.PHI)
    err = np.abs(got - exact) / np.maximum(1.0, np.abs(x))
    assert float(np.max(err)) <= 4e-16, x[np.argmax(err)]
    special = np.array([np.inf, -np.inf, np.nan])
    ref = torch.nn.functional.gelu(torch.from_numpy(special)).numpy()
    kernels.activate(special, kernels.ACTIVATIONS["gelu"], 0.0, kernels.PHI)
    np.testing.assert_array_equal(special, ref)


def test_tanh_approximated_gelu_stays_with_torch():
    model = SequentialPredictor(3, hidden=4)
    model.act = torch.nn.GELU(approximate="tanh")
    assert model.activation_name() is None
    assert compiled_heads(model) is None


@pytest.mark.parametrize("spec", ["range=1e-3", "rel=1e-5"])
def test_files_decode_alike_with_kernels_or_torch(prior_models, prior_rows, tmp_path, monkeypatch, spec):
    """Coded with the kernels and decoded with torch, or the other way round: the same values, within the bound."""
    bundle = load_model(prior_models[0])
    rows = prior_rows.iloc[5000:].reset_index(drop=True)
    opts = CompressionOptions(load_bound_spec(spec))
    monkeypatch.setenv(jit.ENV, "on")
    monkeypatch.setattr(jit, "_active", True)
    assert compiled_heads(float64_decoder(bundle)) is not None  # the kernels do predict here
    compress_table([rows], bundle, tmp_path / "k.baler", opts)
    by_kernels = decompress(tmp_path / "k.baler", bundle)
    monkeypatch.setenv(jit.ENV, "off")
    assert compiled_heads(float64_decoder(bundle)) is None
    by_torch = decompress(tmp_path / "k.baler", bundle)
    compress_table([rows], bundle, tmp_path / "t.baler", opts)
    torch_file_by_torch = decompress(tmp_path / "t.baler", bundle)
    monkeypatch.setenv(jit.ENV, "on")
    torch_file_by_kernels = decompress(tmp_path / "t.baler", bundle)
    for col in rows.columns:
        a = by_kernels[col].to_numpy()
        np.testing.assert_array_equal(a, by_torch[col].to_numpy())
        np.testing.assert_array_equal(torch_file_by_kernels[col].to_numpy(), torch_file_by_torch[col].to_numpy())
        _assert_bound(rows[col].to_numpy(), a, parse_bound(spec))
        _assert_bound(rows[col].to_numpy(), torch_file_by_torch[col].to_numpy(), parse_bound(spec))
