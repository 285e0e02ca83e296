"""Quantization of latents (for storage) and of residuals (to meet an error bound).

Latents: ``float32``, ``float16`` or ``intN`` (2 <= N <= 16) with a per-channel offset and scale; the decoder
always sees the dequantized values, at compression and decompression alike. Residuals: each column gets a
*mode* and the compressor and decompressor rebuild values with the same function, :func:`reconstruct`.
"""

from __future__ import annotations

import re

import numpy as np

from baler_core.errors import FormatError, InputError

SAFETY = 0.999  # quantization steps are 0.1 % finer than the bound allows, a margin for float rounding
MAX_RESIDUAL = 2**40  # larger quantized residuals are stored as exceptions instead
MAX_BASE = 2.0**52  # grid indices of aligned predictions are clipped here (float64 integers stay exact)


def latent_bits(spec: str) -> float:
    """Stored bits per latent value before entropy coding."""
    if spec in ("float32", "float16"):
        return 32.0 if spec == "float32" else 16.0
    m = re.fullmatch(r"int(\d+)", spec)
    if not m or not 2 <= int(m.group(1)) <= 16:
        raise InputError(f"latent quantization {spec!r} unknown; use float32, float16 or intN with 2 <= N <= 16")
    return float(m.group(1))


def quantize_latent(z: np.ndarray, spec: str) -> tuple[np.ndarray, dict]:
    """Quantize latent (n, C, ...) per channel (axis 1). Returns stored values and parameters."""
    bits = latent_bits(spec)
    z = np.asarray(z, dtype=np.float32)
    if spec == "float32":
        return z, {}
    if spec == "float16":
        return z.astype(np.float16), {}
    axes = tuple(i for i in range(z.ndim) if i != 1)
    if z.shape[0] == 0:
        lo = np.zeros(z.shape[1])
        hi = lo
    else:
        lo = z.min(axis=axes).astype(np.float64)
        hi = z.max(axis=axes).astype(np.float64)
    levels = 2 ** int(bits) - 1
    scale = np.where(hi > lo, (hi - lo) / levels, 1.0)
    shape = [1] * z.ndim
    shape[1] = -1
    q = np.rint((z - lo.reshape(shape)) / scale.reshape(shape)).astype(np.int64)
    np.clip(q, 0, levels, out=q)
    return q, {"lo": lo.tolist(), "scale": scale.tolist()}


