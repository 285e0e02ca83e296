"""Autoencoder models, kept in a registry and rebuilt from their stored constructor arguments.

Every model is float32 and has ``encode``, ``decode`` and ``forward`` (returning a dict, as in CompressAI).
``dense``: F -> hidden... -> latent -> ...hidden -> F; the original Baler is ``hidden=(200, 100, 50)``.
``conv2d``: a fully convolutional autoencoder for N x H x W fields of any H and W (inputs are padded to a
multiple of 2**depth and cropped back), with a latent of ``latent_channels`` x H/2**depth x W/2**depth.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from .errors import InputError

_ACTIVATIONS = {"leaky_relu": lambda: nn.LeakyReLU(0.01), "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def _activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise InputError(f"activation {name!r} unknown; choose one of {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


class DenseAutoencoder(nn.Module):
    kind = "table"

    def __init__(self, n_features: int, latent_dim: int, hidden: list[int] | tuple[int, ...] = (200, 100, 50),
                 activation: str = "leaky_relu") -> None:
        super().__init__()
        if n_features < 1 or latent_dim < 1:
            raise InputError(f"dense model needs n_features >= 1 and latent_dim >= 1, got {n_features}, {latent_dim}")
        dims = [n_features, *hidden, latent_dim]
        enc: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            enc += [nn.Linear(a, b), _activation(activation)]
        self.encoder = nn.Sequential(*enc[:-1])
        rdims = dims[::-1]
        dec: list[nn.Module] = []
        for a, b in zip(rdims[:-1], rdims[1:]):
            dec += [nn.Linear(a, b), _activation(activation)]
        self.decoder = nn.Sequential(*dec[:-1])
        self.latent_dim = latent_dim

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"x_hat": self.decode(z), "latent": z}


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


class _SequentialHeads(nn.Module):
    """All per-column MLPs as stacked tensors, so training evaluates them in a few batched products.
    ``mask[j, i] = 1`` where column j may see column i (i < j); masked weights stay zero."""

    def __init__(self, n: int, hidden: int, depth: int, context: bool) -> None:
        super().__init__()
        mask = torch.tril(torch.ones(n, n), diagonal=-1) if context else torch.zeros(n, n)
        self.register_buffer("mask", mask, persistent=False)
        self.w_in = nn.Parameter(torch.randn(n, n, hidden) / math.sqrt(max(n, 1)) * mask[:, :, None])
        self.b_in = nn.Parameter(torch.zeros(n, hidden))
        self.w_hidden = nn.Parameter(torch.randn(max(depth - 1, 0), n, hidden, hidden) / math.sqrt(hidden))
        self.b_hidden = nn.Parameter(torch.zeros(max(depth - 1, 0), n, hidden))
        self.w_out = nn.Parameter(torch.randn(n, hidden) / math.sqrt(hidden) * 0.1)
        self.b_out = nn.Parameter(torch.zeros(n))


class SequentialPredictor(nn.Module):
    """Column-by-column prediction for error-bounded coding of tables: column j is predicted from the
    already *reconstructed* columns 0..j-1 by a small MLP, and only the quantized residual is stored.

    Exact and near-exact relations between columns (energy from pt, eta and mass; a multiplicity that is the
    sum of others) make later residuals nearly free. There is no latent; the whole network is the decoder.
    With ``context=False`` every column is predicted by a constant: the per-column quantize + entropy-code
    floor. Training adds uniform noise of ``noise`` (normalized units) to the inputs, as reconstruction will.
    """

    kind = "table"
    sequential = True

    def __init__(self, n_features: int, hidden: int = 32, depth: int = 2, context: bool = True,
                 noise: float = 1e-3, activation: str = "gelu") -> None:
        super().__init__()
        if n_features < 1 or hidden < 1 or depth < 1:
            raise InputError("sequential model needs n_features, hidden and depth >= 1")
        self.n_features, self.context, self.noise, self.depth = n_features, context, noise, depth
        self.act = _activation(activation)
        self.decoder = _SequentialHeads(n_features, hidden, depth, context)

    def _heads(self, x: torch.Tensor, w_in: torch.Tensor, cols: slice) -> torch.Tensor:
        d = self.decoder
        h = self.act(torch.einsum("jnf,jfh->jnh", x, w_in) + d.b_in[cols, None])
        for k in range(self.depth - 1):
            h = self.act(torch.einsum("jnh,jhg->jng", h, d.w_hidden[k, cols]) + d.b_hidden[k, cols, None])
        return torch.einsum("jnh,jh->jn", h, d.w_out[cols]) + d.b_out[cols, None]

    @torch.no_grad()
    def clear_heads(self, cols: list[int]) -> None:
        """Zero the heads of columns predicted otherwise (exact relations): their weights then cost almost
        nothing in the compressed decoder."""
        d = self.decoder
        for j in cols:
            for p in (d.w_in, d.b_in, d.w_out, d.b_out):
                p[j] = 0
            d.w_hidden[:, j] = 0
            d.b_hidden[:, j] = 0

    def predict_column(self, j: int, previous: torch.Tensor) -> torch.Tensor:
        """Prediction of column ``j`` (N,) from reconstructed normalized columns ``previous`` (N, >= j)."""
        d = self.decoder
        x = previous[:, :j] if self.context else previous[:, :0]
        w = d.w_in[j : j + 1, : x.shape[1]]
        return self._heads(x[None], w, slice(j, j + 1))[0]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        inp = x + (torch.rand_like(x) - 0.5) * 2 * self.noise if self.training and self.noise > 0 else x
        d = self.decoder
        masked = inp[None] * d.mask[:, None, :]  # (F, N, F): head j sees columns < j only
        out = self._heads(masked, d.w_in * d.mask[:, :, None], slice(None))
        return {"x_hat": out.T, "latent": x.new_zeros(x.shape[0], 1)}


MODEL_REGISTRY: dict[str, type[nn.Module]] = {"dense": DenseAutoencoder, "conv2d": ConvAutoencoder,
                                              "sequential": SequentialPredictor}


def build_model(name: str, args: dict) -> nn.Module:
    """Build a float32 model from its registry name and constructor arguments."""
    if name not in MODEL_REGISTRY:
        raise InputError(f"model {name!r} unknown; registered models: {', '.join(MODEL_REGISTRY)}")
    try:
        return MODEL_REGISTRY[name](**args).float()
    except TypeError as exc:
        raise InputError(f"bad arguments for model {name!r}: {exc}") from exc


def latent_dim_for_ratio(n_features: int, ratio: float, latent_bits: float = 16, input_bits: float = 32) -> int:
    """Latent size whose quantized bits are ``ratio`` times fewer than a float32 input row's (before entropy coding)."""
    if ratio <= 0:
        raise InputError(f"--ratio must be positive, got {ratio}")
    return max(1, int(round(n_features * input_bits / (ratio * latent_bits))))


def latent_channels_for_ratio(depth: int, ratio: float, latent_bits: float = 16, input_bits: float = 32) -> int:
    """Latent channels of a conv model with ``depth`` stride-2 levels for a nominal ratio."""
    if ratio <= 0:
        raise InputError(f"--ratio must be positive, got {ratio}")
    return max(1, int(round(4**depth * input_bits / (ratio * latent_bits))))
