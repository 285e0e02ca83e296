"""Model-resident priors (issue 22): tables fitted once on the training rows, carried in the decoder, used by
every small file where they are smaller than the file's own tables."""

import json
import subprocess

import numpy as np
import pytest
from test_codec import _assert_bound
from test_sequential import _table

from baler_core.codec import CompressionOptions, compress_table, decompress
from baler_core.codec.decompress import merge_inner
from baler_core.codec.priors import bound_key, fit_priors, prior_set
from baler_core.coding import prior_tables
from baler_core.coding.entropy import decode_ints
from baler_core.coding.error_bounds import load_bound_spec, parse_bound
from baler_core.errors import FormatError, InputError, ModelMismatchError
from baler_core.format.container import VERSION, ContainerReader
from baler_core.models.store import load_model, save_record
from baler_core.training.loop import TrainConfig
from baler_core.training.train import ModelConfig, train_dataset

SPECS = ("range=1e-3", "rel=1e-3")


@pytest.fixture(scope="module")
def rows(prior_rows):
    return prior_rows


@pytest.fixture(scope="module")
def models(prior_models):
    """(plain, with priors): conftest's prior_models."""
    return prior_models


def _files(rows, n=4):
    held = rows.iloc[5000:].reset_index(drop=True)
    size = len(held) // n
    return [held.iloc[i * size : (i + 1) * size].reset_index(drop=True) for i in range(n)]


def test_prior_section_round_trip_and_estimate():
    """Several streams of a block in one section, each with its own shift, read back in order; each stream's
    estimate is what it adds to the section within a few bytes."""
    rng = np.random.default_rng(0)
    shapes = ((0, 0.7), (3, 6), (-40, 400))
    tables = [prior_tables.fit_table(np.rint(rng.laplace(c, s, 4000)).astype(np.int64)) for c, s in shapes]
    streams = []
    for shift, sizes in ((0, (900, 0, 1500)), (5, (10, 20, 30)), (-7, (0, 0, 0))):
        streams.append(([np.rint(rng.laplace(c, s, n)).astype(np.int64) + shift for (c, s), n in zip(shapes, sizes)],
                        shift))
    w = prior_tables.BlockWriter()
    for parts, shift in streams:
        w.add(parts, tables, shift)
    blob = w.finish()
    est = sum(prior_tables.estimate(parts, tables, shift) for parts, shift in streams)
    assert abs(len(blob) - est) <= 8 + len(streams)
    r = prior_tables.BlockReader(blob, len(streams))
    for parts, _ in streams:
        back = r.read([p.size for p in parts], tables)
        assert all(np.array_equal(a, b) for a, b in zip(back, parts))
    r.finish()
    far = [streams[0][0][0], streams[0][0][1], np.array([10**12])]  # beyond the last table's margin
    assert prior_tables.estimate(far, tables) is None


def test_prior_section_damage_is_refused():
    tables = [prior_tables.fit_table(np.arange(-50, 50))]
    w = prior_tables.BlockWriter()
    w.add([np.arange(-50, 50)], tables, 0)
    blob = w.finish()
    for bad, streams in ((blob[:-5], 1), (blob + b"\0", 1), (blob, 2)):
        with pytest.raises(FormatError):
            r = prior_tables.BlockReader(bad, streams)
            for _ in range(streams):
                r.read([100], tables)
            r.finish()
    with pytest.raises(FormatError, match="prior"):  # a prior section read as an integer stream
        decode_ints(blob, 100)
    with pytest.raises(FormatError):
        prior_tables.PriorTable.from_dict({"center": True, "q": [1, 2]}, "test")
    with pytest.raises(FormatError):
        prior_tables.PriorTable.from_dict({"center": 0, "q": [0, 999]}, "test")


@pytest.mark.parametrize("spec", SPECS)
def test_small_files_use_the_priors_and_keep_the_bound(rows, models, tmp_path, spec):
    plain, with_priors = models
    bundle = load_model(with_priors)
    bound = parse_bound(spec)
    sizes = {True: 0, False: 0}
    for i, part in enumerate(_files(rows)):
        for use in (True, False):
            path = tmp_path / f"{i}-{use}.baler"
            opts = CompressionOptions(load_bound_spec(spec))
            opts.use_priors = use
            header = compress_table([part], bundle, path, opts)
            sizes[use] += path.stat().st_size
            used = [rec.get("prior") for rec in header["blocks"][0]["columns"] if rec.get("prior")]
            assert bool(used) == use and (header.get("priors") == bound_key(opts.bounds)) == use
            back = decompress(path, bundle)
            for c in part.columns:
                _assert_bound(part[c].to_numpy(), back[c].to_numpy(), bound)
    assert sizes[True] < 0.97 * sizes[False], sizes


