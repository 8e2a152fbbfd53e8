"""Progress of long work (a rebuild, a replay, generating benchmark data, an endpoint recover).

For the person who started it: on a terminal a live bar shows records done,
the rate and the time left; anywhere else (a CI log, a pipe, a Kubernetes
Job) the output is one summary line at the end, since a redrawn bar would
fill a log with carriage returns.

For work a service does on its own (a recover runs in the ``schedule`` role,
where nobody watches a terminal), :class:`ProgressLog` writes a structured log
line at most every interval (done/total, records/s, ETA) and the summary at
the end; it says when a line was due, so the caller can publish its state at
the same pace.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar

__all__ = ["Progress", "ProgressLog", "eta_seconds", "status_line", "summary"]


def summary(what: str, done: int, total: int, seconds: float) -> str:
    """``what: 1,200 of 1,200 records in 3.0 s (400/s)``."""
    rate = done / seconds if seconds > 0 else 0.0
    return f"{what}: {done:,} of {total:,} records in {seconds:.1f} s ({rate:,.0f}/s)"


def eta_seconds(done: int, total: int, seconds: float) -> float | None:
    """Time left at the rate so far; None while nothing is done (no rate to go by)."""
    if done <= 0 or seconds <= 0:
        return None
    return max(0, total - done) * seconds / done


def status_line(what: str, done: int, total: int, seconds: float) -> str:
    """``what: 300 of 1,200 records (25%), 100/s, ETA 9.0 s``: one line of work still under way."""
    rate = done / seconds if seconds > 0 else 0.0
    share = f"{done * 100 // total}%" if total else "100%"
    eta = eta_seconds(done, total, seconds)
    left = f"{eta:.1f} s" if eta is not None else "unknown"
    return f"{what}: {done:,} of {total:,} records ({share}), {rate:,.0f}/s, ETA {left}"


class Progress:
    """Counts records of a known total; use as a context manager and call :meth:`update` with the count so far."""

    def __init__(self, what: str, total: int, *, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.what = what
        self.total = total
        self.done = 0
        self._stream = stream or sys.stderr
        self._live = self._stream.isatty() if live is None else live
        self._started = time.monotonic()
        self._bar: Bar | None = None
        self._task = None

    def __enter__(self) -> Progress:
        self._started = time.monotonic()
        if self._live:
            self._bar = Bar(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[rate]}/s"), TimeRemainingColumn(),
                console=Console(file=self._stream), transient=False,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total, rate="0")
        return self

    def update(self, done: int) -> None:
        self.done = done
        if self._bar is not None and self._task is not None:
            elapsed = time.monotonic() - self._started
            rate = f"{done / elapsed:,.0f}" if elapsed > 0 else "0"
            self._bar.update(self._task, completed=done, rate=rate)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self._started

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        if kind is None:
            self._stream.write(summary(self.what, self.done, self.total, self.seconds) + "\n")
            self._stream.flush()


class ProgressLog:
    """Progress for a log: :meth:`update` writes a line when ``interval_s`` has passed since the last one (or the
    start) and returns whether it did; :meth:`finish` writes the summary. ``clock`` is monotonic seconds."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        total: int,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.total = total
        self.done = 0
        self._log = logger
        self._interval_s = interval_s
        self._clock = clock
        self._started = clock()
        self._last = self._started

    @property
    def seconds(self) -> float:
        return self._clock() - self._started

    def _fields(self) -> dict[str, float | int | None]:
        seconds = self.seconds
        rate = self.done / seconds if seconds > 0 else 0.0
        eta = eta_seconds(self.done, self.total, seconds)
        return {"done": self.done, "total": self.total, "per_s": round(rate, 1),
                "eta_s": round(eta, 1) if eta is not None else None}  # fmt: skip

    def update(self, done: int) -> bool:
        self.done = done
        now = self._clock()
        if now - self._last < self._interval_s:
            return False
        self._last = now
        self._log.info(status_line(self.what, done, self.total, now - self._started), extra=self._fields())
        return True

    def finish(self) -> None:
        self._log.info(summary(self.what, self.done, self.total, self.seconds), extra=self._fields())
