"""Stopping a service's background loop: the one way every service does it."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


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
