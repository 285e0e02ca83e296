import importlib.util
import json
import shlex


DATASETS = config["datasets"]
TABLES = [d for d, c in DATASETS.items() if c["kind"] == "table"]
FIELDS = [d for d, c in DATASETS.items() if c["kind"] == "field"]


def _alternatives(names):
    return "|".join(names) if names else "(?!x)x"


wildcard_constraints:
    dataset="[A-Za-z0-9_]+",
    model="[a-z0-9]+",
    ratio="[0-9]+(\\.[0-9]+)?",
    seed="[0-9]+",
    bound="none|(abs|rel|range)_[0-9.eE+-]+",
    codec="gzip|zstd|trunc",
    level="[0-9]+",


def ext(dataset):
    """File suffix of a dataset's data files: Parquet tables, NPY fields."""
    return "parquet" if DATASETS[dataset]["kind"] == "table" else "npy"


def sweep(dataset):
    """The dataset's sweep axes: the global `sweep` with the dataset's own `sweep` keys on top."""
    return {**config["sweep"], **DATASETS[dataset].get("sweep", {})}


def model_name(dataset):
    name = DATASETS[dataset].get("model", {}).get("model", config["model"].get("model", "auto"))
    if name == "auto":
        return "dense" if DATASETS[dataset]["kind"] == "table" else "conv2d"
    return name


def bound_tag(spec):
    return spec.replace("=", "_")


def bound_spec(tag):
    return tag.replace("_", "=", 1)


def point_names(dataset):
    s = sweep(dataset)
    return [f"{model_name(dataset)}-r{r}-s{seed}" for r in s["ratios"] for seed in s["seeds"]]


def point_dirs(dataset):
    """Every sweep point's evaluation folder of a dataset."""
    return [
        f"results/{dataset}/{p}/eb-{bound_tag(b)}"
        for p in point_names(dataset)
        for b in sweep(dataset)["error_bounds"]
    ]


def baseline_files(dataset):
    b = config["baselines"]
    out = [f"results/{dataset}/baseline/gzip-l{l}/result.json" for l in b["gzip_levels"]]
    out += [f"results/{dataset}/baseline/zstd-l{l}/result.json" for l in b["zstd_levels"]]
    out += [f"results/{dataset}/baseline/trunc-l{k}/result.json" for k in b.get("truncation_bits", [])]
    for codec, module in (("sz3", "pysz"), ("zfp", "zfpy")):
        if importlib.util.find_spec(module) is not None:  # the optional [baselines] extra
            out += [f"results/{dataset}/baseline/{codec}-eb-{bound_tag(e)}/result.json"
                    for e in b.get("lossy_bounds", [])]
    return out


def training_settings(w):
    """Model and training settings of one sweep point: global, then dataset, then point overrides."""
    point = f"{w.dataset}/{w.model}-r{w.ratio}-s{w.seed}"
    ds = DATASETS[w.dataset]
    over = config.get("overrides", {}).get(point, {})
    model = {**config["model"], **ds.get("model", {}), **over.get("model", {})}
    model.pop("model", None)
    training = {**config["training"], **ds.get("training", {}), **over.get("training", {})}
    return {"model": model, "training": training}


def training_json(w):
    return json.dumps(training_settings(w), sort_keys=True)


def train_gpus(w):
    return 1 if str(training_settings(w)["training"].get("device", "auto")).startswith("cuda") else 0


def is_fileset(dataset):
    """Whether a dataset is a file set (`source.files` or `source.file_list`): see rules/filesets.smk."""
    return "files" in DATASETS[dataset]["source"] or "file_list" in DATASETS[dataset]["source"]


def get_final_output():
    out = []
    for d in DATASETS:
        out.append(f"results/{d}/summary.tsv")
        out.extend(fileset_outputs(d) if is_fileset(d) else report_outputs(d))
    return out


def extract_args(dataset):
    """Command-line options of `baler extract` for a table dataset's source."""
    src = DATASETS[dataset]["source"]
    args = [src["path"]]
    if src.get("tree"):
        args += ["--tree", src["tree"]]
    if src.get("branches"):
        args += ["--branches", ",".join(src["branches"])]
    if src.get("cut"):
        args += ["--cut", src["cut"]]
    if src.get("max_rows"):
        args += ["--max-rows", str(src["max_rows"])]
    return " ".join(shlex.quote(str(a)) for a in args)


def simulate_args(dataset):
    """Command-line options of `baler simulate-cfd` for a generated field dataset."""
    src = DATASETS[dataset]["source"]
    args = ["--flow", src["generator"]]
    for key in ("n_frames", "height", "width", "reynolds", "steps_per_frame", "warmup_steps", "seed"):
        if key in src:
            args += ["--" + key.replace("_", "-"), str(src[key])]
    return " ".join(shlex.quote(a) for a in args)
