"""What the workflow runs, computed from the validated config: every function takes the config mapping and a
dataset name and returns paths, names or command-line options. The Snakefile calls these and does no policy."""

from __future__ import annotations

import importlib.util
import json
import shlex
from collections.abc import Mapping
from pathlib import Path

from baler_core.models.auto import resolve_model_name

# the optional peers of the [baselines] extra: codec -> (module, pip package); lzma is Python's own
PEER_PACKAGES = {"sz3": ("pysz", "pysz"), "zfp": ("zfpy", "zfpy"),
                 "sperr": ("numcodecs_wasm_sperr", "numcodecs-wasm-sperr"), "pcodec": ("pcodec", "pcodec"),
                 "blosc2": ("blosc2", "blosc2"), "openzl": ("openzl", "openzl")}
LOSSY_PEERS = ("sz3", "zfp", "sperr")  # run at every lossy bound of ``baselines.lossy_bounds``
SEQUENTIAL_TRAINING = {"loss": "l1", "batch_size": 1024}  # residual coding wants medians; small heads, big batches


def ext(config: Mapping, dataset: str) -> str:
    """File suffix of a dataset's test and reconstructed data: Parquet tables, NPY fields, ROOT events."""
    return {"table": "parquet", "field": "npy", "events": "root"}[config["datasets"][dataset]["kind"]]


def train_ext(config: Mapping, dataset: str) -> str:
    """File suffix of the training and validation data: events train on one collection's objects (Parquet)."""
    return "npy" if config["datasets"][dataset]["kind"] == "field" else "parquet"


def is_events(config: Mapping, dataset: str) -> bool:
    return config["datasets"][dataset]["kind"] == "events"


def sweep(config: Mapping, dataset: str) -> dict:
    """The dataset's sweep axes: the global ``sweep`` with the dataset's own ``sweep`` keys on top."""
    return {**config["sweep"], **config["datasets"][dataset].get("sweep", {})}


def bound_tag(spec: str) -> str:
    """``abs=1e-3`` as a path component: ``abs_1e-3``."""
    return spec.replace("=", "_")


def bound_spec(tag: str) -> str:
    return tag.replace("_", "=", 1)


def model_names(config: Mapping, dataset: str) -> list[str]:
    """The models a dataset is swept over: ``sweep.models``, else the dataset's or global model (``auto``
    resolved by the model registry)."""
    ds = config["datasets"][dataset]
    default = ds.get("model", {}).get("model", config["model"].get("model", "auto"))
    names = sweep(config, dataset).get("models") or [default]
    data_kind = "field" if ds["kind"] == "field" else "table"  # events train on a table of objects
    return [resolve_model_name(m, data_kind) for m in names]


def point_names(config: Mapping, dataset: str) -> list[str]:
    s = sweep(config, dataset)
    return [f"{m}-r{r}-s{seed}" for m in model_names(config, dataset) for r in s["ratios"] for seed in s["seeds"]]


def point_bounds(config: Mapping, model: str, dataset: str) -> list[str]:
    """Error bounds of a model's points: the sequential model stores no latent, so it needs a bound."""
    bounds = sweep(config, dataset)["error_bounds"]
    return [b for b in bounds if b != "none"] if model == "sequential" else list(bounds)


def point_dirs(config: Mapping, dataset: str) -> list[str]:
    """Every sweep point's evaluation folder of a dataset."""
    return [f"results/{dataset}/{p}/eb-{bound_tag(b)}" for p in point_names(config, dataset)
            for b in point_bounds(config, p.split("-r")[0], dataset)]


