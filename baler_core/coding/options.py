"""What a compression run is asked for: bounds, entropy coder, block size, threads, field predictor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from baler_core.coding.error_bounds import BoundSpec

ZSTD_LEVEL = 9


@dataclass
class CompressionOptions:
    bounds: BoundSpec
    embed_decoder: bool = False
    entropy: str = "auto"  # auto | ans | zstd
    block_rows: int = 1 << 18
    level: int = ZSTD_LEVEL
    threads: int = 0  # 0: every core this process may use
    dither: bool = True  # table columns: subtractive dither on the grid and on model residuals (no aliasing)
    field_predictor: str = "auto"  # model-free field blocks: lorenzo, interp, spline, dct, or auto (all but interp)
    # fields with the decoder embedded: also code without a model and keep the smaller file (False: keep the model,
    # as the format fixtures need)
    model_fallback: bool = True
    use_priors: bool = True  # sequential tables: code streams against the model's priors where smaller
    header_template: bool = True  # with priors: the column records compressed with the model's header template
    # fitting priors (``codec.priors``): called with (column, stream, mode, the context split chosen, the values,
    # a function giving the group of each row under split items) of every residual, zero-flag and sign-flip
    # stream a sequential block codes
    observe: Callable[..., None] | None = None
