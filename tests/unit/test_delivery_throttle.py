"""The throttle paces one endpoint's starts in order, holding no slot while waiting and blocking no other endpoint."""

import asyncio
import contextlib
import itertools
import time
import uuid

from hookstream.delivery.slots import Slots
from hookstream.delivery.throttle import BURST, Throttle


async def test_starts_are_paced_in_order_and_waiters_hold_no_slot() -> None:
    throttle, slots = Throttle(), Slots(overall=1, per_endpoint=1)
    endpoint = uuid.uuid4()
    started: list[tuple[int, float]] = []

    async def send(n: int) -> None:
        async with contextlib.AsyncExitStack() as held:
            async with throttle.turn(endpoint, 20):
                await held.enter_async_context(slots.hold(endpoint))
            started.append((n, time.monotonic()))

    begin = time.monotonic()
    tasks = [asyncio.create_task(send(n)) for n in range(5)]
    await asyncio.sleep(0.02)
    assert len(slots.holders) == 0, "tasks waiting for their turn hold no slot"
    other = uuid.uuid4()
    async with slots.hold(other):  # the one overall slot is free for another endpoint meanwhile
        pass
    await asyncio.gather(*tasks)
    assert [n for n, _ in started] == list(range(5)), "first in, first out"
    offsets = [at - begin for _, at in started]
    assert offsets[1] < 0.02, "an idle endpoint's burst goes at once"
    assert offsets[-1] >= (5 - BURST) / 20 - 0.01
    assert all(b - a >= 1 / 20 - 0.01 for a, b in itertools.pairwise(offsets[BURST - 1 :]))


async def test_an_unthrottled_endpoint_never_waits_and_queues_are_forgotten() -> None:
    throttle = Throttle()
    endpoint = uuid.uuid4()
    for rate in (None, 0):
        async with throttle.turn(endpoint, rate) as waited:
            assert waited == 0.0
    async with throttle.turn(endpoint, 1000) as waited:
        assert waited == 0.0
    assert not throttle._queues


async def test_a_cancelled_waiter_leaves_the_queue_moving() -> None:
    throttle = Throttle()
    endpoint = uuid.uuid4()

    async def hold_turn() -> None:
        async with throttle.turn(endpoint, 2):
            pass

    await hold_turn()  # the next start is 0.5 s away
    waiting = asyncio.create_task(hold_turn())
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    await asyncio.wait_for(hold_turn(), 2)
    assert not throttle._queues
