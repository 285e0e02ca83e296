"""``pod``: the proper orthogonal decomposition of a campaign's frames, as a linear autoencoder.

Snapshot POD (Sirovich, Q. Appl. Math. 45, 1987): the mean frame and the ``modes`` leading principal directions
of the training frames, from one SVD. A frame's latent is its ``modes`` coefficients; the decoder rebuilds the
mean plus the modes' sum. The flows of one campaign (one geometry, nearby parameter values, successive windows)
share their leading modes, which is where a model trained once beats coding every file alone: on the wake
campaign of ``benchmarks/campaign.py`` the residual left by eight modes codes in about 72 % of the bytes the field
itself needs. The fit is closed-form (:meth:`PODModel.fit`), so ``pod`` trains in seconds, without epochs.

The model is tied to one frame shape (``frame``): its modes are frames. Its decoder is the mean and the modes,
``(modes + 1) x`` one frame, stored once per campaign; ``decoder_dtype`` float16 halves it, ``grid`` stores each
frame within a range-relative bound (``coding.packed``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
from torch import nn

from baler_core.errors import InputError

DEFAULT_MODES = 8


class _Basis(nn.Module):
    """The decoder's weights: the mean frame and the modes (orthonormal when fitted), each of the frame's shape."""

    def __init__(self, frame: tuple[int, ...], modes: int) -> None:
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(frame), requires_grad=False)
        self.modes = nn.Parameter(torch.zeros(modes, *frame), requires_grad=False)


class PODModel(nn.Module):
    """Mean frame plus ``modes`` POD modes of frames of shape ``frame`` (H x W or D x H x W)."""

    kind = "field"
    default_decoder_dtype = "grid"  # decoder_dtype auto: the modes on a grid (coding.packed), a fraction of float16

    def __init__(self, frame: list[int] | tuple[int, ...], modes: int = DEFAULT_MODES) -> None:
        super().__init__()
        self.frame = tuple(int(s) for s in frame)
        if len(self.frame) not in (2, 3) or min(self.frame) < 1:
            raise InputError(f"pod model needs a frame shape of 2 or 3 positive sizes, got {list(frame)}")
        if int(modes) < 1:
            raise InputError(f"pod model needs at least one mode, got {modes}")
        self.spatial_dims = len(self.frame)
        self.n_modes = int(modes)
        self.decoder = _Basis(self.frame, self.n_modes)

    @classmethod
    def registry_name(cls) -> str:
        return "pod"

    def check_frame(self, sizes: tuple[int, ...], source: str = "field") -> None:
        """Refuse frames of another shape than the one the modes were fitted on."""
        if tuple(sizes) != self.frame:
            raise InputError(f"{source}: frames of shape {tuple(sizes)}, but the pod model's modes are frames of "
                             f"{self.frame}; fit a pod model on this field's frames (or use conv2d / conv3d, "
                             f"which take any frame size)")

    def latent_shape(self, *sizes: int) -> tuple[int, ...]:
        self.check_frame(tuple(sizes))
        return (self.n_modes,)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, *frame) -> coefficients (N, modes): the least-squares fit of the modes to ``x - mean``."""
        self.check_frame(tuple(x.shape[1:]))
        flat = (x.to(self.decoder.modes.dtype) - self.decoder.mean).reshape(len(x), -1)
        basis = self.decoder.modes.reshape(self.n_modes, -1)
        # the stored modes may be float16-rounded, hence not exactly orthonormal: solve the normal equations
        gram = basis @ basis.T
        return torch.linalg.solve(gram, basis @ flat.T).T

    def decode(self, z: torch.Tensor, shape: tuple[int, ...] | None = None) -> torch.Tensor:
        """Coefficients (N, modes) -> frames (N, *frame)."""
        if shape is not None:
            self.check_frame(tuple(shape[-self.spatial_dims:]))
        z = z.reshape(len(z), self.n_modes).to(self.decoder.modes.dtype)
        return self.decoder.mean + (z @ self.decoder.modes.reshape(self.n_modes, -1)).reshape(len(z), *self.frame)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.encode(x)
        return {"x_hat": self.decode(z), "latent": z}

    def fit(self, x_train: np.ndarray, x_val: np.ndarray) -> dict:
        """Closed-form training: mean and leading right singular vectors of the training frames (normalized
        units). Returns training and validation MSE and the seconds taken."""
        t0 = time.perf_counter()
        a = torch.tensor(np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1))  # a copy: centred below
        if a.shape[1] != math.prod(self.frame):
            raise InputError(f"pod fit: frames of {tuple(x_train.shape[1:])}, model frame {self.frame}")
        mean = a.mean(0)
        a -= mean
        k = min(self.n_modes, len(a))
        # a thin SVD: N frames cost O(N^2) per value, as the snapshot method's N x N eigenproblem
        _, _, vt = torch.linalg.svd(a, full_matrices=False)
        modes = torch.zeros(self.n_modes, a.shape[1], dtype=torch.float64)
        modes[:k] = vt[:k]
        if k < self.n_modes:  # fewer frames than modes: the rest stay zero, made independent for the solve
            modes[k:] = torch.eye(self.n_modes, a.shape[1], dtype=torch.float64)[k:] * 1e-6
        with torch.no_grad():
            self.decoder.mean.copy_(mean.float().reshape(self.frame))
            self.decoder.modes.copy_(modes.float().reshape(self.n_modes, *self.frame))
        return {"train_loss": self._mse(x_train), "val_loss": self._mse(x_val), "seconds": time.perf_counter() - t0}

    def _mse(self, x: np.ndarray) -> float:
        if not len(x):
            return math.nan
        with torch.no_grad():
            t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
            return float(torch.mean((self.forward(t)["x_hat"] - t) ** 2))

    @classmethod
    def args_for_data(cls, data, mc, latent_bits: float) -> dict:
        """Frame shape from the data; ``latent_dim`` modes (default 8); the nominal ratio does not apply."""
        if data.ndim not in (3, 4):
            raise InputError(f"pod needs a field (N x H x W or N x D x H x W), got shape {tuple(data.shape)}")
        return {"frame": [int(s) for s in data.shape[1:]], "modes": int(mc.latent_dim or DEFAULT_MODES)}
