"""Writing events to the real broker from tests, the way a service does, and reading them back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from hookstream.foundation.settings import Settings
from hookstream.log.consumer import ConsumerOptions, Event, EventConsumer
from hookstream.log.producer import EventProducer


async def send_all(producer: EventProducer, topic: str, name: str, records: list[dict[str, Any]], key: str) -> None:
    """Every record as one ``name`` event on ``topic`` (full name), keyed by its ``key`` field; returns once
    all are acknowledged. Sent in order before any acknowledgement is awaited, so the order on a partition
    is the order given."""
    await asyncio.gather(*[await producer.send(topic, name, r, r[key].encode()) for r in records])


async def read_topic(
    settings: Settings,
    producer: EventProducer,
    topic: str,
    done: Callable[[list[Event]], bool],
    settle_s: float | None = None,
    *,
    raw: bool = False,
) -> list[Event]:
    """Every record on ``topic`` until ``done`` says enough; with ``settle_s``, then on until that long passes with
    nothing new (so a test sees records that should not be there). ``raw``: undecoded (the intake topic)."""
    reader = EventConsumer(settings, producer, [topic], f"reader-{uuid.uuid4().hex}", ConsumerOptions(raw=raw))
    await reader.start()
    events: list[Event] = []
    try:
        async with asyncio.timeout(60):
            async for batch in reader.batches(timeout_ms=200):
                events.extend(batch)
                if done(events):
                    break
            while settle_s is not None and (extra := await reader.kafka.getmany(timeout_ms=int(settle_s * 1000))):
                events.extend(await reader.decode([m for ms in extra.values() for m in ms]))
    finally:
        await reader.stop()
    return events


def at_least(count: int) -> Callable[[list[Event]], bool]:
    """``done`` for :func:`read_topic`: once ``count`` records were read."""
    return lambda events: len(events) >= count


def covering(msg_ids: set[str]) -> Callable[[list[Event]], bool]:
    """``done`` for :func:`read_topic`: once a record of every one of these messages was read."""
    return lambda events: msg_ids <= {event.record["msg_id"] for event in events}
