"""Per-endpoint throttle: an endpoint's ``rate_limit`` (Svix ``throttleRate``) caps its request starts per second.

Excess waits, it is never dropped or failed: a task over the rate sleeps
until the endpoint's next start (:class:`~hookstream.domain.ratelimit.Pacer`)
and is then sent like any other. The ceiling holds across delivery processes
without them talking to each other: every producer of ``tasks`` (the router,
the retry scheduler and its delay tiers, recovery, the API's manual resends)
keys a task by its endpoint id, so all of one endpoint's tasks are in one
partition, read by one worker at a time, and that worker's pacer is the only
one starting the endpoint's requests. After a rebalance the new owner starts
from a fresh schedule: at most one burst more in the second of the handover.

Waiting costs nothing anyone else needs. Tasks of a throttled endpoint queue
in order behind one lock per endpoint; only the head sleeps, and it holds no
concurrency slot while it does (it takes its slots at the end of its turn,
still in the queue, so a slot freed late cannot let two turns start
together). Other endpoints, and other partitions' commits, go on meanwhile;
only the commit of this partition waits for the tasks before it, as it
always does. A rate of ``None`` or 0 means unthrottled.

The burst is :data:`BURST`: a start one interval late (a busy event loop wakes
sleepers late) lets the next go at once, so the sustained rate is the
configured one rather than a little under it; any one second still sees at
most rate + burst starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable

from hookstream.domain.ratelimit import Pacer

BURST = 2
"""Starts an idle endpoint may take at once; 1 would lose every late wake-up's delay from the rate for good
(measured: 9.05/s for a 10/s endpoint beside a neighbour at full speed)."""


class Throttle:
    """One per worker; ``clock`` is monotonic seconds (a test may pass its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._pacer = Pacer()
        self._queues: dict[uuid.UUID, tuple[asyncio.Lock, list[int]]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, endpoint_id: uuid.UUID, rate: float | None) -> AsyncIterator[float]:
        """Wait for the endpoint's next start; the block runs at it (take the slots there), yielding the wait."""
        if not rate or rate <= 0:
            yield 0.0
            return
        lock, users = self._queues.setdefault(endpoint_id, (asyncio.Lock(), [0]))
        users[0] += 1  # a queue lives while someone is in it: no dict of every endpoint ever throttled
        try:
            async with lock:
                wait = self._pacer.reserve(str(endpoint_id), rate, self._clock(), BURST)
                if wait > 0:
                    await asyncio.sleep(wait)
                yield wait
        finally:
            users[0] -= 1
            if not users[0]:
                self._queues.pop(endpoint_id, None)
