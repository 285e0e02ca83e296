"""Reading and writing fields: N x H x W or N x D x H x W arrays (CFD over time, time first) in NPY or NPZ
files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from baler_core.errors import InputError

FIELD_SUFFIXES = (".npy", ".npz")


def read_field(path: str | Path, key: str | None = None) -> np.ndarray:
    """Read a float N x H x W (or N x D x H x W) field; an NPZ must hold one array or name it with ``key``.
    Never unpickles."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file does not exist")
    try:
        if p.suffix.lower() == ".npy":
            arr = np.load(p, allow_pickle=False, mmap_mode="r")
        elif p.suffix.lower() == ".npz":
            with np.load(p, allow_pickle=False) as npz:
                names = list(npz.files)
                if key is None:
                    key = "field" if "field" in names else names[0] if len(names) == 1 else None
                if key is None or key not in names:
                    raise InputError(f"{p}: choose the field array with --field-key; arrays in file: "
                                     f"{', '.join(names)}")
                arr = npz[key]
        else:
            raise InputError(f"{p}: unsupported field format {p.suffix!r}; expected .npy or .npz")
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"{p}: cannot read array without pickle ({exc})") from exc
    if arr.ndim not in (3, 4):  # a 2-D frame is refused, not reshaped: it would come back as 1 x H x W
        hint = "; save a single frame as 1 x H x W" if arr.ndim == 2 else ""
        raise InputError(f"{p}: a field must be N x H x W or N x D x H x W (time first), got shape "
                         f"{arr.shape}{hint}")
    if arr.dtype not in (np.float32, np.float64):
        raise InputError(f"{p}: field dtype must be float32 or float64, got {arr.dtype}")
    return arr


class NpyFrames:
    """Frames of an N x H x W ``.npy`` file read on demand with plain file reads: slicing ``[a:b]`` returns an
    array. Unlike a memory map, the pages read do not stay in this process's resident memory, so compressing
    a file larger than memory keeps a flat memory profile."""

    def __init__(self, path: str | Path, frames: np.memmap) -> None:
        self.path = Path(path)
        self.shape, self.dtype, self.ndim, self.size = frames.shape, frames.dtype, frames.ndim, frames.size
        self._offset = frames.offset  # where the data start, after the .npy header
        self._frame = math.prod(frames.shape[1:]) * frames.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, sl: slice) -> np.ndarray:
        start, stop, step = sl.indices(self.shape[0])
        if step != 1:
            raise IndexError("NpyFrames supports contiguous slices only")
        n = max(0, stop - start)
        with open(self.path, "rb") as f:
            f.seek(self._offset + start * self._frame)
            out = np.fromfile(f, dtype=self.dtype, count=n * self._frame // self.dtype.itemsize)
        if out.size * self.dtype.itemsize != n * self._frame:
            raise InputError(f"{self.path}: file shorter than its header declares")
        return out.reshape(n, *self.shape[1:])


def open_field(path: str | Path, key: str | None = None) -> np.ndarray | NpyFrames:
    """Like :func:`read_field`, but a C-ordered ``.npy`` comes back as :class:`NpyFrames` (streamed)."""
    arr = read_field(path, key)
    if isinstance(arr, np.memmap) and arr.flags.c_contiguous:  # .npy files are read as memory maps
        return NpyFrames(path, arr)
    return arr


def write_field(field: np.ndarray, path: str | Path) -> None:
    """Write by suffix: .npy (plain array) or .npz (array named ``field``)."""
    p = Path(path)
    if p.suffix.lower() == ".npy":
        np.save(p, field, allow_pickle=False)
    elif p.suffix.lower() == ".npz":
        np.savez_compressed(p, field=field)
    else:
        raise InputError(f"{p}: unsupported field format {p.suffix!r}; expected .npy or .npz")


def is_field_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".npy" or (
        Path(path).suffix.lower() == ".npz" and "names" not in _npz_names(path)
    )


def _npz_names(path: str | Path) -> list[str]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return list(npz.files)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable NPZ file ({exc})") from exc
