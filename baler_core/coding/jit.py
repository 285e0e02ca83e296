"""When baler's compiled kernels run: the rANS decoder (``rans_kernels``), the dither offsets (``pcg_kernels``),
the hybrid tokens' low bits (``token_kernels``) and the transform coder's passes (``transform_kernels``), all
numba, all giving the very values numpy and constriction give.

Why a policy: a process's first compiled call pays numba's start, about 0.75 s on two cores, plus whatever other
installed packages register with numba on that call (``vector``, which FastJet pulls in, imports sympy: another
1.5 s). The kernels save about 9 ms per MB of model-free table decoded (``baler decompress`` to Parquet, 2
cores: 40 MB 1.29 s without them, 1.74 s with; 200 MB 4.2 s without, 3.2 s with). So they start only for work
that pays: a file that declares at least ``MIN_BYTES`` of output (a field to compress: of input) in the command
line's process, which keeps other packages' numba extensions out (``exclusive``: it compiles nothing else),
``MIN_BYTES_SHARED`` elsewhere (``engage``); once started they serve every later call of the process.
``BALER_JIT=on`` starts them for any work, ``off`` never.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from baler_core.errors import InputError

ENV = "BALER_JIT"
SETTINGS = ("auto", "on", "off")
MIN_BYTES = 96 << 20  # output bytes from which a file starts the kernels (auto), in the command line's process
MIN_BYTES_SHARED = 256 << 20  # the same in other processes (where other packages' extensions load too)
_active = False  # the kernels started in this process
_modules: dict[str, ModuleType | None] = {}
exclusive = False  # set by the command line: this process compiles nothing but baler's kernels


def setting() -> str:
    """``BALER_JIT`` (auto when unset); any other value is refused by name."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in SETTINGS:
        raise InputError(f"environment variable {ENV}={os.environ[ENV]!r}: expected one of {', '.join(SETTINGS)}")
    return value


def active() -> bool:
    """Whether the kernels run in this process (they started, numba is installed and ``BALER_JIT`` is not off)."""
    return _active and setting() != "off"


def engage(n_bytes: int) -> bool:
    """Start the kernels for work of ``n_bytes`` (a file's output, a field's input) where that pays; whether they
    now run."""
    global _active
    choice = setting()
    if choice == "off":
        return False
    if not _active and (choice == "on" or n_bytes >= (MIN_BYTES if exclusive else MIN_BYTES_SHARED)):
        _active = module("rans_kernels") is not None
    return _active


def module(name: str) -> ModuleType | None:
    """``baler_core.coding.<name>``, imported on first use; None where numba is missing."""
    if name not in _modules:
        if exclusive:
            _skip_foreign_extensions()
        try:
            _modules[name] = importlib.import_module(f"baler_core.coding.{name}")
        except ImportError:  # pragma: no cover - numba is a dependency
            _modules[name] = None
    return _modules[name]


def _skip_foreign_extensions() -> None:
    """Mark numba's extension entry points as loaded, so its first compile does not import other packages'
    numba extensions (none of which baler's kernels use). Only for a process that compiles nothing else."""
    try:
        from numba.core import entrypoints
    except ImportError:  # pragma: no cover - numba is a dependency
        return
    if hasattr(entrypoints, "_already_initialized"):
        entrypoints._already_initialized = True