def dequantize_latent(stored: np.ndarray, spec: str, params: dict) -> np.ndarray:
    if spec in ("float32", "float16"):
        return np.asarray(stored, dtype=np.float32)
    try:
        lo = np.asarray(params["lo"], dtype=np.float64)
        scale = np.asarray(params["scale"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"latent quantization parameters malformed ({exc})") from exc
    if lo.shape != (stored.shape[1],) or scale.shape != lo.shape:
        raise FormatError("latent quantization parameters do not match the latent channels")
    shape = [1] * stored.ndim
    shape[1] = -1
    return (lo.reshape(shape) + stored * scale.reshape(shape)).astype(np.float32)


# ------------------------------------------------------------------ residual modes
def log_magnitude(pred: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(np.abs(pred), 1e-300))


def aligned_base(pred: np.ndarray, step: float) -> np.ndarray:
    """The prediction's index on the grid of multiples of ``step`` (the ``alin``/``alog`` modes): values are
    rebuilt as ``(base + r) * step``, so a column's exact zeros and repeated values stay on the grid."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.clip(np.rint(pred / step), -MAX_BASE, MAX_BASE)


def dithered_base(pred: np.ndarray, lo: float, step: float, offsets: np.ndarray) -> np.ndarray:
    """The prediction's index on the dithered grid of ``dithered_values``; never 0, which marks the minimum."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):  # a damaged file's step may be 0
        return np.clip(np.rint((pred - lo) / step - offsets) + 1, 1, MAX_BASE)


def dithered_values(q: np.ndarray, lo: float, step: float, offsets: np.ndarray) -> np.ndarray:
    """The dithered grid of ``dalin`` columns, as the model-free ``dgrid``: index 0 is the column minimum ``lo``
    itself (the exact zeros of an energy fraction stay exact), index k >= 1 is ``k - 1 + offset`` steps above it."""
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(q == 0, lo, lo + (q - 1 + offsets) * step)


def dither_position(mode: str, pred: np.ndarray, params: dict, offsets: np.ndarray) -> np.ndarray:
    """Where the prediction falls on its dithered grid, in steps: ``rint`` of it is the prediction's index
    (``dithered_base`` less one for ``alin``), and the residual of a well-predicted value is 0 or +-1 depending
    on its fraction (a prediction near a cell's upper edge rounds up as soon as the value lies a little above
    it). Residual streams split by it (``contexts``) pay for the dither only where values are predicted worse
    than a step. ``lin`` / ``log`` code ``rint(e - offset)``: the position is ``-offset``, exact everywhere."""
    if mode in ("lin", "log"):
        return -offsets
    step = params["step"]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        u = (pred - params["lo"]) / step if mode == "alin" else log_magnitude(pred) / step
        u = np.clip(np.where(np.isfinite(u), u, 0.0), -MAX_BASE, MAX_BASE)
        return u - offsets


def dither_contexts(mode: str, pred: np.ndarray, params: dict, offsets: np.ndarray
                    ) -> tuple[dict[str, np.ndarray], float]:
    """The dithered column's context values, ``position`` and ``phase`` (the position's distance from its
    rounded index, in [-0.5, 0.5]), and the distance their edges keep from every row's value: 0 for the exact
    ``lin`` / ``log``, else 1e-6 plus 2**-40 of the largest position (the margin ``fragile`` gives rounding
    boundaries: a decoder elsewhere may compute the prediction a few ulps apart)."""
    pos = dither_position(mode, pred, params, offsets)
    gap = 0.0 if mode in ("lin", "log") else 1e-6 + float(np.max(np.abs(pos), initial=0.0)) * 2.0**-40
    return {"position": pos, "phase": pos - np.rint(pos)}, gap


def fragile(pred: np.ndarray, step: float) -> np.ndarray:
    """Predictions near a rounding boundary of ``u = pred / step``: within 1e-6 plus about 4,000 ulps of ``u``
    (2**-40 |u|), so the margin grows with the index. A decoder on another machine may compute the prediction a
    few ulps apart (BLAS, libm); the encoder stores these values exactly, so rounding the prediction gives the
    same index everywhere. Beyond |u| = 2**40 every prediction counts as fragile."""
    with np.errstate(invalid="ignore", over="ignore"):
        u = pred / step
        return ~(np.abs(u - np.floor(u) - 0.5) >= 1e-6 + np.abs(u) * 2.0**-40)


def reconstruct(mode: str, pred: np.ndarray, r: np.ndarray | None, params: dict,
                zero: np.ndarray | None = None, flip: np.ndarray | None = None,
                offsets: np.ndarray | None = None) -> np.ndarray:
    """Values (float64, or int64 for ``int``) from the prediction and the quantized residual. ``offsets``: the
    subtractive dither of ``lin`` / ``log`` / ``alin`` / ``alog`` residuals, in steps
    (``predictors.base.dither_offsets``)."""
    if mode == "ae":
        return pred
    if mode == "const":
        return np.full(pred.shape, params["value"], dtype=np.float64)
    if mode == "int":
        p = np.clip(np.rint(pred), params["lo"], params["hi"]).astype(np.int64)
        return p + r
    step = params.get("step")
    if mode == "lin":
        return pred + r * step if offsets is None else pred + (r + offsets) * step
    if mode == "alin":
        if offsets is None:
            return (aligned_base(pred, step) + r) * step
        return dithered_values(dithered_base(pred, params["lo"], step, offsets) + r, params["lo"], step, offsets)
    if mode == "alog":
        sign = np.where(pred < 0, -1.0, 1.0)
        sign = np.where(flip.astype(bool), -sign, sign)
        lp = log_magnitude(pred)
        with np.errstate(over="ignore"):
            if offsets is None:
                out = sign * np.exp((aligned_base(lp, step) + r) * step)
            else:
                out = sign * np.exp((aligned_base(lp - offsets * step, step) + r + offsets) * step)
        out[zero.astype(bool)] = 0.0
        return out
    if mode == "log":
        sign = np.where(pred < 0, -1.0, 1.0)
        sign = np.where(flip.astype(bool), -sign, sign)
        with np.errstate(over="ignore"):
            out = sign * np.exp(log_magnitude(pred) + (r if offsets is None else r + offsets) * step)
        out[zero.astype(bool)] = 0.0
        return out
    raise FormatError(f"column mode {mode!r} unknown")


def residual_step(kind: str, value: float, col_range: float) -> float:
    """Quantization step (in the coding domain) that keeps ``kind=value`` with the safety margin."""
    if kind == "abs":
        return 2 * value * SAFETY
    if kind == "range":
        return 2 * value * col_range * SAFETY
    if kind == "rel":
        return 2 * np.log1p(value) * SAFETY
    raise InputError(f"error bound kind {kind!r} has no step")


def quantize_residual(delta: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Round ``delta / step``; returns ints and a mask of entries too large (or non-finite) to store."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        q = np.rint(delta / step)
    bad = ~np.isfinite(q) | (np.abs(q) > MAX_RESIDUAL)
    q[bad] = 0
    return q.astype(np.int64), bad
