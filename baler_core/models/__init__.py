"""Stage ``models``: the networks, kept in a registry and rebuilt from their stored constructor arguments, and the
model store (safetensors files). Each model is a class with ``kind`` ("table" or "field"), ``encode`` /
``decode`` / ``forward`` (a dict, as in CompressAI) and ``args_for_data(data, config, latent_bits)``, which builds
its constructor arguments from the data and the model config. ``auto_model`` is the one place that decides what
``--model auto`` means.

May import: ``errors``, ``prep``, ``coding`` (never ``training``, ``codec``, ``evaluation`` or ``cli``).
"""

from __future__ import annotations

from baler_core.models.conv import ConvAutoencoder, ConvAutoencoder3d
from baler_core.models.dense import DenseAutoencoder
from baler_core.models.registry import (
                                        AUTO_MODELS,
                                        MODEL_REGISTRY,
                                        auto_model,
                                        auto_reason,
                                        build_model,
                                        is_sequential,
                                        resolve_model_name,
)
from baler_core.models.sequential import SequentialPredictor
from baler_core.models.sizing import latent_channels_for_ratio, latent_dim_for_ratio
from baler_core.models.store import ModelBundle, load_decoder_blob, load_model, save_model, sha256_hex

__all__ = ["MODEL_REGISTRY", "AUTO_MODELS", "ConvAutoencoder", "ConvAutoencoder3d", "DenseAutoencoder", "ModelBundle",
           "SequentialPredictor", "auto_model", "auto_reason", "build_model", "is_sequential",
           "latent_channels_for_ratio",
           "latent_dim_for_ratio", "load_decoder_blob", "load_model", "resolve_model_name", "save_model",
           "sha256_hex"]
