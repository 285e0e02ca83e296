"""Fully convolutional autoencoders for fields: ``conv2d`` on N x H x W frames and ``conv3d`` on N x D x H x W
volumes, of any spatial size (inputs are padded to a multiple of 2**depth and cropped back). The latent is
``latent_channels`` x (each spatial size / 2**depth). Both are one class over the number of spatial axes, so the
two stay the same network in 2-D and 3-D."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from baler_core.errors import InputError
from baler_core.models.layers import activation as _activation

_CONV = {2: (nn.Conv2d, nn.ConvTranspose2d), 3: (nn.Conv3d, nn.ConvTranspose3d)}


class ConvAutoencoder(nn.Module):
    """The 2-D model (``conv2d``); ``spatial_dims`` = 3 in the subclass makes it ``conv3d``."""

    kind = "field"
    spatial_dims = 2

    def __init__(self, latent_channels: int = 4, channels: list[int] | tuple[int, ...] = (16, 32, 32),
                 activation: str = "gelu") -> None:
        super().__init__()
        if latent_channels < 1 or not channels:
            raise InputError(f"{self.registry_name()} model needs latent_channels >= 1 and at least one channel width")
        conv, up = _CONV[self.spatial_dims]
        self.depth = len(channels)
        enc: list[nn.Module] = []
        c_in = 1
        for c in channels:
            enc += [conv(c_in, c, 3, stride=2, padding=1), _activation(activation), conv(c, c, 3, padding=1),
                    _activation(activation)]
            c_in = c
        enc.append(conv(c_in, latent_channels, 1))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [conv(latent_channels, channels[-1], 3, padding=1), _activation(activation)]
        rch = list(channels[::-1]) + [channels[0]]
        for a, b in zip(rch[:-1], rch[1:]):
            dec += [up(a, b, 4, stride=2, padding=1), _activation(activation),
                    conv(b, b, 3, padding=1), _activation(activation)]
        dec.append(conv(channels[0], 1, 3, padding=1))
        self.decoder = nn.Sequential(*dec)
        self.latent_channels = latent_channels

    @classmethod
    def registry_name(cls) -> str:
        return f"conv{cls.spatial_dims}d"

    def padded_size(self, *sizes: int) -> tuple[int, ...]:
        m = 2**self.depth
        return tuple(math.ceil(s / m) * m for s in sizes)

    def latent_shape(self, *sizes: int) -> tuple[int, ...]:
        """(channels, *spatial sizes of the latent) for a frame of ``sizes``."""
        self._check_frame(sizes)
        return (self.latent_channels, *(p // 2**self.depth for p in self.padded_size(*sizes)))

    def _check_frame(self, sizes: tuple[int, ...]) -> None:
        if len(sizes) != self.spatial_dims:
            raise InputError(f"{self.registry_name()} codes frames of {self.spatial_dims} axes, got a frame of shape "
                             f"{tuple(sizes)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, *frame) -> latent (N, C, *frame / 2**depth)."""
        sizes = tuple(x.shape[-self.spatial_dims:])
        padded = self.padded_size(*sizes)
        x = x.reshape(-1, 1, *sizes)
        if padded != sizes:
            pad: list[int] = []
            for s, p in zip(reversed(sizes), reversed(padded)):  # F.pad takes the last axis first
                pad += [0, p - s]
            x = F.pad(x, pad, mode="replicate")
        return self.encoder(x)

    def decode(self, z: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """latent -> (N, *frame), cropped to ``shape`` (the frame's sizes)."""
        y = self.decoder(z)[:, 0]
        if shape is not None:
            y = y[(slice(None), *(slice(0, s) for s in shape[-self.spatial_dims:]))]
        return y

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"x_hat": self.decode(z, tuple(x.shape[-self.spatial_dims:])), "latent": z}

    @classmethod
    def args_for_data(cls, data, mc, latent_bits: float) -> dict:
        """Constructor arguments for a field (N x *frame) and a model config."""
        from baler_core.models.sizing import latent_channels_for_ratio

        if data.ndim != cls.spatial_dims + 1:
            hint = f"; use conv{data.ndim - 1}d (or auto)" if data.ndim in (3, 4) else ""
            raise InputError(f"{cls.registry_name()} needs fields of {cls.spatial_dims} spatial axes "
                             f"(N x {' x '.join('DHW'[-cls.spatial_dims:])}), got shape {tuple(data.shape)}{hint}")
        depth = len(mc.channels)
        lc = mc.latent_dim or (latent_channels_for_ratio(depth, mc.ratio, latent_bits, cls.spatial_dims)
                               if mc.ratio else 4)
        return {"latent_channels": max(1, int(round(lc))), "channels": list(mc.channels),
                "activation": mc.activation or "gelu"}


class ConvAutoencoder3d(ConvAutoencoder):
    """``conv3d``: the same network with 3-D convolutions, for N x D x H x W fields (trained on cubic patches)."""

    spatial_dims = 3
