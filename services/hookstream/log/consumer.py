"""Consuming events in batches; records that cannot be decoded go to the dead-letter topic.

A poisoned record must neither stop a consumer nor vanish: it is copied,
bytes and headers intact, with the reason, onto the dead-letter topic, and
the batch goes on without it. The copy is acknowledged before the batch is
handed over, so committing the batch's offsets never loses it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec, UndecodableRecord, UnexpectedType
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, COMMANDS, CONFIG, DEAD_LETTER, MESSAGES, OPERATIONAL, STATUS, TopicNames

log = logging.getLogger("hookstream.log.consumer")

TOMBSTONE = "Tombstone"
RAW = "Raw"
"""The name of an event read by a raw consumer: its bytes are not Avro (the intake topic's records)."""

RETRY_FIRST_S = 0.2
RETRY_MAX_S = 5.0

EVENTS_ON: dict[str, frozenset[str]] = {
    CONFIG: frozenset({"ApplicationUpserted", "ApplicationDeleted", "EndpointUpserted", "EndpointDeleted",
                       "EventTypeUpserted", "EventTypeDeleted", "SecretRotated"}),
    MESSAGES: frozenset({"MessageAccepted"}),
    ATTEMPTS: frozenset({"AttemptFinished", "DeliverySkipped"}),
    STATUS: frozenset({"MessageEndpointStatus", "MessageStatus"}),
    COMMANDS: frozenset({"ContentExpunged", "RecoverRequested"}),
    OPERATIONAL: frozenset({"OperationalEvent"}),
}  # fmt: skip
"""The event types each topic carries (by short topic name), as the schemas' docs say; anything else on it was
written to the wrong topic."""


class ConsumerStalled(RuntimeError):
    """A consumer's loop keeps failing (broker away, a send unacknowledged); it retries by itself."""


@dataclass(frozen=True, slots=True)
class Event:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    name: str
    record: dict[str, Any]
    value: bytes | None = None
    """The original value of a :data:`RAW` event (None for the others: ``record`` is the decoded value)."""
    headers: tuple[tuple[str, bytes | None], ...] = ()
    timestamp_ms: int | None = None


Outputs = Sequence[Awaitable[object]] | None
"""What a batch handler hands back: the acknowledgements its batch waits for before it is committed."""

BatchHandler = Callable[[list[Event]], Awaitable[Outputs]]


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


@dataclass(frozen=True, slots=True)
class ConsumerOptions:
    """How one consumer fetches and what it accepts; the defaults suit a consumer that handles batches as they come.

    ``fetch_min_bytes``/``fetch_max_wait_ms``: a consumer that can wait trades latency for fewer, fuller
    fetches (aiokafka parses each fetch response in Python; many tiny ones cost more than the records).

    ``typed``: only the event types each topic carries (:data:`EVENTS_ON`) are handed over; a decodable
    record of another type is dead-lettered as ``unexpected_type``, where a consumer that filters by
    type would pass it over without a trace.
    """

    max_records: int = 1000
    fetch_min_bytes: int = 1
    fetch_max_wait_ms: int = 500
    auto_offset_reset: str = "earliest"
    typed: bool = False
    raw: bool = False
    """Hand records over undecoded (:data:`RAW` events carrying value, headers and timestamp), for a topic whose
    records are written by systems outside hookstream."""
    rebalance: ConsumerRebalanceListener | None = None


DEFAULT_OPTIONS = ConsumerOptions()


def event_dead_letter(event: Event, codec: AvroCodec, reason: str, error_class: str, consumer: str) -> dict[str, Any]:
    """The DeadLetter record of an event that cannot be handled: a raw event's bytes and headers as they were,
    a decoded one's record re-encoded as it was."""
    if event.name == RAW:
        value = event.value
    else:
        value = codec.encode(event.name, event.record) if event.name != TOMBSTONE else None
    return {
        "topic": event.topic,
        "partition": event.partition,
        "offset": event.offset,
        "timestamp_ms": event.timestamp_ms,
        "key": event.key,
        "value": value,
        "headers": [{"key": key, "value": header} for key, header in event.headers],
        "reason": reason,
        "error_class": error_class,
        "consumer": consumer,
        "failed_at": datetime.now(UTC),
    }


class EventConsumer:
    """An aiokafka consumer group with manual commits, decoding each batch.

    ``group_id`` is the full group name (services name theirs under the namespace, see
    :class:`~hookstream.log.service.ConsumerService`); undecodable records go to the deployment's
    dead-letter topic through ``producer``, which also lends its codec.
    """

    def __init__(
        self,
        settings: Settings,
        producer: EventProducer,
        topics: Sequence[str],
        group_id: str,
        options: ConsumerOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.codec = producer.codec
        self.group_id = group_id
        names = TopicNames.from_settings(settings)
        self._accepts: dict[str, frozenset[str]] = {}
        if options.typed:  # full topic name -> the types it carries
            self._accepts = {names(short): types for short, types in EVENTS_ON.items() if names(short) in topics}
        self._producer = producer
        self._dead_letter_topic = names(DEAD_LETTER)
        self._max_records = options.max_records
        self._topics = list(topics)
        self._rebalance = options.rebalance
        self._raw = options.raw
        self._batch_start: dict[TopicPartition, int] = {}
        self.failure: str | None = None
        """Why the last batch failed, until one succeeds (see :meth:`run` and :meth:`check`)."""
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset=options.auto_offset_reset,
            max_poll_records=options.max_records,
            isolation_level="read_committed",
            fetch_min_bytes=options.fetch_min_bytes,
            fetch_max_wait_ms=options.fetch_max_wait_ms,
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
        if self._raw:
            return [
                Event(m.topic, m.partition, m.offset, m.key, RAW, {}, m.value, tuple(m.headers or ()), m.timestamp)
                for m in messages
            ]
        events: list[Event] = []
        dead: list[asyncio.Future[Any]] = []
        for message in messages:
            if message.value is None:  # a tombstone: a compacted topic's "deleted"
                events.append(Event(message.topic, message.partition, message.offset, message.key, TOMBSTONE, {}))
                continue
            try:
                name, record = self.codec.decode(message.value)
                self._check_type(message.topic, name)
            except UndecodableRecord as error:
                letter = dead_letter_record(message, error, self.group_id)
                dead.append(await self._producer.send(self._dead_letter_topic, "DeadLetter", letter, message.key))
                continue
            events.append(Event(message.topic, message.partition, message.offset, message.key, name, record))
        if dead:
            await asyncio.gather(*dead)
        return events

    def _check_type(self, topic: str, name: str) -> None:
        if topic not in self._accepts:
            return
        if name not in self._accepts[topic]:
            expected = ", ".join(sorted(self._accepts[topic]))
            raise UnexpectedType(f"{name} does not belong on {topic} (expected {expected})", schema_name=name)

    async def batches(self, timeout_ms: int = 500) -> AsyncIterator[list[Event]]:
        """Decoded batches, forever; commit with ``commit()`` once a batch is handled."""
        while True:
            fetched = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=self._max_records)
            messages = [message for partition in fetched.values() for message in partition]
            if messages:
                self._batch_start = {tp: records[0].offset for tp, records in fetched.items() if records}
                yield await self.decode(messages)

    def rewind(self) -> None:
        """Seek back to the start of the last batch, uncommitted: its records are read again.

        aiokafka's position has already moved past a batch that failed; going on
        from there, the next commit would skip it. Partitions no longer assigned
        are left alone (their new owner reads from the committed offset).
        """
        assigned = self._consumer.assignment()
        for tp, offset in self._batch_start.items():
            if tp in assigned:
                self._consumer.seek(tp, offset)
        self._batch_start = {}

    async def run(self, handle: BatchHandler, name: str) -> None:
        """Handle every batch, wait for its outputs' acknowledgements, then commit it, forever.

        ``handle`` returns the batch's outputs (the futures of its sends) or
        awaits them itself; either way the batch is committed only once they
        are acknowledged. Any failure (a send the broker did not acknowledge, a
        commit, the handler's own) leaves the batch uncommitted and it is
        rewound and read again, with backoff, so a broker restart delays records
        but never skips one. Meanwhile :attr:`failure` says why, and
        :meth:`check` fails the health check.
        """
        delay = RETRY_FIRST_S
        while True:
            try:
                async for batch in self.batches():
                    outputs = await handle(batch)
                    if outputs:
                        await asyncio.gather(*outputs)
                    await self.commit()
                    if self.failure is not None:
                        log.info("%s: consuming again after a failure", name)
                    self.failure, delay = None, RETRY_FIRST_S
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the loop must outlive the broker; nothing uncommitted is lost by waiting
                self.failure = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("%s: batch failed, re-reading it in %.1f s: %s", name, delay, self.failure)
                self.rewind()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def check(self) -> None:
        """Raise while batches fail (the health check's answer for a consumer driven by :meth:`run`)."""
        if self.failure is not None:
            raise ConsumerStalled(f"{self.group_id}: batches failing, retrying: {self.failure}")

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit what was consumed, or exactly ``offsets`` (the next offset to read, per partition)."""
        if offsets is None:
            await self._consumer.commit()
            self._batch_start = {}
        elif offsets:
            await self._consumer.commit(dict(offsets))
