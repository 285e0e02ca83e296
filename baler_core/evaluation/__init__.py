"""Stage ``evaluation``: judging a reconstruction. ``metrics`` (per-variable errors, pooling over seeds),
``summary`` (one table per sweep), ``plots`` (per-variable, field frames, loss curves, rate-distortion),
``baselines`` (gzip, zstd, truncation, SZ3, ZFP and baler without a model, measured the same way).

May import: every stage below ``pipeline`` and ``cli``."""
