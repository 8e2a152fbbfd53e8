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

from hookstream.foundation.settings import Settings
from hookstream.log.consumer import ConsumerOptions, Event, EventConsumer
from hookstream.log.producer import EventProducer
from hookstream.log.topics import TASKS, TopicNames

RebalanceHook = Callable[[set[TopicPartition]], Awaitable[None]]

MAX_RECORDS = 500


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
        self, settings: Settings, producer: EventProducer, on_revoked: RebalanceHook, on_assigned: RebalanceHook
    ) -> None:
        """The ``<namespace>delivery`` group on ``tasks``; the hooks run when partitions are taken away or given."""
        options = ConsumerOptions(max_records=MAX_RECORDS, rebalance=_Listener(self, on_revoked, on_assigned))
        names = TopicNames.from_settings(settings)
        group = f"{settings.topic_namespace}delivery"
        self._events = EventConsumer(settings, producer, [names(TASKS)], group, options)
        self._max_records = options.max_records
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
