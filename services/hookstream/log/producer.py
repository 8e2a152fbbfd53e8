"""Producing events: Avro single-object records, acknowledged by all in-sync replicas."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import OutOfOrderSequenceNumber
from aiokafka.partitioner import DefaultPartitioner

from hookstream.foundation.tasks import Lifecycle
from hookstream.log.codec import AvroCodec
from hookstream.log.partitioner import murmur2

log = logging.getLogger("hookstream.log.producer")

OLD_PRODUCER_STOP_S = 5.0
KEY_HASHES_KEPT = 8192
"""Recent keys whose hash :func:`partition_of` remembers: a fan-out's attempts, an endpoint's tasks."""

_default_partitioner = DefaultPartitioner()


@functools.lru_cache(maxsize=KEY_HASHES_KEPT)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def partition_of(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """aiokafka's (and Java's) default partition for ``key``, its murmur2 hash remembered per key.

    murmur2 is pure Python (log/partitioner.py's, a third of aiokafka's cost), and keys repeat: the
    router keys every task by endpoint id, the worker every attempt by message
    id (one per endpoint of a fan-out). Same partitions as the default, so
    records of one key stay in one partition and in order.
    """
    if type(key) is not bytes:  # no key (spread at random), or an unhashable buffer
        return _default_partitioner(key, all_partitions, available)
    return all_partitions[_key_hash(key) % len(all_partitions)]


class EventProducer(Lifecycle):
    """One idempotent producer per process; ``send`` returns once the record is queued.

    ``await`` the returned future (or call ``flush``) before treating the write
    as done: only an acknowledged record counts as accepted.

    An idempotent producer whose in-flight batch was lost with the broker
    (stopped, restarted) numbers every later batch past the gap, and the
    broker answers ``OutOfOrderSequenceNumber`` to each, forever. Every send
    is watched for it: the first one renews the producer (a new producer id
    starts its sequences afresh), so any caller that retries a failed send
    (they all do: nothing is acknowledged otherwise) gets through, whichever
    component it is. The new producer replaces the broken one only once it has
    started, so no send ever goes to a producer that is not running.
    """

    def __init__(
        self, bootstrap: str, codec: AvroCodec, *, linger_ms: int = 5, client_id: str = "hookstream",
        max_request_size: int = 1048576,
    ) -> None:  # fmt: skip
        """``max_request_size`` bounds one record (aiokafka's default 1 MiB; a process dead-lettering intake
        records whole needs the dead-letter topic's limit)."""
        self.codec = codec
        self._options = {"bootstrap_servers": bootstrap, "acks": "all", "enable_idempotence": True,
                         "linger_ms": linger_ms, "max_batch_size": 256 * 1024, "client_id": client_id,
                         "partitioner": partition_of, "max_request_size": max_request_size}  # fmt: skip
        self._producer = AIOKafkaProducer(**self._options)
        self._renewal: asyncio.Task[None] | None = None
        self._retired: set[asyncio.Task[None]] = set()
        self.renewals = 0

    async def start(self) -> EventProducer:
        await self._producer.start()
        return self

    async def stop(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewal
        if self._retired:
            await asyncio.wait(set(self._retired), timeout=OLD_PRODUCER_STOP_S)
        await self._producer.stop()

    async def recover(self, error: BaseException) -> bool:
        """Wait for the renewal ``error`` calls for, if any; True if it calls for one. Never raises.

        Senders need not call this (the renewal starts by itself); a retry
        loop that does waits for the new producer instead of spinning on the
        broken one.
        """
        if not isinstance(error, OutOfOrderSequenceNumber):
            return False
        renewal = self._renewal  # started by the failed send's own callback, which ran before its caller woke
        if renewal is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(renewal)
        return True

    def _watch(self, producer: AIOKafkaProducer, future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and isinstance(future.exception(), OutOfOrderSequenceNumber):
            self._renew_after(producer)

    def _renew_after(self, broken: AIOKafkaProducer) -> asyncio.Task[None] | None:
        """Start replacing ``broken``, unless it was replaced already or a replacement is starting."""
        if broken is not self._producer:
            return None
        if self._renewal is None:
            self._renewal = asyncio.get_running_loop().create_task(self._renew(broken), name="producer-renewal")
        return self._renewal

    async def _renew(self, broken: AIOKafkaProducer) -> None:
        try:
            fresh = AIOKafkaProducer(**self._options)
            try:
                await fresh.start()
            except Exception:  # the broker is still away: the next failed send tries again
                log.warning("producer renewal failed; retried on the next failed send", exc_info=True)
                with contextlib.suppress(Exception):
                    await fresh.stop()
                return
            self._producer = fresh
            self.renewals += 1
            log.warning("producer renewed after OutOfOrderSequenceNumber")
        finally:
            self._renewal = None
        retiring = asyncio.get_running_loop().create_task(self._retire(broken))
        self._retired.add(retiring)
        retiring.add_done_callback(self._retired.discard)

    @staticmethod
    async def _retire(broken: AIOKafkaProducer) -> None:
        # Its pending batches fail with the same error, and their senders retry on the new producer.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(broken.stop(), OLD_PRODUCER_STOP_S)

    async def send(
        self,
        topic: str,
        name: str,
        record: Mapping[str, Any],
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Any]:
        return await self.send_raw(topic, self.codec.encode(name, record), key, headers)

    async def send_raw(
        self, topic: str, value: bytes | None, key: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[Any]:
        producer = self._producer
        future = await producer.send(topic, value=value, key=key, headers=headers)
        future.add_done_callback(functools.partial(self._watch, producer))
        return future

    async def flush(self) -> None:
        await self._producer.flush()
