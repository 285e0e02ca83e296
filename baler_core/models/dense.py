"""``dense``: the autoencoder of the Baler study, F -> hidden... -> latent -> ...hidden -> F (the original Baler
is ``hidden=(200, 100, 50)``). Float32; ``encode``, ``decode`` and ``forward`` (a dict, as in CompressAI)."""

from __future__ import annotations

import torch
from torch import nn

from baler_core.errors import InputError
from baler_core.models.layers import activation as _activation


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

    @classmethod
    def args_for_data(cls, data, mc, latent_bits: float) -> dict:
        """Constructor arguments for a table and a model config (``--latent-dim`` or ``--ratio``)."""
        from baler_core.models.sizing import latent_dim_for_ratio

        nf = data.shape[1]
        latent = mc.latent_dim or (latent_dim_for_ratio(nf, mc.ratio, latent_bits) if mc.ratio else max(1, nf // 2))
        return {"n_features": nf, "latent_dim": int(round(latent)), "hidden": list(mc.hidden),
                "activation": mc.activation or "leaky_relu"}
