"""Training loop: AdamW, a learning-rate schedule, early stopping on held-out rows, checkpoints and resume.

Checkpoints describe themselves (model arguments, optimizer and scheduler state, epoch, RNG states, history)
and load with ``torch.load(weights_only=True)``, so resuming needs nothing else and never unpickles objects.
With a fixed seed on the CPU, an interrupted run resumed from its last checkpoint reaches the same weights
as an uninterrupted one (shuffling uses a dedicated generator whose state is checkpointed).
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from baler_core.errors import InputError
from baler_core.progress import duration, logging_above_bars, on_terminal

log = logging.getLogger(__name__)
EVAL_VALUES = 1 << 24  # values per validation batch at most (64 MB of float32 input)


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 512
    lr: float = 2e-3
    weight_decay: float = 1e-5
    lr_schedule: str = "cosine"  # cosine | plateau | constant
    patience: int = 25  # epochs without validation improvement before stopping
    min_delta: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # bf16 autocast on CUDA only
    l1_latent: float = 0.0  # sparsity penalty on the latent (the original Baler defined one but never applied it)
    patch: int | None = 64  # fields: random square (3-D: cubic) crops of this size in training (None: whole frames)
    threads: int | None = None
    loss: str = "mse"  # mse | l1 (l1 suits residual coding: the median minimizes the residual's spread)


@dataclass
class TrainResult:
    epochs_run: int
    best_epoch: int
    best_val_loss: float
    stopped_early: bool
    seconds: float
    device: str
    history: list[dict] = field(default_factory=list)


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto``: cuda, then mps, then cpu. An explicit ``cuda`` without a usable GPU falls back with a warning."""
    if requested not in ("auto", "cpu", "cuda", "mps") and not requested.startswith("cuda:"):
        raise InputError(f"device {requested!r} unknown; choose auto, cpu, cuda, cuda:N or mps")
    if requested == "cpu":
        return torch.device("cpu")
    if requested.startswith("cuda") or requested == "auto":
        if torch.cuda.is_available():
            return torch.device(requested if requested.startswith("cuda") else "cuda")
        if requested.startswith("cuda"):
            msg = (f"device {requested!r} requested but no usable CUDA device "
                   f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}); falling back to CPU")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            log.warning(msg)
            return torch.device("cpu")
    if requested in ("mps", "auto") and getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    if requested == "mps":
        log.warning("device 'mps' requested but not available; falling back to CPU")
    return torch.device("cpu")


def _batches(n: int, batch_size: int, gen: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=gen)
    return list(perm.split(batch_size))


def _crop_batch(x: torch.Tensor, idx: torch.Tensor, patch: int | None, gen: torch.Generator) -> torch.Tensor:
    """Rows ``idx`` of ``x``; for fields (N x H x W or N x D x H x W) one random square / cubic patch of them, cut
    before the rows are gathered so that only the patch is copied."""
    if patch is None or x.ndim < 3 or all(s <= patch for s in x.shape[1:]):
        return x[idx.to(x.device)]
    window = []
    for s in x.shape[1:]:
        p = min(patch, s)
        i = int(torch.randint(0, s - p + 1, (1,), generator=gen))
        window.append(slice(i, i + p))
    return x[(slice(None), *window)][idx.to(x.device)]


