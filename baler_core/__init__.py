"""baler: machine-learning lossy compression for scientific tables and fields."""

__version__ = "0.1.0"