def baseline_files(config: Mapping, dataset: str) -> list[str]:
    """Result files of every baseline of a dataset; SZ3 and ZFP only where their packages are installed."""
    b = config["baselines"]
    out = [f"results/{dataset}/baseline/gzip-l{lv}/result.json" for lv in b["gzip_levels"]]
    out.extend(f"results/{dataset}/baseline/zstd-l{lv}/result.json" for lv in b["zstd_levels"])
    out.extend(f"results/{dataset}/baseline/trunc-l{k}/result.json" for k in b.get("truncation_bits", []))
    # baler without a model (-m none): the floor every trained model has to beat, at each lossy bound
    out.extend(f"results/{dataset}/baseline/grid-eb-{bound_tag(e)}/result.json" for e in b.get("lossy_bounds", []))
    out.extend(f"results/{dataset}/baseline/{codec}-eb-{bound_tag(e)}/result.json" for codec in LOSSY_PEERS
               if peer_installed(codec) for e in b.get("lossy_bounds", []))
    # the strongest lossless float coders, each where its package is installed
    out.extend(f"results/{dataset}/baseline/{codec}/result.json" for codec in b.get("lossless", [])
               if peer_installed(codec))
    if config["datasets"][dataset]["kind"] != "field":  # the LHC experiments' precision presets: HEP data
        out.extend(f"results/{dataset}/baseline/{p}-{after}/result.json" for p in b.get("presets", [])
                   for after in b.get("preset_after", ["zstd19", "lzma9"]))
    return out


# file sets: the formats whose files `baler baseline` reads whole (ROOT branches and HDF5 / NetCDF / zarr variables
# need the set's own selection, which the per-file baselines do not take yet)
FILESET_BASELINE_SUFFIXES = (".parquet", ".pq", ".npz", ".npy")


def fileset_baselines(config: Mapping, dataset: str, paths: list[str]) -> list[str]:
    """The per-file baselines of a file set, as ``<codec>-eb-<bound tag>`` folder names: baler without a model
    (``grid``) and every installed lossy peer at each of ``baselines.lossy_bounds``; none where a file is ROOT,
    HDF5, NetCDF or zarr."""
    bounds = config["baselines"].get("lossy_bounds", [])
    if not bounds or any(Path(p).suffix.lower() not in FILESET_BASELINE_SUFFIXES for p in paths):
        return []
    codecs = ["grid", *(c for c in LOSSY_PEERS if peer_installed(c))]
    return [f"{c}-eb-{bound_tag(e)}" for c in codecs for e in bounds]


def peer_installed(codec: str) -> bool:
    """Whether a baseline's package can be imported (codecs of no optional package always can)."""
    return codec not in PEER_PACKAGES or importlib.util.find_spec(PEER_PACKAGES[codec][0]) is not None


def missing_peers(config: Mapping) -> list[str]:
    """Configured peers whose package is not installed, each with how to install it (the run goes on)."""
    b = config["baselines"]
    wanted = list(b.get("lossless", [])) + (list(LOSSY_PEERS) if b.get("lossy_bounds") else [])
    return [f"baseline {c} skipped: pip install {PEER_PACKAGES[c][1]} (the [baselines] extra)" for c in wanted
            if not peer_installed(c)]


def training_settings(config: Mapping, dataset: str, model: str, ratio: str, seed: str) -> dict:
    """Model and training settings of one sweep point: global, then per model, then dataset, then point."""
    point = f"{dataset}/{model}-r{ratio}-s{seed}"
    ds = config["datasets"][dataset]
    over = config.get("overrides", {}).get(point, {})
    mset = {**config["model"], **ds.get("model", {}), **over.get("model", {})}
    mset.pop("model", None)
    per_model = SEQUENTIAL_TRAINING if model == "sequential" else {}
    training = {**config["training"], **per_model, **ds.get("training", {}), **over.get("training", {})}
    return {"model": mset, "training": training}


def training_json(config: Mapping, dataset: str, model: str, ratio: str, seed: str) -> str:
    return json.dumps(training_settings(config, dataset, model, ratio, seed), sort_keys=True)


def train_gpus(config: Mapping, dataset: str, model: str, ratio: str, seed: str) -> int:
    device = training_settings(config, dataset, model, ratio, seed)["training"].get("device", "auto")
    return 1 if str(device).startswith("cuda") else 0


