"""Running a model for the codec: the encoder on the compressing machine, and the float64 CPU copy of the
decoder whose predictions both sides compute identically."""

from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING

import numpy as np

from baler_core.coding import jit
from baler_core.models.store import ModelBundle, sha256_hex

if TYPE_CHECKING:  # torch loads with the first model: model-free coding never imports it
    import torch

INFER_BATCH = 32768


# ------------------------------------------------------------------ model inference
def is_light(bundle: ModelBundle) -> bool:
    """Whether the bundle's decoder was loaded without torch (``models.light``)."""
    return getattr(bundle.model, "light", False)


def engage_kernels(bundle: ModelBundle, n_bytes: int) -> None:
    """Start the compiled kernels (``coding.jit``) for work of ``n_bytes`` with ``bundle``; a decoder loaded
    without torch predicts with them, so for it whatever the size."""
    jit.engage(max(n_bytes, jit.MIN_BYTES_SHARED) if is_light(bundle) else n_bytes)


def float64_decoder(bundle: ModelBundle) -> torch.nn.Module:
    """A float64 CPU copy: predictions identical across machines to ~1e-16, far inside the safety margin (a
    decoder loaded without torch, ``models.light``, is float64 already)."""
    if is_light(bundle):
        return bundle.model
    return copy.deepcopy(bundle.model).to("cpu").double().eval()


def batch_rows(shape: tuple[int, ...] | None) -> int:
    """Rows (or frames) per inference batch: about INFER_BATCH values, so memory stays bounded for fields."""
    return max(1, INFER_BATCH // math.prod(shape)) if shape else INFER_BATCH


def run_encoder(bundle: ModelBundle, xn: np.ndarray) -> np.ndarray:
    import torch

    model = bundle.model.to("cpu").eval()
    step = batch_rows(xn.shape[1:] if xn.ndim >= 3 else None)
    with torch.no_grad():
        outs = [model.encode(torch.from_numpy(xn[s : s + step])).numpy() for s in range(0, len(xn), step)]
    z = np.concatenate(outs) if outs else np.zeros((0,), np.float32)
    # float64 values beyond float32's range overflow the float32 model: such rows get a zero latent (their
    # prediction is then poor and the residual, or an exception, carries them) instead of a NaN latent scale
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)


def run_decoder(dec64: torch.nn.Module, z: np.ndarray, shape: tuple[int, ...] | None) -> np.ndarray:
    import torch

    step = batch_rows(shape)
    with torch.no_grad():
        outs = [dec64.decode(torch.from_numpy(z[s : s + step].astype(np.float64)), shape).numpy()
                for s in range(0, len(z), step)]
    return np.concatenate(outs)


def latent_shape(bundle: ModelBundle, n_rows: int, frame_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    m = bundle.model
    if frame_shape is None:
        return (n_rows, m.latent_dim)
    return (n_rows, *m.latent_shape(*frame_shape))



def model_header(bundle: ModelBundle, blob: bytes, embedded: bool) -> dict:
    return {"name": bundle.record["model"], "decoder_sha256": sha256_hex(blob), "decoder_bytes": len(blob),
            "embedded": embedded}


def compiled_heads(dec64) -> tuple | None:
    """The compiled column heads (``coding.mlp_kernels``) and what they need for this model, where the kernels
    run in this process (``coding.jit``) and know the model's activation; else None (torch predicts)."""
    named = dec64.activation_name() if hasattr(dec64, "activation_name") else None
    kernels = jit.module("mlp_kernels") if named is not None and jit.active() else None
    if kernels is None:
        return None
    return kernels, kernels.PHI, kernels.ACTIVATIONS[named[0]], named[1]


def sequential_prediction(dec64, norm, j: int, recon_n: np.ndarray, recon: dict[str, np.ndarray],
                           relations: dict) -> np.ndarray:
    """Physical-unit prediction of column ``j`` from the reconstructed columns before it (``recon_n``: float64,
    normalized, either memory order; CPU): an exact linear relation where the model found one, else the column's
    MLP."""
    name = norm.columns[j].name
    if name in relations:
        from baler_core.models.relations import apply_relation

        return apply_relation(relations[name], {k: recon[k] for k in relations[name]["inputs"]}, len(recon_n))
    heads = compiled_heads(dec64)
    if heads is not None:
        kernels, phi, kind, slope = heads
        k, w_in, b_in, w_hidden, b_hidden, w_out, b_out = dec64.head_arrays(j)
        pred_n = np.empty(len(recon_n))
        kernels.column_head(recon_n, k, w_in, b_in, w_hidden, b_hidden, w_out, b_out, kind, slope, phi, pred_n)
        return norm.inverse_column(j, pred_n)
    import torch

    prev = torch.from_numpy(np.ascontiguousarray(recon_n[:, :j]))
    with torch.no_grad():
        pred_n = np.concatenate([dec64.predict_column(j, prev[s : s + INFER_BATCH]).numpy()
                                 for s in range(0, max(len(prev), 1), INFER_BATCH)])[: len(prev)]
    return norm.inverse_column(j, pred_n)
