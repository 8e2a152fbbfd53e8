"""Reading the ``tasks`` topic for a worker that finishes records out of order.

An :class:`~hookstream.log.consumer.EventConsumer` decodes and dead-letters;
this adds what a concurrent consumer needs around it: every record read
(dead-lettered ones too, so their offsets can be committed), pausing
partitions whose backlog is full, and commits of explicit offsets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from hookstream.log.codec import AvroCodec
from hookstream.log.consumer import Event, EventConsumer
from hookstream.log.producer import EventProducer

RebalanceHook = Callable[[set[TopicPartition]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One record read; ``event`` is None when it was undecodable and already dead-lettered."""

    partition: TopicPartition
    message: ConsumerRecord
    event: Event | None


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, intake: TaskIntake, revoked: RebalanceHook, assigned: RebalanceHook) -> None:
        self._intake = intake
        self._revoked = revoked
        self._assigned = assigned

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        self._intake.generation += 1
        await self._revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self._intake.generation += 1
        await self._assigned(set(assigned))


class TaskIntake:
    """One consumer-group member on one topic, with the hooks a concurrent worker needs."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group_id: str,
        codec: AvroCodec,
        producer: EventProducer,
        dead_letter_topic: str,
        *,
        on_revoked: RebalanceHook,
        on_assigned: RebalanceHook,
        max_records: int = 500,
    ) -> None:
        self._events = EventConsumer(
            bootstrap, [topic], group_id, codec, producer, dead_letter_topic,
            max_records=max_records, rebalance=_Listener(self, on_revoked, on_assigned),
        )  # fmt: skip
        self._max_records = max_records
        self.generation = 0
        """Bumped by every rebalance; records read before one are not handed out after it."""

    @property
    def group_id(self) -> str:
        return self._events.group_id

    async def start(self) -> TaskIntake:
        await self._events.start()
        return self

    async def stop(self) -> None:
        """Leave the group without committing: what is not committed yet is re-read by the next owner."""
        await self._events.stop()

    async def fetch(self, timeout_ms: int) -> list[Fetched]:
        """The next records of unpaused partitions, in offset order per partition.

        aiokafka hands out only records of the current assignment; decoding
        awaits (dead letters), and a rebalance in that window resets every
        position to the committed offset, so such a batch is dropped: it is
        read again by whoever owns the partitions now.
        """
        batches = await self._events.kafka.getmany(timeout_ms=timeout_ms, max_records=self._max_records)
        messages = [message for records in batches.values() for message in records]
        if not messages:
            return []
        generation = self.generation
        try:
            decoded = {(event.partition, event.offset): event for event in await self._events.decode(messages)}
        except Exception:  # a dead letter not acknowledged: read the batch again, or the next commit skips it
            if generation == self.generation:
                for tp, records in batches.items():
                    self._events.kafka.seek(tp, records[0].offset)
            raise
        if generation != self.generation:
            return []
        return [
            Fetched(TopicPartition(m.topic, m.partition), m, decoded.get((m.partition, m.offset))) for m in messages
        ]

    async def commit_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit exactly these positions (the next offset to read per partition)."""
        await self._events.commit(offsets)

    def assignment(self) -> set[TopicPartition]:
        return set(self._events.kafka.assignment())

    def pause(self, *partitions: TopicPartition) -> None:
        self._events.kafka.pause(*partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._events.kafka.resume(*partitions)
