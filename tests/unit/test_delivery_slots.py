"""Slots bound requests in flight; recording an attempt holds no slot but is still waited for by a stop."""

import asyncio
import uuid

from hookstream.delivery.slots import Slots


async def test_recording_frees_the_endpoint_slot_but_stays_among_the_holders() -> None:
    slots = Slots(overall=1, per_endpoint=1)
    endpoint = uuid.uuid4()
    recorded = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with slots.hold(endpoint):
            pass
        with slots.recording():
            recorded.set()
            await release.wait()

    async def second() -> None:
        async with slots.hold(endpoint):  # would wait forever if recording still held the one slot
            pass

    one = asyncio.create_task(first())
    await recorded.wait()
    assert slots.holders == {one}
    await asyncio.wait_for(second(), 1)
    release.set()
    await one
    assert slots.holders == set()


async def test_a_sender_is_a_holder_only_while_it_holds_its_slots() -> None:
    slots = Slots(overall=2, per_endpoint=1)
    endpoint = uuid.uuid4()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def sender() -> None:
        async with slots.hold(endpoint):
            inside.set()
            await release.wait()

    first = asyncio.create_task(sender())
    await inside.wait()
    waiting = asyncio.create_task(sender())  # queued behind the endpoint's one slot: not a holder
    await asyncio.sleep(0.01)
    assert slots.holders == {first}
    release.set()
    await asyncio.gather(first, waiting)
    assert slots.holders == set()
