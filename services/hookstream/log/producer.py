"""Producing events: Avro single-object records, acknowledged by all in-sync replicas."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaProducer

from hookstream.log.codec import AvroCodec


class EventProducer:
    """One idempotent producer per process; ``send`` returns once the record is queued.

    ``await`` the returned future (or call ``flush``) before treating the write
    as done: only an acknowledged record counts as accepted.
    """

    def __init__(self, bootstrap: str, codec: AvroCodec, *, linger_ms: int = 5, client_id: str = "hookstream") -> None:
        self.codec = codec
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            max_batch_size=256 * 1024,
            client_id=client_id,
        )

    async def start(self) -> EventProducer:
        await self._producer.start()
        return self

    async def stop(self) -> None:
        await self._producer.stop()

    async def send(
        self,
        topic: str,
        name: str,
        record: Mapping[str, Any],
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        value = self.codec.encode(name, record)
        return await self._producer.send(topic, value=value, key=key, headers=headers)

    async def send_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[Any]:
        return await self._producer.send(topic, value=value, key=key, headers=headers)

    async def flush(self) -> None:
        await self._producer.flush()

    async def __aenter__(self) -> EventProducer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
