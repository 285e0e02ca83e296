"""Stage ``format``: the ``.baler`` file. ``container`` (sections, checksums, the byte layout), ``header``
(the header record as a dataclass that validates itself) and ``inspect`` (sizes and per-column costs for
``baler info``).

May import: ``errors``, ``coding``."""
