"""The model registry: registry name -> class, and the one place that decides what ``--model auto`` means."""

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
# what ``--model auto`` trains for each kind of data (field3d: N x D x H x W)
AUTO_MODELS = {"table": "sequential", "field": "conv2d", "field3d": "conv3d"}
# why, as ``baler train`` logs it and records it in the model file (``baler info MODEL``)
AUTO_REASONS = {
    "table": "tables are coded under an error bound, where the sequential model (each column predicted from the "
             "columns before it) stores the fewest bytes of the table models, decoder counted (benchmarks/README.md, "
             "'The default model'); it needs an error bound: train --model dense for a reconstruction without one",
    "field": "the fully convolutional autoencoder takes frames of any H x W; each block falls back to the "
             "model-free coder where that is smaller",
    "field3d": "the fully convolutional 3-D autoencoder takes volumes of any D x H x W (trained on cubic patches); "
               "each block falls back to the model-free coder where that is smaller",
}


def auto_model(kind: str) -> str:
    """The registry name ``auto`` stands for on data of ``kind`` ("table", "field" or "field3d")."""
    if kind not in AUTO_MODELS:
        raise InputError(f"data kind {kind!r} unknown; expected one of {', '.join(AUTO_MODELS)}")
    return AUTO_MODELS[kind]


def auto_reason(kind: str) -> str:
    """Why ``auto`` stands for ``auto_model(kind)``."""
    auto_model(kind)
    return AUTO_REASONS[kind]


def resolve_model_name(name: str, kind: str) -> str:
    """``name``, or for ``auto`` the registry's choice for ``kind``."""
    return auto_model(kind) if name == "auto" else name


def is_sequential(model: nn.Module) -> bool:
    """Whether a model codes columns one after the other (no latent)."""
    return isinstance(model, SequentialPredictor)


def build_model(name: str, args: dict) -> nn.Module:
    """Build a float32 model from its registry name and constructor arguments."""
    if name not in MODEL_REGISTRY:
        raise InputError(f"model {name!r} unknown; registered models: {', '.join(MODEL_REGISTRY)}")
    try:
        return MODEL_REGISTRY[name](**args).float()
    except TypeError as exc:
        raise InputError(f"bad arguments for model {name!r}: {exc}") from exc
