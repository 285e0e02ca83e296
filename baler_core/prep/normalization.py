"""Per-column normalization, fitted on training rows only and stored with the model.

Compression and decompression always reuse the stored parameters; nothing is refitted on the data being
compressed (a fault of the original Baler). Heavy-tailed columns can first go through ``asinh(x / s)``,
a log transform that is also defined at zero and for the tiny negative values float rounding produces.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from baler_core.errors import InputError

METHODS = ("minmax", "standard")


@dataclass
class ColumnNorm:
    name: str
    log: bool
    log_scale: float
    offset: float
    scale: float


@dataclass
class Normalizer:
    method: str
    columns: list[ColumnNorm]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def transform_column(self, j: int, values: np.ndarray) -> np.ndarray:
        """Column ``j`` in normalized units (float64); non-finite values become 0."""
        c = self.columns[j]
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            y = ((np.arcsinh(v / c.log_scale) if c.log else v) - c.offset) / c.scale
        y[~np.isfinite(y)] = 0.0
        return y

    def inverse_column(self, j: int, y: np.ndarray) -> np.ndarray:
        """Column ``j`` back in physical units (float64)."""
        c = self.columns[j]
        col = np.asarray(y, dtype=np.float64) * c.scale + c.offset
        with np.errstate(over="ignore"):
            return np.sinh(col) * c.log_scale if c.log else col

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Map an (N, F) array to normalized float32; non-finite values become 0."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.columns):
            raise InputError(f"normalization expects {len(self.columns)} columns, got array of shape {x.shape}")
        y = np.empty_like(x)
        for j in range(len(self.columns)):
            y[:, j] = self.transform_column(j, x[:, j])
        return y.astype(np.float32)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Map normalized values back to physical units (float64)."""
        y = np.asarray(y, dtype=np.float64)
        x = np.empty_like(y)
        for j in range(len(self.columns)):
            x[:, j] = self.inverse_column(j, y[:, j])
        return x

    def to_dict(self) -> dict:
        return {"method": self.method, "columns": [asdict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        try:
            return cls(d["method"], [ColumnNorm(**c) for c in d["columns"]])
        except (KeyError, TypeError) as exc:
            raise InputError(f"malformed normalization record: {exc}") from exc


def _is_heavy_tailed(col: np.ndarray) -> bool:
    """Non-negative (up to rounding) with a long upper tail: pt, energies, masses."""
    if col.size < 10:
        return False
    lo, med, hi = np.percentile(col, [0.5, 50, 99.5])
    return bool(lo >= -1e-3 * max(abs(hi), 1e-30) and med > 0 and hi / med > 10)


def fit_normalizer(
    x: np.ndarray, names: list[str], method: str = "minmax", log_columns: list[str] | str | None = "auto"
) -> Normalizer:
    """Fit on training rows. ``log_columns``: a list of names, ``"auto"`` (heavy-tailed ones) or None."""
    if method not in METHODS:
        raise InputError(f"normalization method {method!r} unknown; choose one of {', '.join(METHODS)}")
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise InputError(f"cannot fit normalization: data shape {x.shape} does not match {len(names)} names")
    if isinstance(log_columns, list):
        unknown = [c for c in log_columns if c not in names]
        if unknown:
            raise InputError(f"log_columns not in the data: {', '.join(unknown)}")
    cols = []
    for j, name in enumerate(names):
        col = x[:, j][np.isfinite(x[:, j])]
        if isinstance(log_columns, list):
            use_log = name in log_columns
        else:
            use_log = log_columns == "auto" and _is_heavy_tailed(col)
        log_scale = 1.0
        if use_log:
            nz = np.abs(col[col != 0])
            log_scale = float(np.median(nz)) if nz.size else 1.0
            col = np.arcsinh(col / log_scale)
        if col.size == 0:
            offset, scale = 0.0, 1.0
        elif method == "minmax":
            offset, scale = float(col.min()), float(col.max() - col.min())
        else:
            offset, scale = float(col.mean()), float(col.std())
        if not np.isfinite(scale) or scale <= 0:
            scale = 1.0  # constant column: any scale maps it to a constant
        cols.append(ColumnNorm(name, bool(use_log), log_scale, offset, scale))
    return Normalizer(method, cols)
