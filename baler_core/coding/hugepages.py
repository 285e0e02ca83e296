"""numpy's transparent-hugepage advice, turned off for a process once it does large work.

numpy asks the kernel to back every array of 4 MB or more with 2 MB pages (``madvise(MADV_HUGEPAGE)``). Where
the kernel's THP ``defrag`` setting is ``madvise`` (its default since Linux 4.6), a fault on such an array
compacts memory first whenever free 2 MB pages are short, in the faulting thread. Coding allocates large short-lived
arrays (a transform block's coefficients, its rebuilt values, the output): on this project's 2-core VM decoding a
200 MB turbulence field after compressing it spent 1.2-1.9 s of system time a run with the advice (86-115 MB/s),
0.15-0.25 s without (150-200 MB/s), the same user time; compressing took the same time either way
(``benchmarks/README.md``, eighteenth session).

So from work of ``MIN_BYTES`` on (a field's or table's values, a file's output) the advice is turned off for the
rest of the process, unless ``NUMPY_MADVISE_HUGEPAGE`` is set: numpy's own switch, a user's choice that stays.
It only changes how the kernel backs memory, never a value.
"""

from __future__ import annotations

import os

ENV = "NUMPY_MADVISE_HUGEPAGE"
MIN_BYTES = 32 << 20
_relaxed = False


def relax(n_bytes: int) -> bool:
    """Turn numpy's hugepage advice off for work of ``n_bytes`` (see the module's docstring); whether it is off
    by this module's doing."""
    global _relaxed
    if _relaxed or n_bytes < MIN_BYTES or ENV in os.environ:
        return _relaxed
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy 1.x keeps it in numpy.core; a numpy without it has no advice to turn off
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return False
    _set_madvise_hugepage(False)
    _relaxed = True
    return True
