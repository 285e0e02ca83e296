"""Stage ``models``: the networks, kept in a registry and rebuilt from their stored constructor arguments, and the
model store (safetensors files). Each model is a class with ``kind`` ("table" or "field"), ``encode`` /
``decode`` / ``forward`` (a dict, as in CompressAI) and ``args_for_data(data, config, latent_bits)``, which builds
its constructor arguments from the data and the model config. ``auto_model`` is the one place that decides what
``--model auto`` means.

The package's names load their module on first use: ``auto`` and ``store`` need no torch until a model is built
or loaded, so model-free coding and the pipeline's planning never import it.

May import: ``errors``, ``prep``, ``coding`` (never ``training``, ``codec``, ``evaluation`` or ``cli``).
"""

from __future__ import annotations

import importlib

# name -> submodule; imported on first use, so that ``models.auto`` and ``models.store`` load without torch
_NAMES = {
    "ConvAutoencoder": "conv", "ConvAutoencoder3d": "conv", "DenseAutoencoder": "dense",
    "SequentialPredictor": "sequential", "MODEL_REGISTRY": "registry", "build_model": "registry",
    "AUTO_MODELS": "auto", "auto_model": "auto", "auto_reason": "auto", "is_sequential": "auto",
    "resolve_model_name": "auto", "latent_channels_for_ratio": "sizing", "latent_dim_for_ratio": "sizing",
    "ModelBundle": "store", "load_decoder_blob": "store", "load_model": "store", "save_model": "store",
    "sha256_hex": "store",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str) -> object:
    if name not in _NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
