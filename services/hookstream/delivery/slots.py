"""Concurrency slots: a bound overall and a bound per endpoint, on requests in flight.

The endpoint's slot is taken first and the overall one second, so tasks
queued behind a slow endpoint hold nothing the other endpoints need: one
endpoint can occupy at most its own share of the worker. A slot covers the
request only: writing the attempt record down does not load the endpoint, so
it happens after the slot is released (holding the slot through the broker's
acknowledgement made one endpoint's throughput its slots divided by request
time *plus* acknowledgement time).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any


class Slots:
    def __init__(self, overall: int, per_endpoint: int) -> None:
        if overall < 1 or per_endpoint < 1:
            raise ValueError("concurrency limits must be at least 1")
        self._overall = asyncio.Semaphore(overall)
        self._per_endpoint = per_endpoint
        self._gates: dict[uuid.UUID, tuple[asyncio.Semaphore, list[int]]] = {}
        self.holders: set[asyncio.Task[Any]] = set()
        """Tasks sending (holding a slot) or recording an attempt made; the ones a graceful stop waits for."""

    @contextlib.asynccontextmanager
    async def hold(self, endpoint_id: uuid.UUID) -> AsyncIterator[None]:
        semaphore, users = self._gates.setdefault(endpoint_id, (asyncio.Semaphore(self._per_endpoint), [0]))
        users[0] += 1  # a gate lives while someone holds or waits for it: no dict of every endpoint ever seen
        try:
            async with semaphore, self._overall:
                with self._waited_for():
                    yield
        finally:
            users[0] -= 1
            if not users[0]:
                self._gates.pop(endpoint_id, None)

    def recording(self) -> contextlib.AbstractContextManager[None]:
        """The current task writes down an attempt it made: no slot, but a graceful stop waits for it too."""
        return self._waited_for()

    @contextlib.contextmanager
    def _waited_for(self) -> Iterator[None]:
        """The current task is among ``holders`` for the block."""
        task = asyncio.current_task()
        assert task is not None
        self.holders.add(task)
        try:
            yield
        finally:
            self.holders.discard(task)
