"""From a dataset on disk to a trained model file: split, fit normalization on training rows, train, save."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from baler_core.coding.error_bounds import column_ranges
from baler_core.coding.quantization import latent_bits
from baler_core.errors import InputError
from baler_core.io.fields import read_field
from baler_core.io.tables import read_table
from baler_core.models import MODEL_REGISTRY, auto_model, auto_reason, build_model, resolve_model_name
from baler_core.models.store import ModelBundle, save_model
from baler_core.prep.normalization import Normalizer, fit_normalizer
from baler_core.training.loop import TrainConfig, TrainResult, train_model, write_history

log = logging.getLogger(__name__)


@dataclass
class ModelConfig:
    model: str = "auto"  # auto: sequential for tables, conv2d / conv3d for fields (models/auto.py says why)
    latent_dim: int | None = None  # dense: latent size; conv2d / conv3d: latent channels
    ratio: float | None = None  # nominal ratio: float32 input bytes / quantized latent bytes
    hidden: list[int] = field(default_factory=lambda: [200, 100, 50])
    channels: list[int] = field(default_factory=lambda: [16, 32, 32])
    activation: str | None = None
    latent_dtype: str = "int12"
    # float32, float16, bfloat16, grid (packed within decoder_bound: coding/packed.py), or auto: the model's own
    # choice (``default_decoder_dtype``: grid for pod, float16 for the networks)
    decoder_dtype: str = "auto"
    decoder_bound: float | None = None  # None: coding.packed.DEFAULT_BOUND
    normalization: str = "minmax"
    log_columns: list[str] | str | None = "auto"
    val_fraction: float = 0.15
    max_train_rows: int | None = 2_000_000
    context: bool = True  # sequential model: predict from earlier columns (False: the per-column floor)
    relations: bool = True  # sequential model: find exact linear relations and predict those columns exactly
    order: str = "auto"  # sequential model: column order, auto (relations.coding_order) or given (as in the data)


def load_config(path: str | Path | None, inline_json: str | None = None) -> tuple[ModelConfig, TrainConfig]:
    """Read a YAML file (or an inline JSON string, applied after it) with optional ``model:`` and ``training:``
    mappings; unknown keys are errors that name the key."""
    mc, tc = ModelConfig(), TrainConfig()
    docs: list[tuple[str, dict]] = []
    if path is not None:
        p = Path(path)
        if not p.exists():
            raise InputError(f"{p}: config file does not exist")
        docs.append((str(p), yaml.safe_load(p.read_text()) or {}))
    if inline_json:
        docs.append(("--config-json", json.loads(inline_json)))
    for where, doc in docs:
        if not isinstance(doc, dict) or set(doc) - {"model", "training"}:
            raise InputError(f"{where}: a training config holds only 'model' and 'training' mappings")
        _apply(mc, doc.get("model") or {}, f"{where}: model")
        _apply(tc, doc.get("training") or {}, f"{where}: training")
    return mc, tc


def _apply(obj, values: dict, where: str):
    known = {f.name for f in fields(obj)}
    for k, v in values.items():
        if k not in known:
            raise InputError(f"{where}.{k}: unknown key; known keys: {', '.join(sorted(known))}")
        setattr(obj, k, v)
    return obj


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint shuffled train/validation row indices (validation is never trained on)."""
    if not 0 < val_fraction < 1:
        raise InputError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    if n < 2:
        raise InputError(f"need at least 2 rows to train (one for validation), got {n}")
    perm = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, int(round(n * val_fraction))), n - 1)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def load_training_data(path: str | Path, columns: list[str] | None = None, tree: str | None = None,
                       cut: str | None = None, field_key: str | None = None) -> pd.DataFrame | np.ndarray:
    """A table (DataFrame) or a field (N x H x W array), chosen by the file."""
    from baler_core.io.fields import is_field_path

    if is_field_path(path):
        return np.asarray(read_field(path, field_key))
    return read_table(path, columns, tree, cut)


def build_for_data(data: pd.DataFrame | np.ndarray, mc: ModelConfig) -> tuple[str, dict, str]:
    """Registry name, constructor arguments and kind for the data and the model config."""
    kind = "field" if isinstance(data, np.ndarray) else "table"
    name = resolve_model_name(mc.model, auto_kind(data))
    if name not in MODEL_REGISTRY:
        raise InputError(f"model {name!r} unknown; registered models: {', '.join(MODEL_REGISTRY)}")
    cls = MODEL_REGISTRY[name]
    if cls.kind != kind:
        other = auto_model(auto_kind(data))
        raise InputError(f"model {name!r} needs a {cls.kind}"
                         + (" (N x H x W or N x D x H x W)" if cls.kind == "field" else "")
                         + f"; use {other} for {kind}s")
    return name, cls.args_for_data(data, mc, latent_bits(mc.latent_dtype)), kind


def _fit_closed_form(model, x_train: np.ndarray, x_val: np.ndarray, history_path: str | Path | None
                     ) -> TrainResult:
    """Fit a model that trains in closed form (``model.fit``) and report it as a one-epoch run."""
    got = model.fit(x_train, x_val)
    row = {"epoch": 0, "train_loss": got["train_loss"], "val_loss": got["val_loss"], "lr": 0.0,
           "seconds": got["seconds"]}
    if history_path:
        write_history([row], history_path)
    log.info("%s fitted in closed form in %.2f s: validation MSE %.3g", type(model).__name__, got["seconds"],
             got["val_loss"])
    return TrainResult(epochs_run=1, best_epoch=0, best_val_loss=got["val_loss"], stopped_early=False,
                       seconds=got["seconds"], device="cpu", history=[row])


