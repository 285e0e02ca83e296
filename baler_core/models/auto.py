"""What ``--model auto`` means, and the traits of a model the codec asks about: no torch here, so the pipeline's
planning and the model-free codec paths run without loading it (about 1.3 s a process)."""

from __future__ import annotations

from baler_core.errors import InputError

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


def is_sequential(model: object) -> bool:
    """Whether a model codes columns one after the other (no latent): ``SequentialPredictor`` says so."""
    return getattr(type(model), "sequential", False) is True
