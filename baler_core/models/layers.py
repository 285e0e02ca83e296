"""Building blocks shared by the models: activations by name."""

from __future__ import annotations

from torch import nn

from baler_core.errors import InputError

_ACTIVATIONS = {"leaky_relu": lambda: nn.LeakyReLU(0.01), "relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def activation(name: str) -> nn.Module:
    if name not in _ACTIVATIONS:
        raise InputError(f"activation {name!r} unknown; choose one of {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()

