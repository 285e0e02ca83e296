"""``sequential``: column-by-column prediction for error-bounded coding of tables (no latent; the whole
network is the decoder). Exact relations between columns are found at training time (:mod:`.relations`)."""

from __future__ import annotations

import math

import torch
from torch import nn

from baler_core.errors import InputError
from baler_core.models.layers import activation as _activation
from baler_core.models.light import head_slices


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

    @torch.no_grad()
    def head_arrays(self, j: int) -> tuple:
        """Column ``j``'s head as contiguous float64 arrays for the compiled kernel (``coding.mlp_kernels``):
        ``(inputs, w_in (inputs, H), b_in (H,), w_hidden (D, H, H), b_hidden (D, H), w_out (H,), b_out)``."""
        w = {name: p.detach().to("cpu", torch.float64).numpy() for name, p in self.decoder.named_parameters()}
        return head_slices(w, j, self.context)

    def activation_name(self) -> tuple[str, float] | None:
        """The heads' activation as the compiled kernel names it, with its slope (leaky ReLU); None where the
        kernel has no exact copy of it (a tanh-approximated GELU)."""
        act = self.act
        if isinstance(act, nn.GELU):
            return ("gelu", 0.0) if act.approximate == "none" else None
        if isinstance(act, nn.LeakyReLU):
            return "leaky_relu", float(act.negative_slope)
        if isinstance(act, nn.ReLU):
            return "relu", 0.0
        if isinstance(act, nn.Tanh):
            return "tanh", 0.0
        return None

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        inp = x + (torch.rand_like(x) - 0.5) * 2 * self.noise if self.training and self.noise > 0 else x
        d = self.decoder
        masked = inp[None] * d.mask[:, None, :]  # (F, N, F): head j sees columns < j only
        out = self._heads(masked, d.w_in * d.mask[:, :, None], slice(None))
        return {"x_hat": out.T, "latent": x.new_zeros(x.shape[0], 1)}

    @classmethod
    def args_for_data(cls, data, mc, latent_bits: float) -> dict:
        """Constructor arguments for a table: ``--ratio`` sets the width of the heads (hidden = 64 / ratio; see
        benchmarks/README.md for why the default is 8). The heads' default activation is ReLU: on held-out jets of
        two generators, three seeds each, it stores 0.3-0.7 % fewer bytes than GELU and its heads infer about
        twice as fast (benchmarks/README.md, "ReLU heads"); models stored with GELU keep it."""
        hidden = mc.latent_dim or (max(4, int(round(64 / mc.ratio))) if mc.ratio else 8)
        return {"n_features": data.shape[1], "hidden": int(hidden), "context": mc.context,
                "activation": mc.activation or "relu"}
