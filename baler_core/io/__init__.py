"""Stage ``io``: reading and writing users' data. ``tables`` (ROOT TTrees, Parquet, NPZ, CSV, in chunks),
``fields`` (N x H x W arrays from .npy/.npz, memory-mapped), ``filesets`` (many input files: globs, lists,
batches, training samples).

May import: ``errors`` only."""