def test_prior_coded_file_needs_the_decoder_with_the_priors(rows, models, tmp_path):
    plain, with_priors = models
    part = _files(rows)[0]
    opts = CompressionOptions(load_bound_spec("range=1e-3"))
    compress_table([part], load_model(with_priors), tmp_path / "a.baler", opts)
    with pytest.raises(ModelMismatchError):
        decompress(tmp_path / "a.baler", load_model(plain))
    opts.embed_decoder, opts.model_fallback = True, False
    compress_table([part], load_model(with_priors), tmp_path / "b.baler", opts, _compare=False)
    back = decompress(tmp_path / "b.baler")  # the embedded decoder carries the priors
    for c in part.columns:
        _assert_bound(part[c].to_numpy(), back[c].to_numpy(), parse_bound("range=1e-3"))


def test_header_template_carries_the_column_records(rows, models, tmp_path):
    """With the model's header template (range: fitted with the training rows), a small file's column records
    sit in section head, compressed against it: smaller than in the header, read back the same, and refused
    with a decoder whose template differs."""
    _, with_priors = models
    bundle = load_model(with_priors)
    part = _files(rows)[2]
    sizes, headers = {}, {}
    for use in (True, False):
        opts = CompressionOptions(load_bound_spec("range=1e-3"), header_template=use)
        headers[use] = compress_table([part], bundle, tmp_path / f"{use}.baler", opts)
        sizes[use] = (tmp_path / f"{use}.baler").stat().st_size
    assert sizes[True] < sizes[False] - 30, sizes  # five columns: the records the template spares
    with ContainerReader(tmp_path / "True.baler") as rd:
        assert rd.header["inner"] == "head" and "blocks" not in rd.header
        merge_inner(rd, bundle)
        assert rd.header["blocks"] == headers[True]["blocks"] and rd.header["columns"] == headers[True]["columns"]
    assert decompress(tmp_path / "True.baler", bundle).equals(decompress(tmp_path / "False.baler", bundle))
    other = dict(bundle.record)
    other["header_templates"] = {k: v.replace("dlin", "dlog") for k, v in other["header_templates"].items()}
    save_record(with_priors, tmp_path / "other.safetensors", other)
    with pytest.raises(ModelMismatchError):  # another template is another decoder
        decompress(tmp_path / "True.baler", load_model(tmp_path / "other.safetensors"))
    with ContainerReader(tmp_path / "True.baler") as rd, pytest.raises(FormatError):
        rd.merge_inner(other["header_templates"]["range=0.001"].encode())  # the wrong dictionary


def test_blocks_in_threads_all_read_the_priors(rows, models, tmp_path):
    bundle = load_model(models[1])
    held = rows.iloc[5000:].reset_index(drop=True)
    out = {}
    for threads in (1, 2):
        opts = CompressionOptions(load_bound_spec("rel=1e-3"), block_rows=700, threads=threads)
        header = compress_table([held], bundle, tmp_path / f"t{threads}.baler", opts)
        assert len(header["blocks"]) == 3 and all(any("prior" in r for r in b["columns"]) for b in header["blocks"])
        out[threads] = (tmp_path / f"t{threads}.baler").read_bytes()
    assert out[1] == out[2]
    back = decompress(tmp_path / "t2.baler", bundle, threads=2)
    for c in held.columns:
        _assert_bound(held[c].to_numpy(), back[c].to_numpy(), parse_bound("rel=1e-3"))


def test_drifted_data_falls_back_and_never_grows(models, tmp_path):
    """Rows from another distribution (pt 5x harder, other fractions): the streams that fit badly keep their own
    tables, so a file is never more than the header's few bytes larger than with no priors."""
    bundle = load_model(models[1])
    drift = _table(1500, seed=11)
    for c in ("pt", "mass", "energy", "chE", "neE", "rareE"):
        drift[c] = drift[c] * np.float32(5.0)
    sizes, used = {}, {}
    for use in (True, False):
        opts = CompressionOptions(load_bound_spec("range=1e-3"))
        opts.use_priors = use
        header = compress_table([drift], bundle, tmp_path / f"{use}.baler", opts)
        used[use] = ["prior" in rec for rec in header["blocks"][0]["columns"]]
        sizes[use] = (tmp_path / f"{use}.baler").stat().st_size
        back = decompress(tmp_path / f"{use}.baler", bundle)
        for c in drift.columns:
            _assert_bound(drift[c].to_numpy(), back[c].to_numpy(), parse_bound("range=1e-3"))
    assert sizes[True] <= sizes[False] + 64, sizes
    assert any(used[True]) and not all(used[True]) and not any(used[False]), used  # some streams fell back


