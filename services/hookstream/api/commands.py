"""Writes as events: what every API dialect calls to change anything.

No write goes to ClickHouse: a write is one event on its topic, acknowledged
by the in-sync replicas before the API answers. Config writes also wait for
the API's own config view to hold the event (``catch_up``), so the next
request (a read, or a write building on this one) sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from hookstream.config.cache import ConfigCache
from hookstream.log.producer import EventProducer
from hookstream.log.topics import COMMANDS, CONFIG, MESSAGES, TASKS, TopicNames


class Commands:
    def __init__(self, producer: EventProducer, cache: ConfigCache, names: TopicNames) -> None:
        self.producer = producer
        self.cache = cache
        self.names = names
        # Config writes read the current version, then write version + 1: one at a time per process,
        # so two requests never both write the same version (the second would be silently ignored).
        self.config_lock = asyncio.Lock()

    async def _send(self, topic: str, name: str, record: Mapping[str, Any], key: str) -> None:
        ack = await self.producer.send(self.names(topic), name, record, key.encode())
        await ack

    async def config(self, name: str, record: Mapping[str, Any], key: str) -> None:
        """One config event, acknowledged and folded into this process's view before returning."""
        await self._send(CONFIG, name, record, key)
        await self.cache.catch_up()

    async def message(self, record: Mapping[str, Any]) -> None:
        """MessageAccepted, keyed app + dedupe key so duplicates of one eventId share a partition."""
        key = f"{record['app_id']}:{record['event_id'] or record['msg_id']}"
        await self._send(MESSAGES, "MessageAccepted", record, key)

    async def task(self, record: Mapping[str, Any]) -> None:
        """A DeliveryTask (manual resend), keyed by endpoint like every task."""
        await self._send(TASKS, "DeliveryTask", record, record["endpoint_id"])

    async def command(self, name: str, record: Mapping[str, Any], key: str) -> None:
        """A command for the projector or scheduler (ContentExpunged, RecoverRequested)."""
        await self._send(COMMANDS, name, record, key)
