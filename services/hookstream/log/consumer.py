"""Consuming events in batches; records that cannot be decoded go to the dead-letter topic.

A poisoned record must neither stop a consumer nor vanish: it is copied,
bytes and headers intact, with the reason, onto the dead-letter topic, and
the batch goes on without it. The copy is acknowledged before the batch is
handed over, so committing the batch's offsets never loses it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.producer import EventProducer

TOMBSTONE = "Tombstone"


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    name: str
    record: dict[str, Any]


def dead_letter_record(message: ConsumerRecord, error: UndecodableRecord, consumer: str) -> dict[str, Any]:
    return {
        "topic": message.topic,
        "partition": message.partition,
        "offset": message.offset,
        "timestamp_ms": message.timestamp,
        "key": message.key,
        "value": message.value,
        "headers": [{"key": key, "value": value} for key, value in (message.headers or ())],
        "reason": error.reason,
        "error_class": error.error_class,
        "consumer": consumer,
        "failed_at": datetime.now(UTC),
    }


class EventConsumer:
    """An aiokafka consumer group with manual commits, decoding each batch."""

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        group_id: str,
        codec: AvroCodec,
        producer: EventProducer,
        dead_letter_topic: str,
        *,
        max_records: int = 1000,
        auto_offset_reset: str = "earliest",
        rebalance: ConsumerRebalanceListener | None = None,
        fetch_min_bytes: int = 1,
        fetch_max_wait_ms: int = 500,
    ) -> None:
        """``fetch_min_bytes``/``fetch_max_wait_ms``: a consumer that can wait trades latency for fewer, fuller
        fetches (aiokafka parses each fetch response in Python; many tiny ones cost more than the records)."""
        self.codec = codec
        self.group_id = group_id
        self._producer = producer
        self._dead_letter_topic = dead_letter_topic
        self._max_records = max_records
        self._topics = list(topics)
        self._rebalance = rebalance
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=auto_offset_reset,
            max_poll_records=max_records,
            isolation_level="read_committed",
            fetch_min_bytes=fetch_min_bytes,
            fetch_max_wait_ms=fetch_max_wait_ms,
        )

    @property
    def kafka(self) -> AIOKafkaConsumer:
        """The underlying consumer, for positions, committed offsets and seeks."""
        return self._consumer

    async def start(self) -> EventConsumer:
        await self._consumer.start()
        self._consumer.subscribe(self._topics, listener=self._rebalance)
        return self

    async def stop(self) -> None:
        await self._consumer.stop()

    async def decode(self, messages: Sequence[ConsumerRecord]) -> list[Event]:
        events: list[Event] = []
        dead: list[asyncio.Future[Any]] = []
        for message in messages:
            if message.value is None:  # a tombstone: a compacted topic's "deleted"
                events.append(Event(message.topic, message.partition, message.offset, message.key, TOMBSTONE, {}))
                continue
            try:
                name, record = self.codec.decode(message.value)
            except UndecodableRecord as error:
                letter = dead_letter_record(message, error, self.group_id)
                dead.append(await self._producer.send(self._dead_letter_topic, "DeadLetter", letter, message.key))
                continue
            events.append(Event(message.topic, message.partition, message.offset, message.key, name, record))
        if dead:
            await asyncio.gather(*dead)
        return events

    async def batches(self, timeout_ms: int = 500) -> AsyncIterator[list[Event]]:
        """Decoded batches, forever; commit with ``commit()`` once a batch is handled."""
        while True:
            fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self._max_records)
            messages = [message for partition in fetched.values() for message in partition]
            if messages:
                yield await self.decode(messages)

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit what was consumed, or exactly ``offsets`` (the next offset to read, per partition)."""
        if offsets is None:
            await self._consumer.commit()
        elif offsets:
            await self._consumer.commit(dict(offsets))
