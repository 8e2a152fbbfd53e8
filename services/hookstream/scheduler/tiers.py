"""The delay-tier consumer: holds the head of each tier partition until it is due, then forwards it to ``tasks``.

Plain aiokafka rather than faust, because the whole job is flow control on
the partitions: read a window of the head (:class:`~hookstream.domain.tiers.DueWindow`),
pause the partition while the window is full, wake when the earliest held
task is due. faust streams hand records to an agent as fast as it takes
them, and pausing a partition under an agent reaches into its consumer
internals; aiokafka's ``pause``/``resume``/``seek`` are the public API.

Correct under restart: a task's offset counts as done only once its
forward to ``tasks`` is acknowledged, and the committed position is the
lowest offset not yet forwarded (:class:`~hookstream.domain.offsets.OffsetTracker`).
A crash re-reads from there: every pending task is still forwarded, none
before it is due (the due time travels in the task), and a task forwarded
just before the crash may be forwarded again with the same attempt number
(the attempt id, and so the projection row, is the same).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from hookstream.domain.offsets import OffsetTracker
from hookstream.domain.schedule import tier_name
from hookstream.domain.status import to_us
from hookstream.domain.tiers import DueWindow
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.consumer import ConsumerOptions, dead_letter_record
from hookstream.log.producer import EventProducer
from hookstream.log.service import ConsumerService
from hookstream.log.streams import now
from hookstream.log.topics import DEAD_LETTER, TASKS, TopicNames, retry_topic
from hookstream.scheduler.retries import SchedulerMetrics

log = logging.getLogger("hookstream.scheduler")

POLL_MS = 500
"""Longest wait between polls: how quickly a paused consumer notices a rebalance or a stop."""

FETCH_WAIT_MS = 100
"""The broker holds a fetch until 256 KiB or this long: tasks wait seconds in a tier anyway, and fuller
fetches cost far less CPU than a stream of tiny ones (measured: 5,000 fetches of ~4 records for 20,000)."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, forwarder: TierForwarder) -> None:
        self.forwarder = forwarder

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self.forwarder.release(set(revoked))

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        log.info("delay tiers assigned %s", sorted((tp.topic, tp.partition) for tp in assigned))


