"""Stage ``coding``: turning values into bytes under an error bound, with or without a model's prediction.
``error_bounds`` (bound specs), ``quantization`` (steps and exceptions), ``columns`` (the column modes and their
decoder), ``rms`` (the rms bound search), ``free`` (columns without a model), ``grid`` and ``predictors/`` (field
blocks), ``entropy`` (ANS and zstd integer streams), ``contexts`` (context-split streams), ``parallel`` (threads),
``options`` (what a compression run asks for).

May import: ``errors`` (never ``format``, ``models``, ``codec`` or above)."""
