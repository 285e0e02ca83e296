import numpy as np
import pytest
import torch

from baler_core.errors import InputError
from baler_core.models import build_model, latent_dim_for_ratio
from baler_core.prep.normalization import Normalizer, fit_normalizer


@pytest.mark.parametrize("hw", [(37, 53), (16, 16), (1, 1), (65, 7)])
def test_conv_shapes_any_size(hw):
    m = build_model("conv2d", {"latent_channels": 3, "channels": [8, 8, 8]})
    x = torch.randn(2, *hw)
    out = m(x)
    assert out["x_hat"].shape == x.shape
    assert out["latent"].shape[1:] == m.latent_shape(*hw)
    assert out["x_hat"].dtype == torch.float32


def test_dense_shapes_and_registry():
    m = build_model("dense", {"n_features": 24, "latent_dim": 15})  # the original Baler shape
    assert [l.out_features for l in m.encoder if isinstance(l, torch.nn.Linear)] == [200, 100, 50, 15]
    assert m(torch.randn(5, 24))["x_hat"].shape == (5, 24)
    assert all(p.dtype == torch.float32 for p in m.parameters())
    with pytest.raises(InputError, match="unknown"):
        build_model("transformer", {})
    with pytest.raises(InputError, match="bad arguments"):
        build_model("dense", {"n_features": 3, "latent": 2})


def test_latent_for_ratio():
    assert latent_dim_for_ratio(24, 2.0, 16) == 24
    assert latent_dim_for_ratio(24, 4.0, 12) == 16


def test_normalization_inverse_and_constant_columns():
    rng = np.random.default_rng(0)
    x = np.stack([rng.lognormal(3, 1.5, 500), rng.normal(0, 2, 500), np.full(500, 7.0)], axis=1)
    for method in ("minmax", "standard"):
        n = fit_normalizer(x, ["pt", "eta", "c"], method, "auto")
        assert n.columns[0].log and not n.columns[1].log
        y = n.transform(x)
        assert y.dtype == np.float32 and np.all(np.isfinite(y))
        np.testing.assert_allclose(n.inverse(y), x, rtol=2e-5, atol=1e-5)
        n2 = Normalizer.from_dict(n.to_dict())
        np.testing.assert_array_equal(n2.transform(x), y)


def test_normalization_is_not_refitted():
    x = np.arange(10.0).reshape(-1, 1)
    n = fit_normalizer(x, ["a"], "minmax", None)
    y = n.transform(np.array([[100.0]]))
    assert y[0, 0] == pytest.approx(100 / 9)  # uses the training range, not the new data's


def test_nonfinite_values_do_not_poison_fit():
    x = np.array([[1.0], [np.nan], [3.0], [np.inf]])
    n = fit_normalizer(x, ["a"], "minmax", None)
    assert n.columns[0].offset == 1.0 and n.columns[0].scale == 2.0
    assert np.all(np.isfinite(n.transform(x)))