class TierForwarder(ConsumerService):
    """One member of the ``<namespace>scheduler-tiers`` group, reading every delay tier.

    Not the batch loop of :class:`ConsumerService`: records are held, not handled, until due; a partition
    is paused while its window is full; and offsets are committed out of order, as tasks are forwarded.
    """

    def __init__(
        self, settings: Settings, codec: AvroCodec, producer: EventProducer, metrics: SchedulerMetrics
    ) -> None:
        names = TopicNames.from_settings(settings)
        if not names.tiers:
            raise ValueError(f"the retry schedule {settings.retry_schedule!r} has no delays, so no delay tiers")
        options = ConsumerOptions(max_records=1000, rebalance=_Rebalance(self), fetch_min_bytes=256 * 1024,
                                  fetch_max_wait_ms=FETCH_WAIT_MS)  # fmt: skip
        tiers = [retry_topic(tier) for tier in names.tiers]
        super().__init__(settings, producer, "scheduler-tiers", tiers, options)
        self.metrics = metrics
        self._labels = {names.retry_tier(tier): tier_name(tier) for tier in names.tiers}
        self._tasks_topic = names(TASKS)
        self._dead_letter_topic = names(DEAD_LETTER)
        self._windows: dict[TopicPartition, DueWindow[ConsumerRecord]] = {}
        self._tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self._committed: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._generation = 0  # bumped by every revocation: work begun before one is not booked after it

    @property
    def held(self) -> int:
        """Tasks held in memory across all partitions (bounded by the window settings)."""
        return sum(len(window) for window in self._windows.values())

    async def stop(self) -> None:
        """Stop reading and commit what was forwarded; held tasks are read again by the next owner."""
        await self.halt()
        try:
            await self._commit(set(self._windows))
        except KafkaError as exc:  # the next owner re-reads from the last commit: duplicates, never a loss
            log.warning("delay tiers: commit on stop failed: %s", exc)
        await super().stop()

    async def abort(self) -> None:
        """Stop without committing anything: what a crash leaves behind."""
        await super().stop()

    async def loop(self) -> None:
        while True:
            try:
                fetched = await self.consumer.kafka.getmany(timeout_ms=self._wait_ms(), max_records=1000)
                await self._hold_all(fetched)
                await self._forward_due()
                self.metrics.held.set(self.held)
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive a broker hiccup; nothing held is lost by waiting
                log.exception("delay tiers: forwarding failed; retrying")
                await asyncio.sleep(1)

    def _wait_ms(self) -> int:
        due = [window.next_due_us() for window in self._windows.values() if len(window)]
        if not due:
            return POLL_MS
        return max(0, min(POLL_MS, (min(due) - to_us(now())) // 1000 + 1))

    async def _hold_all(self, fetched: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """Hold every partition's records; if one fails, the partitions not reached yet are read again."""
        items = list(fetched.items())
        for index, (tp, messages) in enumerate(items):
            generation = self._generation
            try:
                await self._hold(tp, messages)
            except Exception:
                if generation == self._generation:  # else revoked meanwhile: positions are the new owner's
                    for later, records in items[index + 1 :]:
                        self.consumer.kafka.seek(later, records[0].offset)
                raise

    async def _hold(self, tp: TopicPartition, messages: Sequence[ConsumerRecord]) -> None:
        """Take records into the partition's window; past its bound, rewind and pause instead."""
        window = self._windows.setdefault(
            tp, DueWindow(self.settings.scheduler_window_records, self.settings.scheduler_window_bytes)
        )
        generation = self._generation
        for message in messages:
            if window.full:
                self.consumer.kafka.seek(tp, message.offset)  # re-read after the window moves
                self._pause(tp)
                return
            try:
                _, task = self.codec.decode(message.value or b"", expected="DeliveryTask")
            except UndecodableRecord as error:
                letter = dead_letter_record(message, error, self.consumer.group_id)
                try:
                    await (await self.producer.send(self._dead_letter_topic, "DeadLetter", letter, message.key))
                except Exception:  # not acknowledged: read it (and what follows) again, or it would be skipped
                    if generation == self._generation:
                        self.consumer.kafka.seek(tp, message.offset)
                    raise
                if generation != self._generation:
                    return  # revoked meanwhile: the new owner reads these records again
                self._tracker.started(tp, message.offset)
                self._tracker.finished(tp, message.offset)
                continue
            self._tracker.started(tp, message.offset)
            window.add(to_us(task["due_at"]), message.offset, len(message.value or b""), message)
        if window.full:
            self._pause(tp)

    async def _forward_due(self) -> None:
        at_us = to_us(now())
        due = [(tp, *held) for tp, window in self._windows.items() for held in window.pop_due(at_us)]
        if not due:
            return
        generation = self._generation
        await self._send_acked([message for *_, message in due])
        if generation != self._generation:
            return  # revoked meanwhile: not ours to book; the new owner may forward these again
        sent_us = to_us(now())
        for tp, due_us, offset, _ in due:
            self._tracker.finished(tp, offset)
            self.metrics.forwarded.labels(self._labels[tp.topic]).inc()
            self.metrics.lateness.observe(max(0, sent_us - due_us) / 1e6)
        partitions = {tp for tp, *_ in due}
        await self._commit(partitions)
        for tp in partitions & self._paused:
            if tp in self._windows and not self._windows[tp].full:
                self.consumer.kafka.resume(tp)
                self._paused.discard(tp)

    async def _send_acked(self, messages: list[ConsumerRecord]) -> None:
        """Forward the exact bytes (the task keeps its due time and identity); retry until acknowledged."""
        backoff = 0.1
        while True:
            try:
                futures = [
                    await self.producer.send_raw(self._tasks_topic, m.value, m.key, list(m.headers or ()))
                    for m in messages
                ]
                await asyncio.gather(*futures)
                return
            except KafkaError as exc:  # forwarding twice is allowed (at-least-once); losing one is not
                log.warning("delay tiers: forwarding failed, retrying in %.1f s: %s", backoff, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    def _pause(self, tp: TopicPartition) -> None:
        if tp not in self._paused:
            self.consumer.kafka.pause(tp)
            self._paused.add(tp)

    async def _commit(self, partitions: set[TopicPartition]) -> None:
        offsets = {
            tp: offset
            for tp, offset in self._tracker.committable().items()
            if tp in partitions and self._committed.get(tp) != offset
        }
        if offsets:
            await self.consumer.commit(offsets)
            self._committed.update(offsets)

    async def release(self, revoked: set[TopicPartition]) -> None:
        """A rebalance takes partitions away: commit what was forwarded, forget what was held."""
        try:
            await self._commit(revoked)
        except KafkaError as exc:  # the next owner re-reads from the last commit: duplicates, never a loss
            log.warning("delay tiers: commit on revoke failed: %s", exc)
        self._generation += 1
        for tp in revoked:
            self._windows.pop(tp, None)
            self._tracker.forget(tp)
            self._committed.pop(tp, None)
            self._paused.discard(tp)