def read_args(source: Mapping) -> list[str]:
    """``--tree``, ``--branches`` and ``--cut`` of a table source."""
    args = []
    if source.get("tree"):
        args += ["--tree", source["tree"]]
    if source.get("branches"):
        args += ["--branches", ",".join(source["branches"])]
    if source.get("cut"):
        args += ["--cut", source["cut"]]
    return args


def quote(args: list) -> str:
    return " ".join(shlex.quote(str(a)) for a in args)


def extract_args(config: Mapping, dataset: str) -> str:
    """Command-line options of ``baler extract`` for a table dataset's source."""
    src = config["datasets"][dataset]["source"]
    args = [src["path"], *read_args(src)]
    if src.get("max_rows"):
        args += ["--max-rows", str(src["max_rows"])]
    return quote(args)


def extract_events_args(config: Mapping, dataset: str) -> str:
    """Command-line options of ``baler extract-events``: a ROOT source, or a generator of events."""
    src = config["datasets"][dataset]["source"]
    if "generator" in src:
        return quote(["--generator", src["generator"], "--n-events", src.get("n_events", 10_000),
                      "--seed", src.get("seed", 0), *(["--pf-jets"] if src.get("pf_jets") else [])])
    return quote([src["path"], *read_args(src)])


def physics_args(config: Mapping, dataset: str) -> str:
    """Command-line options of ``baler evaluate-physics`` from the dataset's ``physics`` settings."""
    ph = config["datasets"][dataset].get("physics", {})
    args: list = []
    for key in ("jets", "met", "jet_pt_min"):
        if key in ph:
            args += [f"--{key.replace('_', '-')}", ph[key]]
    if ph.get("observables"):
        args += ["--observables", ",".join(ph["observables"])]
    for name, target in ph.get("user", {}).items():
        args += ["--observable", f"{name}={target}"]
    return quote(args)


def simulate_args(config: Mapping, dataset: str) -> str:
    """Command-line options of ``baler simulate-cfd`` for a generated field dataset."""
    src = config["datasets"][dataset]["source"]
    args = ["--flow", src["generator"]]
    for key in ("n_frames", "height", "width", "reynolds", "steps_per_frame", "warmup_steps", "seed"):
        if key in src:
            args += [f"--{key.replace('_', '-')}", str(src[key])]
    return quote(args)


def log_columns(config: Mapping, dataset: str) -> str:
    """``--log-columns`` of ``baler fit-norm``: auto, none or a comma-separated list."""
    cols = {**config["model"], **config["datasets"][dataset].get("model", {})}.get("log_columns", "auto")
    if cols is None:
        return "none"
    return cols if isinstance(cols, str) else ",".join(cols)


def report_outputs(config: Mapping, dataset: str) -> list[str]:
    """Plots of a dataset's sweep, and the metrics pooled over seeds where there are several."""
    out = [f"results/{dataset}/rate_distortion.png"]
    out.extend(f"{d}/plots.pdf" for d in point_dirs(config, dataset))
    if len(sweep(config, dataset)["seeds"]) > 1:
        out.extend(f"results/{dataset}/{p.rsplit('-s', 1)[0]}-seeds/eb-{bound_tag(b)}/metrics_over_seeds.tsv"
                   for p in sorted({f"{n.rsplit('-s', 1)[0]}-s0" for n in point_names(config, dataset)})
                   for b in point_bounds(config, p.split("-r")[0], dataset))
    return out


def point_summary_inputs(config: Mapping, dataset: str) -> list[str]:
    """The files of every sweep point that ``summarize_sweep`` reads."""
    e = ext(config, dataset)
    names = ["compress.json", "metrics.tsv", f"decompress.{e}.json"]
    if is_events(config, dataset):
        names.append("physics.tsv")  # the physics-analysis check: the summary's "largest pull"
    return [f"{d}/{name}" for d in point_dirs(config, dataset) for name in names]


def normalization_method(config: Mapping, dataset: str) -> str:
    """``--method`` of ``baler fit-norm``: the dataset's model setting over the global one."""
    return {**config["model"], **config["datasets"][dataset].get("model", {})}["normalization"]
