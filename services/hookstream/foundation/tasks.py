"""Starting and stopping a service and its background loop: the one way every service does it."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Self


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has stopped.

    Only the cancellation is swallowed: a loop that had already died of an
    error raises it here, so a stop never hides why the service broke.
    """
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def stop_on_signals() -> asyncio.Event:
    """An event that SIGINT or SIGTERM sets: how a foreground command learns to stop cleanly (call it in the loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


class Lifecycle(ABC):
    """``start()`` then ``stop()``, or ``async with``: every service, so a caller never needs to know which."""

    @abstractmethod
    async def start(self) -> Self: ...

    @abstractmethod
    async def stop(self) -> None: ...

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
