"""Stage ``prep``: what is done to data before a model sees it: ``splitting`` (train / validation / test)
and ``normalization`` (per-column min-max or standard scaling, log columns; JSON round trip).

May import: ``errors``, ``io``."""
