"""Latent sizes for a nominal ratio (quantized latent bits against float32 input bits, before entropy coding)."""

from __future__ import annotations

from baler_core.errors import InputError


def latent_dim_for_ratio(n_features: int, ratio: float, latent_bits: float = 16, input_bits: float = 32) -> int:
    """Latent size whose quantized bits are ``ratio`` times fewer than a float32 input row's (before entropy coding)."""
    if ratio <= 0:
        raise InputError(f"--ratio must be positive, got {ratio}")
    return max(1, int(round(n_features * input_bits / (ratio * latent_bits))))


def latent_channels_for_ratio(depth: int, ratio: float, latent_bits: float = 16, spatial_dims: int = 2,
                              input_bits: float = 32) -> int:
    """Latent channels of a conv model with ``depth`` stride-2 levels over ``spatial_dims`` axes for a nominal ratio."""
    if ratio <= 0:
        raise InputError(f"--ratio must be positive, got {ratio}")
    return max(1, int(round(2 ** (spatial_dims * depth) * input_bits / (ratio * latent_bits))))
