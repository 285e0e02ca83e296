"""The model registry: registry name -> class (what ``--model auto`` means is in :mod:`.auto`)."""

from __future__ import annotations

from torch import nn

from baler_core.errors import InputError
from baler_core.models.conv import ConvAutoencoder, ConvAutoencoder3d
from baler_core.models.dense import DenseAutoencoder
from baler_core.models.pod import PODModel
from baler_core.models.sequential import SequentialPredictor

MODEL_REGISTRY: dict[str, type[nn.Module]] = {"dense": DenseAutoencoder, "conv2d": ConvAutoencoder,
                                              "conv3d": ConvAutoencoder3d, "sequential": SequentialPredictor,
                                              "pod": PODModel}


def build_model(name: str, args: dict) -> nn.Module:
    """Build a float32 model from its registry name and constructor arguments."""
    if name not in MODEL_REGISTRY:
        raise InputError(f"model {name!r} unknown; registered models: {', '.join(MODEL_REGISTRY)}")
    try:
        return MODEL_REGISTRY[name](**args).float()
    except TypeError as exc:
        raise InputError(f"bad arguments for model {name!r}: {exc}") from exc
