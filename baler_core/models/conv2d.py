"""``conv2d``: a fully convolutional autoencoder for N x H x W fields of any H and W (inputs are padded to a
multiple of 2**depth and cropped back), with a latent of ``latent_channels`` x H/2**depth x W/2**depth."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from baler_core.errors import InputError
from baler_core.models.layers import activation as _activation


class ConvAutoencoder(nn.Module):
    kind = "field"

    def __init__(self, latent_channels: int = 4, channels: list[int] | tuple[int, ...] = (16, 32, 32),
                 activation: str = "gelu") -> None:
        super().__init__()
        if latent_channels < 1 or not channels:
            raise InputError("conv2d model needs latent_channels >= 1 and at least one channel width")
        self.depth = len(channels)
        enc: list[nn.Module] = []
        c_in = 1
        for c in channels:
            enc += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), _activation(activation), nn.Conv2d(c, c, 3, padding=1),
                    _activation(activation)]
            c_in = c
        enc.append(nn.Conv2d(c_in, latent_channels, 1))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(latent_channels, channels[-1], 3, padding=1), _activation(activation)]
        rch = list(channels[::-1]) + [channels[0]]
        for a, b in zip(rch[:-1], rch[1:]):
            dec += [nn.ConvTranspose2d(a, b, 4, stride=2, padding=1), _activation(activation),
                    nn.Conv2d(b, b, 3, padding=1), _activation(activation)]
        dec.append(nn.Conv2d(channels[0], 1, 3, padding=1))
        self.decoder = nn.Sequential(*dec)
        self.latent_channels = latent_channels

    def padded_size(self, h: int, w: int) -> tuple[int, int]:
        m = 2**self.depth
        return math.ceil(h / m) * m, math.ceil(w / m) * m

    def latent_shape(self, h: int, w: int) -> tuple[int, int, int]:
        ph, pw = self.padded_size(h, w)
        return self.latent_channels, ph // 2**self.depth, pw // 2**self.depth

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, H, W) -> latent (N, C, h, w)."""
        h, w = x.shape[-2:]
        ph, pw = self.padded_size(h, w)
        x = x.reshape(-1, 1, h, w)
        if (ph, pw) != (h, w):
            x = F.pad(x, (0, pw - w, 0, ph - h), mode="replicate")
        return self.encoder(x)

    def decode(self, z: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """latent (N, C, h, w) -> (N, H, W) cropped to ``shape`` = (H, W)."""
        y = self.decoder(z)[:, 0]
        if shape is not None:
            y = y[:, : shape[-2], : shape[-1]]
        return y

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"x_hat": self.decode(z, tuple(x.shape[-2:])), "latent": z}

    @classmethod
    def args_for_data(cls, data, mc, latent_bits: float) -> dict:
        """Constructor arguments for an N x H x W field and a model config."""
        from baler_core.models.sizing import latent_channels_for_ratio

        depth = len(mc.channels)
        lc = mc.latent_dim or (latent_channels_for_ratio(depth, mc.ratio, latent_bits) if mc.ratio else 4)
        return {"latent_channels": max(1, int(round(lc))), "channels": list(mc.channels),
                "activation": mc.activation or "gelu"}