def test_malformed_priors_are_refused(models, tmp_path):
    plain, with_priors = models
    bundle = load_model(with_priors)
    key = bound_key(load_bound_spec("range=1e-3"))
    bad = json.loads(json.dumps(bundle.record["priors"]))
    column = next(iter(bad[key]))
    bad[key][column]["r"]["tables"][0]["q"] = [0, 5000]
    save_record(with_priors, tmp_path / "bad.safetensors", {**bundle.record, "priors": bad})
    with pytest.raises(FormatError, match="prior table out of range"):
        prior_set(load_model(tmp_path / "bad.safetensors"), key)
    with pytest.raises(InputError, match="sequential"):
        from conftest import make_jets

        dense = tmp_path / "dense.safetensors"
        train_dataset(make_jets(300), dense, ModelConfig(model="dense", latent_dim=2),
                      TrainConfig(epochs=1, batch_size=128, device="cpu"))
        fit_priors(load_model(dense), make_jets(300), load_bound_spec("range=1e-3"))


def test_fit_priors_command_and_info(rows, models, tmp_path):
    plain, _ = models
    rows.iloc[:5000].to_parquet(tmp_path / "train.parquet")
    _files(rows)[1].to_parquet(tmp_path / "small.parquet")
    out = subprocess.run(["baler", "fit-priors", str(plain), str(tmp_path / "train.parquet"), "--error-bound",
                          "range=1e-3", "-o", str(tmp_path / "m.safetensors")], capture_output=True, text=True,
                         check=True).stdout
    assert json.loads(out)["priors"] == "range=0.001"
    info = subprocess.run(["baler", "info", str(tmp_path / "m.safetensors")], capture_output=True, text=True,
                          check=True).stdout
    assert "priors            range=0.001" in info
    subprocess.run(["baler", "compress", str(tmp_path / "small.parquet"), "-m", str(tmp_path / "m.safetensors"),
                    "-o", str(tmp_path / "s.baler"), "--error-bound", "range=1e-3"], capture_output=True, check=True)
    proc = subprocess.run(["baler", "info", "--columns", str(tmp_path / "s.baler")], capture_output=True, text=True)
    assert proc.returncode != 0 and "-m MODEL" in proc.stderr  # its column records need the model's template
    plain_info = json.loads(subprocess.run(["baler", "info", "--json", str(tmp_path / "s.baler")],
                                           capture_output=True, text=True, check=True).stdout)
    assert plain_info["columns"] is None and plain_info["format_version"] == ".".join(map(str, VERSION))
    costs = json.loads(subprocess.run(["baler", "info", "--json", "--columns", str(tmp_path / "s.baler"), "-m",
                                       str(tmp_path / "m.safetensors")], capture_output=True, text=True,
                                      check=True).stdout)
    assert costs["columns"] == len(rows.columns) and costs["priors"] == "range=0.001"
    assert costs["priors"] == "range=0.001" and any(c["prior"] == "r" for c in costs["column_costs"])
    by_row = {c["column"]: c["bytes"] for c in costs["column_costs"]}
    with ContainerReader(tmp_path / "s.baler") as rd:
        assert by_row["(priors)"] == rd.section_bytes("b0/prior") > 0  # the shared section, not a column named so
        assert by_row["(header)"] == rd.section_bytes("head") > 0  # the column records, against the template
        assert "blocks" not in rd.header and rd.header["inner"] == "head"
        rd.merge_inner(load_model(tmp_path / "m.safetensors").record["header_templates"]["range=0.001"].encode())
        assert any("prior" in rec for rec in rd.header["blocks"][0]["columns"])
    proc = subprocess.run(["baler", "fit-priors", str(plain), str(tmp_path / "train.parquet"), "-o",
                           str(tmp_path / "x.safetensors")], capture_output=True, text=True)
    assert proc.returncode != 0 and "--error-bound" in proc.stderr
