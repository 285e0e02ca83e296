"""The transform coder's coefficient contexts (format 1.15, ``dct_ctx``): interpolated levels, every scheme
decoded alike by numpy and the compiled kernel within the bound, the smallest scheme kept, malformed counts and
records refused, and 1.14 blocks still read by both decoders."""

from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import map_coordinates

from baler_core.codec import decompress
from baler_core.coding import jit
from baler_core.coding.entropy import decode_ints, encode_ints
from baler_core.coding.error_bounds import Bound
from baler_core.coding.grid import decode_grid, encode_grid
from baler_core.coding.predictors import dct_contexts, dct_envelope
from baler_core.errors import FormatError
from baler_core.sim.cfd import simulate_decaying_turbulence

FIXTURES = Path(__file__).parent / "fixtures"


def _kernels():
    if jit.module("transform_kernels") is None:
        pytest.skip("numba is not installed")


@pytest.mark.parametrize("shape", [(7,), (40, 33), (5, 40, 33), (3, 20, 18, 9), (255, 128, 128), (1, 1, 9)])
def test_interpolated_levels_are_multilinear_between_block_centres(shape):
    """The exact integer interpolation equals scipy's linear interpolation (block centres, clamped at the edges)
    rounded, wherever that is not a tie."""
    rng = np.random.default_rng(len(shape))
    cut = tuple(-(-n // dct_envelope.ENV_BLOCKS) for n in shape)
    nbs = [-(-n // c) for n, c in zip(shape, cut)]
    lv = rng.integers(0, 101, size=int(np.prod(nbs)))
    got, counts = dct_contexts.interpolated_levels(lv, shape, cut)
    assert np.array_equal(counts, np.bincount(got, minlength=101))
    kernels = jit.module("transform_kernels")
    if kernels is not None:
        compiled = dct_contexts.interpolated_levels(lv, shape, cut, kernels)
        assert np.array_equal(compiled[0], got) and np.array_equal(compiled[1], counts)
    blocks, per_level = dct_contexts.levels_of(lv, shape, cut, 0)
    assert np.array_equal(per_level, np.bincount(blocks, minlength=101))
    coords = np.meshgrid(*[(np.arange(n) + 0.5) / c - 0.5 for n, c in zip(shape, cut)], indexing="ij")
    exact = map_coordinates(lv.reshape(nbs).astype(np.float64), [c.ravel() for c in coords], order=1, mode="nearest")
    assert got.dtype == np.int16 and got.shape == exact.shape
    tie = np.abs(exact - np.floor(exact) - 0.5) < 1e-9
    assert np.array_equal(got[~tie], np.rint(exact[~tie]))
    assert np.array_equal(got[tie], np.floor(exact[tie]) + 1)  # half up
    assert got.min() >= 0 and got.max() <= 100


def _field(shape, seed=0):
    rng = np.random.default_rng(seed)
    return (np.cumsum(np.cumsum(rng.normal(size=shape), axis=-1), axis=0) * 3 + 100).astype(np.float32)


@pytest.mark.parametrize("scheme", [(0, 0), (0, 1), (3, 0), (3, 1), (1, 0), (15, 1)])
@pytest.mark.parametrize("shape", [(600,), (3, 17, 4), (2, 70, 130), (4, 3, 20, 18), (1, 1, 9)])
def test_every_scheme_decodes_alike_by_numpy_and_the_kernel(monkeypatch, scheme, shape):
    _kernels()
    field = _field(shape)
    monkeypatch.setattr(dct_contexts, "SCHEMES", (scheme,))
    monkeypatch.setattr(jit, "_active", False)
    rec, streams = encode_grid(field.ravel(), Bound("range", 1e-3), "ans", 3, field.shape, ("dct",))
    assert rec["dct_ctx"] == list(scheme)
    assert not any(k[1:].isdigit() for k in streams if k.startswith("c"))  # no 1.14 name: old readers refuse
    assert ("cn" in streams) is (scheme[0] > 0)
    got = {}
    for active in (False, True):
        monkeypatch.setattr(jit, "_active", active)
        got[active] = decode_grid(rec, streams.__getitem__, field.size, field.dtype)
    assert np.array_equal(got[False].view(np.uint32), got[True].view(np.uint32))
    span = float(field.max()) - float(field.min())
    assert np.abs(got[True].astype(np.float64) - field.ravel()).max() <= 1e-3 * span


def test_the_smallest_scheme_is_kept():
    """Decaying turbulence (frames along axis 0: the coefficients' magnitudes follow their neighbours in
    temporal frequency) keeps a context; under entropy auto the kept streams, coded, are no larger than those of
    any scheme the search tried (both levels without contexts, and the kept levels with them)."""
    field = simulate_decaying_turbulence(n_frames=64, size=48, seed=1).astype(np.float32)
    rec, streams = _with_scheme(field, None, "auto")
    kept = sum(len(v) for k, v in streams.items() if k.startswith("cc") or k == "cn")
    cap, interp = rec["dct_ctx"]
    assert cap > 0
    for scheme in [(0, 0), (0, 1), (cap, interp)]:
        _, streams2 = _with_scheme(field, scheme, "auto")
        other = sum(len(v) for k, v in streams2.items() if k.startswith("cc") or k == "cn")
        assert kept <= other, (rec["dct_ctx"], scheme, kept, other)


def _with_scheme(field, scheme, entropy="ans"):
    saved = dct_contexts.SCHEMES
    dct_contexts.SCHEMES = saved if scheme is None else (scheme,)
    try:
        return encode_grid(field.ravel(), Bound("range", 1e-4), entropy, 3, field.shape, ("dct",))
    finally:
        dct_contexts.SCHEMES = saved


@pytest.mark.parametrize("active", [False, True])
def test_malformed_contexts_are_refused(monkeypatch, active):
    _kernels()
    field = _field((6, 24, 20), seed=2)
    rec, streams = _with_scheme(field, (3, 1))
    monkeypatch.setattr(jit, "_active", active)
    for bad in ([3], [3, 2], [16, 0], [-1, 0], [True, 0], "3,1", [3.0, 1], [3, 1, 0]):
        with pytest.raises(FormatError, match="dct_ctx"):
            decode_grid({**rec, "dct_ctx": bad}, streams.__getitem__, field.size, field.dtype)
    nctx = 4
    cn = decode_ints(streams["cn"], _n_counts(streams, field.shape, nctx))
    wrong_sum = cn.copy()
    wrong_sum[0] += 1
    with pytest.raises(FormatError, match="counts disagree with the envelope"):
        decode_grid(rec, {**streams, "cn": encode_ints(wrong_sum, "ans", 3)}.__getitem__, field.size, field.dtype)
    # the same totals per level, one coefficient moved to another context: its run ends before its coefficients
    moved = cn.reshape(-1, nctx).copy()
    row = int(np.flatnonzero((moved > 0).sum(axis=1) >= 2)[0])
    a, b = np.flatnonzero(moved[row])[:2]
    moved[row, a] -= 1
    moved[row, b] += 1
    with pytest.raises(FormatError, match="damaged"):  # the streams' own lengths disagree
        decode_grid(rec, {**streams, "cn": encode_ints(moved.ravel(), "ans", 3)}.__getitem__, field.size,
                    field.dtype)
    # streams recoded to the moved counts: the ungrouping finds a context's run too short
    level = int(np.flatnonzero(np.bincount(_levels(streams, field.shape)))[row])
    ka, kb = f"cc{level * nctx + a}", f"cc{level * nctx + b}"
    va = decode_ints(streams[ka], int(cn.reshape(-1, nctx)[row, a]))
    vb = decode_ints(streams[kb], int(cn.reshape(-1, nctx)[row, b]))
    recoded = {**streams, "cn": encode_ints(moved.ravel(), "ans", 3), ka: encode_ints(va[:-1], "ans", 3),
               kb: encode_ints(np.append(vb, va[-1]), "ans", 3)}
    with pytest.raises(FormatError, match="disagree with the coefficients' contexts"):
        decode_grid(rec, recoded.__getitem__, field.size, field.dtype)


def _levels(streams, shape):
    cut = tuple(-(-n // dct_envelope.ENV_BLOCKS) for n in shape)
    lv = decode_ints(streams["env"], int(np.prod([-(-n // c) for n, c in zip(shape, cut)])))
    return dct_contexts.interpolated_levels(lv, shape, cut)[0]


def _n_counts(streams, shape, nctx):
    return int(np.count_nonzero(np.bincount(_levels(streams, shape)))) * nctx


@pytest.mark.parametrize("name", ["field-none", "field3d-none"])
def test_format_114_blocks_decode_alike_by_numpy_and_the_kernel(monkeypatch, name):
    """1.14 ``dct`` blocks (streams ``c<level>``) still decode, by the compiled ungrouping too."""
    _kernels()
    path = FIXTURES / "format-1.14" / f"{name}.baler"
    got = {}
    for active in (False, True):
        monkeypatch.setattr(jit, "_active", active)
        got[active] = np.asarray(decompress(path))
    assert np.array_equal(got[False], got[True])
    assert np.array_equal(got[True], np.load(path.with_suffix(".npy")))


@pytest.mark.parametrize("active", [False, True])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_samples_levels_weigh_their_plain_groups_from_the_contexts_histograms(monkeypatch, active, seed):
    """A large block whose sample kept its levels without contexts weighs those plain groups against the context
    groups by histograms merged from the contexts' (no second grouping): the same choice and the same streams
    as grouping the plain levels to estimate them, with and without the kernels."""
    if active:
        _kernels()
    monkeypatch.setattr(jit, "_active", active)
    rng = np.random.default_rng(seed)
    shape = (24, 32, 30)
    # coefficients whose magnitude follows the one a plane before (what the contexts read); seed 3's groups so
    # wide that hybrid tokens are tried (their estimate needs the values, in order: they are picked)
    q = np.round(rng.laplace(0, 1, shape) * np.exp(np.cumsum(rng.normal(0, 0.2, shape), axis=0)))
    q = np.clip(q, -3000 if seed == 3 else -15, 3000 if seed == 3 else 15).astype(np.int32).ravel()
    cut = tuple(int(c) for c in dct_envelope.envelope_cut(shape))
    lv = rng.integers(0, 12, int(np.prod([-(-n // c) for n, c in zip(shape, cut)])))
    kernels = jit.module("transform_kernels") if active else None
    got = []
    for merged in (True, False):  # then the plain groups grouped and estimated themselves
        if not merged:
            monkeypatch.setattr(dct_contexts, "SCHEMES", ((0, 1), (3, 1)))
        scheme, streams = dct_contexts.coefficient_streams(q, lv, shape, cut, "ans", 3, kernels,
                                                           (0, 1) if merged else None)
        got.append((scheme, {k: v.size() for k, v in streams.items()}))
    assert got[0] == got[1]
