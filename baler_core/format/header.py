"""The ``.baler`` header as a dataclass that validates itself: everything the decoder relies on is checked
here, before a byte is allocated, so a damaged or hostile header fails with a FormatError that names the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from baler_core.errors import FormatError

KINDS = ("table", "field")
DTYPE_STR = re.compile(r"[<>|=]?[biuf][1248]")  # what a writer records: numpy's ``dtype.str`` of a number type


def header_field(h: dict, key: str, kind: type, path) -> object:
    v = h.get(key) if isinstance(h, dict) else None
    if not isinstance(v, kind) or isinstance(v, bool):
        raise FormatError(f"{path}: header field {key!r} missing or of the wrong type")
    return v


def parse_columns(columns: list, path) -> tuple[list[str], list[np.dtype]]:
    try:
        names = [str(c["name"]) for c in columns]
        kinds = [c["dtype"] for c in columns]
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(f"{path}: column list malformed ({exc})") from exc
    # checked before numpy parses them: np.dtype reads comma lists and Python literals (a mutated ",": SyntaxError)
    if not all(isinstance(k, str) and DTYPE_STR.fullmatch(k) for k in kinds):
        raise FormatError(f"{path}: column dtypes must be numeric type codes, got {kinds!r:.200}")
    dtypes = [np.dtype(k) for k in kinds]
    if any(d.kind not in "biuf" or d.itemsize > 8 for d in dtypes):
        raise FormatError(f"{path}: column dtypes must be numeric, got {[d.str for d in dtypes]}")
    if len(set(names)) != len(names):
        raise FormatError(f"{path}: duplicate column names")
    return names, dtypes


@dataclass(frozen=True)
class Header:
    """A parsed header: ``frame`` is a field's H x W (None for tables); ``blocks`` the raw block records,
    whose row counts are checked to add up to ``n_rows``."""
    kind: str
    n_rows: int
    names: list[str]
    dtypes: list[np.dtype]
    blocks: list[dict]
    latent_dtype: str
    frame: tuple[int, ...] | None  # H x W or D x H x W
    model_used: bool

    @classmethod
    def parse(cls, h: dict, path) -> Header:
        if not isinstance(h, dict) or h.get("format") != "baler" or h.get("kind") not in KINDS:
            raise FormatError(f"{path}: header does not describe a baler table or field")
        spec = header_field(h.get("latent"), "dtype", str, path)
        blocks = header_field(h, "blocks", list, path)
        names, dtypes = parse_columns(header_field(h, "columns", list, path), path)
        n_total = header_field(h, "n_rows", int, path)
        if n_total < 0 or any(not isinstance(b, dict) or not isinstance(b.get("rows"), int) or b["rows"] < 0
                              for b in blocks) or sum(b["rows"] for b in blocks) != n_total:
            raise FormatError(f"{path}: block row counts do not add up to n_rows")
        frame = None
        if h["kind"] == "field":
            shape = header_field(h, "shape", list, path)
            if (len(shape) not in (3, 4) or not all(isinstance(v, int) and not isinstance(v, bool) for v in shape)
                    or shape[0] != n_total or min(shape[1:]) < 1 or len(names) != 1):
                raise FormatError(f"{path}: field shape {shape!r} invalid")
            frame = tuple(shape[1:])  # H x W, or D x H x W (format 1.7)
        model = h.get("model", {})
        used = model.get("used", True) is not False if isinstance(model, dict) else True
        return cls(h["kind"], n_total, names, dtypes, blocks, spec, frame, used)

    @property
    def values_per_row(self) -> int:
        return math.prod(self.frame) if self.frame else 1

    @property
    def output_bytes(self) -> int:
        return self.n_rows * self.values_per_row * sum(d.itemsize for d in self.dtypes)
