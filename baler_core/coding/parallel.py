"""Thread parallelism for coding: numpy, zstd and file reads release the GIL, so columns and blocks code in
parallel threads with bounded memory."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def threads(requested: int) -> int:
    """``requested`` threads, or with 0 every core this process may use."""
    if requested > 0:
        return requested
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def ordered_map(fn: Callable[[T], R], items: Iterable[T], threads: int, ahead: int | None = None) -> Iterator[R]:
    """``map`` on a thread pool, results in order, at most ``ahead`` (default ``2 * threads``) items in flight:
    large items (a model block's working arrays) pass ``threads``, so memory grows by no more than that."""
    if threads <= 1:
        yield from map(fn, items)
        return
    limit = max(ahead or 2 * threads, 1)
    with ThreadPoolExecutor(threads) as ex:
        pending = []
        for item in items:
            pending.append(ex.submit(fn, item))
            if len(pending) >= limit:
                yield pending.pop(0).result()
        for f in pending:
            yield f.result()
