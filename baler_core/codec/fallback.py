"""A file that carries its decoder is never larger than the same data coded without a model.

The per-block choice between a model and the model-free coder counts no decoder (a campaign's files share one).
A file that embeds its decoder pays for it alone, so it is also coded without the model and the smaller file
kept: on a few hundred table rows, or a few frames, the decoder can outweigh all the model saves (the pipeline's
693-row HZZ split: 0.8-2.5x with the decoder, 3.6x without a model).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from baler_core.errors import InputError

log = logging.getLogger(__name__)


def keep_smaller(out_path: Path, header: dict, code_free: Callable[[Path], dict], source: str) -> dict:
    """``out_path`` holds the model's coding (its ``header``); code the data without a model next to it with
    ``code_free(path)`` and keep the smaller file. Returns the header of the file kept; data the model-free
    coder refuses (an InputError) keep the model's file."""
    free_path = out_path.with_name(f".{out_path.name}.model-free.part")
    try:
        try:
            free = code_free(free_path)
        except InputError:
            return header
        free_size, model_size = free_path.stat().st_size, out_path.stat().st_size
        if free_size >= model_size:
            return header
        log.info("%s: the embedded decoder costs more than the model saves; wrote the model-free coding (%d "
                 "bytes, with the model %d)", source, free_size, model_size)
        os.replace(free_path, out_path)
        return free
    finally:
        free_path.unlink(missing_ok=True)