def auto_kind(data: pd.DataFrame | np.ndarray) -> str:
    """The key of ``AUTO_MODELS`` for ``data``: table, field (N x H x W) or field3d (N x D x H x W)."""
    if not isinstance(data, np.ndarray):
        return "table"
    return "field3d" if data.ndim == 4 else "field"


def train_dataset(data: pd.DataFrame | np.ndarray, model_path: str | Path, mc: ModelConfig, tc: TrainConfig,
                  val_data: pd.DataFrame | np.ndarray | None = None, resume: bool = False,
                  history_path: str | Path | None = None, normalizer: Normalizer | None = None
                  ) -> tuple[ModelBundle, TrainResult]:
    """Fit normalization on training rows only (or use ``normalizer``, fitted earlier), train, save."""
    name, args, kind = build_for_data(data, mc)
    if mc.model == "auto":
        log.info("--model auto: %s for %ss: %s", name, kind, auto_reason(auto_kind(data)))
    relations: dict = {}
    if name == "sequential":
        from baler_core.models.relations import coding_order, find_relations

        if mc.order not in ("auto", "given"):
            raise InputError(f"model order {mc.order!r} unknown; choose auto or given")
        order = [str(c) for c in data.columns]
        if mc.order == "auto":
            order = coding_order(data.to_numpy(dtype=np.float64), order)
        if mc.relations:
            order, relations = find_relations(data[order].to_numpy(dtype=np.float64), order)
            for n, r in relations.items():
                formula = ("sqrt(({} cosh {})^2 + {}^2)".format(*r["inputs"]) if r.get("kind") == "energy" else
                           " + ".join(f"{c:.6g}*{i}" for i, c in zip(r["inputs"], r["coef"])))
                log.info("column %s = %s (relative RMS residual %.1e): predicted exactly", n, formula, r["rel_rms"])
        data = data[order]
        if val_data is not None:
            val_data = val_data[[c for c in order if c in val_data.columns]]
        if normalizer is not None:
            by_name = {c.name: c for c in normalizer.columns}
            normalizer = Normalizer(normalizer.method, [by_name[c] for c in order if c in by_name])
    if kind == "table":
        names = [str(c) for c in data.columns]
        x_all = data.to_numpy(dtype=np.float64)
        if val_data is not None:
            missing = [c for c in names if c not in val_data.columns]
            if missing:
                raise InputError(f"validation data lacks columns: {', '.join(missing)}")
            x_val_raw = val_data[names].to_numpy(dtype=np.float64)
    else:
        names = ["field"]
        x_all = np.asarray(data, dtype=np.float64)
        if val_data is not None:
            if np.asarray(val_data).shape[1:] != x_all.shape[1:]:
                raise InputError(f"validation field shape {np.asarray(val_data).shape} differs from {x_all.shape}")
            x_val_raw = np.asarray(val_data, dtype=np.float64)
    if val_data is None:
        tr, va = split_rows(len(x_all), mc.val_fraction, tc.seed)
        x_train_raw, x_val_raw = x_all[tr], x_all[va]
    else:
        x_train_raw = x_all
    if mc.max_train_rows and len(x_train_raw) > mc.max_train_rows:
        keep = np.sort(np.random.default_rng(tc.seed).choice(len(x_train_raw), mc.max_train_rows, replace=False))
        x_train_raw = x_train_raw[keep]
    flat = (lambda a: a.reshape(-1, 1)) if kind == "field" else (lambda a: a)
    if normalizer is not None:
        if normalizer.names != names:
            raise InputError(f"normalization columns {normalizer.names} do not match the data columns {names}")
        norm = normalizer
    else:
        norm = fit_normalizer(flat(x_train_raw), names, mc.normalization,
                              mc.log_columns if kind == "table" else None)
    x_train = norm.transform(flat(x_train_raw)).reshape(x_train_raw.shape)
    x_val = norm.transform(flat(x_val_raw)).reshape(x_val_raw.shape)
    import torch

    torch.manual_seed(tc.seed)  # reproducible initial weights
    model = build_model(name, args)
    ckpt = Path(str(model_path) + ".ckpt.pt")
    if hasattr(model, "fit"):  # a closed-form model (pod): one fit, no epochs
        result = _fit_closed_form(model, x_train, x_val, history_path)
    else:
        result = train_model(model, x_train, x_val, tc, checkpoint_path=ckpt, resume=resume,
                             history_path=history_path, model_args={"model": name, **args})
    if relations:
        model.clear_heads([names.index(c) for c in relations])
    decoder_dtype = mc.decoder_dtype
    if decoder_dtype == "auto":
        decoder_dtype = getattr(model, "default_decoder_dtype", "float16")
    record = {
        "model": name, "model_args": args, "kind": kind, "columns": names, "normalization": norm.to_dict(),
        "latent": {"dtype": mc.latent_dtype}, "decoder_dtype": decoder_dtype,
        **({"decoder_bound": mc.decoder_bound} if decoder_dtype == "grid" and mc.decoder_bound else {}),
        "relations": relations,
        **({"chosen_by": {"model": "auto", "reason": auto_reason(auto_kind(data))}} if mc.model == "auto" else {}),
        "training": {**{k: v for k, v in asdict(result).items() if k != "history"},
                     "config": asdict(tc), "train_rows": int(len(x_train)), "val_rows": int(len(x_val))},
    }
    if kind == "field":
        record["frame_shape"] = list(x_all.shape[1:])
    else:  # the set's range, for range bounds taken against it (baler compress --range-of)
        record["ranges"] = column_ranges(np.concatenate([x_all, x_val_raw]) if val_data is not None else x_all, names)
    save_model(model, json.loads(json.dumps(record, default=float)), model_path)
    ckpt.unlink(missing_ok=True)  # training finished: the checkpoint (optimizer state, ~5x the model) is spent
    from baler_core.models.store import load_model

    return load_model(model_path), result
