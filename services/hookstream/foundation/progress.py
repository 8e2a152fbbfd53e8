"""Progress of long work (a rebuild, a replay, generating benchmark data) for the person who started it.

On a terminal a live bar shows records done, the rate and the time left;
anywhere else (a CI log, a pipe, a Kubernetes Job) the output is one summary
line at the end, since a redrawn bar would fill a log with carriage returns.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as Bar

__all__ = ["Progress", "summary"]


def summary(what: str, done: int, total: int, seconds: float) -> str:
    """``what: 1,200 of 1,200 records in 3.0 s (400/s)``."""
    rate = done / seconds if seconds > 0 else 0.0
    return f"{what}: {done:,} of {total:,} records in {seconds:.1f} s ({rate:,.0f}/s)"


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
