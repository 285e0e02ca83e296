"""Progress of long steps (training, compression, decompression): a tqdm bar with rows or frames done, MB/s and
ETA on a terminal, with log lines printed above the bar instead of through it; in a log file (SLURM, Snakemake)
one line every ``every`` percent, or every ``interval`` seconds when the total is not known."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Iterator

log = logging.getLogger("baler")


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def logging_above_bars() -> Iterator[None]:
    """Route log records through ``tqdm.write`` while bars may be drawn, so the two do not garble each other."""
    if not on_terminal():
        yield
        return
    from tqdm.contrib.logging import logging_redirect_tqdm

    with logging_redirect_tqdm(loggers=[logging.getLogger()]):
        yield


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Count ``unit`` (rows, frames, epochs) done out of ``total`` (None: unknown). ``bytes_per_unit`` turns the
    rate into MB/s of raw data."""

    def __init__(self, desc: str, total: int | None, unit: str = "rows", bytes_per_unit: float = 0.0,
                 every: float = 10.0, interval: float = 30.0, bar: bool | None = None) -> None:
        self.desc, self.total, self.unit, self.bytes_per_unit = desc, total, unit, bytes_per_unit
        self.every, self.interval = every, interval
        self.done = 0
        self.t0 = self._last_time = time.perf_counter()
        self._last_step = 0
        self._bar = None
        if bar if bar is not None else on_terminal():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", unit_scale=True, leave=False,
                             dynamic_ncols=True)

    def rate(self) -> float:
        """Units per second so far."""
        return self.done / max(time.perf_counter() - self.t0, 1e-9)

    def line(self) -> str:
        """``compress: 40 % (400,000 / 1,000,000 rows), 23.1 MB/s, ETA 12 s``."""
        rate = self.rate()
        speed = f"{rate * self.bytes_per_unit / 1e6:.1f} MB/s" if self.bytes_per_unit else f"{rate:.3g} {self.unit}/s"
        if self.total:
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            return (f"{self.desc}: {100 * self.done / self.total:.0f} % ({self.done:,} / {self.total:,} {self.unit}), "
                    f"{speed}, ETA {duration(eta) if eta != float('inf') else '?'}")
        return f"{self.desc}: {self.done:,} {self.unit}, {speed}"

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if self.bytes_per_unit:
                self._bar.set_postfix_str(f"{self.rate() * self.bytes_per_unit / 1e6:.1f} MB/s", refresh=False)
            return
        now = time.perf_counter()
        if self.total:
            step = int(100 * self.done / self.total // self.every)
            if step > self._last_step:
                self._last_step = step
                log.info("%s", self.line())
        elif now - self._last_time >= self.interval:
            self._last_time = now
            log.info("%s", self.line())

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