def _distortion(x_hat: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    d = x_hat.float() - x
    if kind == "mse":
        return d.pow(2)
    if kind == "l1":
        return d.abs()
    raise InputError(f"loss {kind!r} unknown; choose mse or l1")


def _loss(model: nn.Module, xb: torch.Tensor, l1: float, kind: str = "mse") -> tuple[torch.Tensor, torch.Tensor]:
    out = model(xb)
    dist = _distortion(out["x_hat"], xb, kind).mean()
    total = dist + l1 * out["latent"].float().abs().mean() if l1 > 0 else dist
    return total, dist


@torch.no_grad()
def evaluate_loss(model: nn.Module, x: torch.Tensor, batch_size: int, device: torch.device,
                  kind: str = "mse") -> float:
    model.eval()
    total, n = 0.0, 0
    batch_size = max(1, min(batch_size, EVAL_VALUES // max(x[0].numel(), 1)))  # whole 3-D frames are large
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size].to(device)
        out = model(xb)
        total += float(torch.sum(_distortion(out["x_hat"], xb, kind))) / xb[0].numel()
        n += len(xb)
    return total / max(n, 1)


def _make_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig):
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1), eta_min=cfg.lr * 0.01)
    if cfg.lr_schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=max(cfg.patience // 3, 1))
    if cfg.lr_schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    raise InputError(f"lr_schedule {cfg.lr_schedule!r} unknown; choose cosine, plateau or constant")


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """Load a training checkpoint without unpickling arbitrary objects."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        from baler_core.errors import FormatError

        raise FormatError(f"{path}: not a loadable baler checkpoint (weights-only load refused it: {exc})") from exc


def train_model(
    model: nn.Module,
    x_train: np.ndarray,
    x_val: np.ndarray,
    cfg: TrainConfig,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    history_path: str | Path | None = None,
    model_args: dict | None = None,
) -> TrainResult:
    """Train ``model`` in place on normalized float32 data and leave the best validation weights in it."""
    if len(x_train) == 0:
        raise InputError("no training rows")
    if len(x_val) == 0:
        raise InputError("no validation rows: early stopping needs a held-out validation split")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    model.to(device)
    xt = torch.as_tensor(np.ascontiguousarray(x_train), dtype=torch.float32)
    xv = torch.as_tensor(np.ascontiguousarray(x_val), dtype=torch.float32)
    if device.type == "cuda":
        xt, xv = xt.to(device), xv.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = _make_scheduler(opt, cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch, best_val, best_epoch, bad_epochs = 0, math.inf, -1, 0
    best_state = copy.deepcopy(model.state_dict())
    history: list[dict] = []
    ckpt = Path(checkpoint_path) if checkpoint_path else None
    if resume and ckpt and ckpt.exists():
        state = load_checkpoint(ckpt)
        same = (state.get("model_args_json") == _json(model_args or {})
                and _settings_json(state.get("config_json")) == _settings_json(_json(asdict(cfg))))
        if not same:
            log.warning("%s was written with other model arguments or training settings; starting afresh", ckpt)
            state = None
    else:
        state = None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch, best_val, best_epoch = state["epoch"] + 1, state["best_val"], state["best_epoch"]
        bad_epochs, best_state, history = state["bad_epochs"], state["best_state"], state["history"]
        log.info("resumed from %s at epoch %d (best validation loss %.4g)", ckpt, start_epoch, best_val)
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    t0 = time.perf_counter()
    stopped_early = False
    epochs = range(start_epoch, cfg.epochs)
    bar = None
    if on_terminal():
        from tqdm import tqdm

        bar = tqdm(total=cfg.epochs, initial=start_epoch, desc="train", unit="epoch", leave=False)
    with logging_above_bars():  # epoch lines print above the bar, not into it
        epoch = start_epoch - 1
        for epoch in epochs:
            if bad_epochs >= cfg.patience:
                stopped_early = True
                log.info("early stop before epoch %d: no validation improvement for %d epochs", epoch, cfg.patience)
                epoch -= 1
                break
            model.train()
            t_ep = time.perf_counter()
            tot, nb = 0.0, 0
            for idx in _batches(len(xt), cfg.batch_size, gen):
                xb = _crop_batch(xt, idx, cfg.patch, gen).to(device, non_blocking=True)
                with torch.autocast(device_type=device.type, dtype=amp_dtype, enabled=use_amp):
                    loss, mse = _loss(model, xb, cfg.l1_latent, cfg.loss)
                mse = mse.detach()
                opt.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                tot += mse.item()
                nb += 1
            val = evaluate_loss(model, xv, cfg.batch_size * 4, device, cfg.loss)
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(val)
            else:
                sched.step()
            improved = val < best_val - cfg.min_delta
            if improved:
                best_val, best_epoch, bad_epochs = val, epoch, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad_epochs += 1
            row = {"epoch": epoch, "train_loss": tot / max(nb, 1), "val_loss": val, "lr": opt.param_groups[0]["lr"],
                   "seconds": time.perf_counter() - t_ep}
            history.append(row)
            if bar:
                bar.set_postfix(train=f"{row['train_loss']:.3g}", val=f"{val:.3g}")
                bar.update(1)
            per_epoch = (time.perf_counter() - t0) / (epoch + 1 - start_epoch)
            log.info("epoch %d/%d train %.5g val %.5g lr %.3g (%.2f s/epoch, ETA %s at most)", epoch + 1, cfg.epochs,
                     row["train_loss"], val, row["lr"], per_epoch, duration(per_epoch * (cfg.epochs - epoch - 1)))
            if history_path:
                write_history(history, history_path)
            if ckpt:
                _save_checkpoint(ckpt, {
                    "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                    "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(), "epoch": epoch, "best_val": best_val, "best_epoch": best_epoch,
                    "bad_epochs": bad_epochs, "best_state": {k: v.detach().cpu() for k, v in best_state.items()},
                    "history": history, "config_json": _json(asdict(cfg)), "model_args_json": _json(model_args or {}),
                })
    if bar:
        bar.close()
    if history_path:  # also when resuming a finished run, so the history always exists
        write_history(history, history_path)
    model.load_state_dict(best_state)
    model.to("cpu").eval()
    return TrainResult(epoch + 1, best_epoch, best_val, stopped_early, time.perf_counter() - t0, str(device), history)


def _settings_json(config_json: str | None) -> str | None:
    """Training settings that change the result (the device and thread count do not)."""
    import json

    if config_json is None:
        return None
    d = json.loads(config_json)
    for k in ("device", "threads"):
        d.pop(k, None)
    return _json(d)


def _json(obj: dict) -> str:
    import json

    return json.dumps(obj, sort_keys=True, default=str)


def write_history(history: list[dict], path: str | Path) -> None:
    import pandas as pd

    pd.DataFrame(history).to_csv(path, sep="\t", index=False, float_format="%.9g")
