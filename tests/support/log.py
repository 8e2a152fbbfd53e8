"""Writing events to the real broker from tests, the way a service does."""

from __future__ import annotations

import asyncio
from typing import Any

from hookstream.log.producer import EventProducer


async def send_all(producer: EventProducer, topic: str, name: str, records: list[dict[str, Any]], key: str) -> None:
    """Every record as one ``name`` event on ``topic`` (full name), keyed by its ``key`` field; returns once
    all are acknowledged. Sent in order before any acknowledgement is awaited, so the order on a partition
    is the order given."""
    await asyncio.gather(*[await producer.send(topic, name, r, r[key].encode()) for r in records])
