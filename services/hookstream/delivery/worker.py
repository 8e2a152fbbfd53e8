"""The delivery worker: tasks in, signed POSTs out, one ``AttemptFinished`` per attempt.

At-least-once, end to end: a task's offset is committed only once its attempt
record is acknowledged by the broker and every earlier task of its partition
is done too (:class:`~hookstream.domain.offsets.OffsetTracker`). A crash
therefore repeats attempts but never loses one; the repeat carries the same
``webhook-id`` (receivers dedupe on it) and the same attempt id (the
projection overwrites instead of duplicating).

Tasks are handled concurrently, bounded overall and per endpoint (slots.py);
what happens to one task is attempts.py. This module is the log side:
reading, tracking, committing, rebalancing, starting and stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime
from ssl import SSLContext

from aiohttp.abc import AbstractResolver
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from hookstream.delivery.attempts import Deliverer, now, publish_acked
from hookstream.delivery.client import DeliveryClient
from hookstream.delivery.endpoints import EndpointDirectory, user_agent
from hookstream.delivery.intake import Fetched, TaskIntake
from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.slots import Slots
from hookstream.domain.offsets import OffsetTracker
from hookstream.domain.retry import RetryPolicy
from hookstream.foundation.secrets import SecretBox, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import Lifecycle
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import TOMBSTONE, dead_letter_record
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, CONFIG, DEAD_LETTER, TopicNames

log = logging.getLogger("hookstream.delivery")

COMMIT_INTERVAL_S = 0.5
"""How often finished offsets are committed; a crash repeats at most this much finished work."""


class Unprocessable(UndecodableRecord):
    """A decodable task the worker still cannot handle (a bug, or a task breaking its contract)."""

    error_class = "unprocessable"


class DeliveryWorker(Lifecycle):
    """One member of the ``<namespace>delivery`` consumer group; ``start()``, then ``stop()``.

    ``producer`` and ``cache`` may be shared with other services of the
    process (started, and stopped, by their owner); without them the worker
    makes and owns its own. ``ssl`` and ``resolver`` go to the HTTP client (a
    private CA; a resolver for tests). ``drain_timeout_s`` bounds how long
    ``stop()`` waits for requests already sent (default: attempt timeout + 5 s).
    """

    def __init__(
        self,
        settings: Settings,
        metrics: DeliveryMetrics | None = None,
        *,
        codec: AvroCodec | None = None,
        producer: EventProducer | None = None,
        cache: ConfigFollower | None = None,
        secret_box: SecretBox | None = None,
        ssl: SSLContext | None = None,
        resolver: AbstractResolver | None = None,
        worker_id: str | None = None,
        drain_timeout_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics if metrics is not None else DeliveryMetrics()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.drain_timeout_s = drain_timeout_s if drain_timeout_s is not None else settings.delivery_timeout_s + 5
        names = TopicNames.from_settings(settings)
        self._dead_letter_topic = names(DEAD_LETTER)
        codec = codec or (producer.codec if producer is not None else AvroCodec())
        bootstrap = settings.kafka_bootstrap_servers
        self._client = DeliveryClient.from_settings(settings, ssl=ssl, resolver=resolver, user_agent=user_agent())
        self._producer = producer or EventProducer(bootstrap, codec, client_id=f"hookstream-delivery-{self.worker_id}")
        self._config = cache or ConfigFollower(bootstrap, names(CONFIG), codec)
        self._owns_producer, self._owns_config = producer is None, cache is None
        self._endpoints = EndpointDirectory(self._config, secret_box or SecretBox(parse_keys(settings.secret_keys)))
        self._intake = TaskIntake(settings, self._producer, self._on_revoked, self._on_assigned)
        self._tracker: OffsetTracker[TopicPartition] = OffsetTracker()
        self._committed: dict[TopicPartition, int] = {}
        self._jobs: dict[tuple[TopicPartition, int], asyncio.Task[None]] = {}
        self._paused: set[TopicPartition] = set()
        self._slots = Slots(settings.delivery_concurrency, settings.delivery_endpoint_concurrency)
        self._deliverer = Deliverer(
            client=self._client, endpoints=self._endpoints, slots=self._slots, producer=self._producer,
            attempts_topic=names(ATTEMPTS), metrics=self.metrics, worker_id=self.worker_id,
            svix_headers=settings.delivery_svix_headers, retry_policy=retry_policy(settings),
            propagate_trace=settings.delivery_propagate_trace,
        )  # fmt: skip
        self._loops: list[asyncio.Task[None]] = []
        self._closing = False

    # --- lifecycle ------------------------------------------------------------

    async def start(self) -> DeliveryWorker:
        try:
            if self._owns_producer:
                await self._producer.start()
            if self._owns_config:
                await self._config.start()
            await self._client.start()
            await self._intake.start()
        except BaseException:
            await self._close_resources()
            raise
        self._loops = [asyncio.create_task(self._fetch_loop(), name="delivery-fetch"),
                       asyncio.create_task(self._commit_loop(), name="delivery-commit")]  # fmt: skip
        return self

    async def stop(self) -> None:
        """Stop reading, let requests already sent finish (bounded), commit, close."""
        if self._closing:
            return
        self._closing = True
        await _cancel(self._loops)
        await _cancel([job for job in self._jobs.values() if job not in self._slots.holders])
        if self._slots.holders:
            await asyncio.wait(set(self._slots.holders), timeout=self.drain_timeout_s)
        await _cancel(list(self._jobs.values()))
        await self._commit(self._intake.assignment())
        await self._close_resources()

    async def abort(self) -> None:
        """Stop at once without draining or committing: exactly what a crash leaves behind."""
        self._closing = True
        await _cancel([*self._loops, *self._jobs.values()])
        await self._close_resources()

    async def _close_resources(self) -> None:
        closers = [self._endpoints.close, self._intake.stop, self._client.stop]
        closers += [self._producer.stop] if self._owns_producer else []
        closers += [self._config.stop] if self._owns_config else []
        for close in closers:
            try:
                await close()
            except Exception:  # closing the rest matters more than one failed close
                log.exception("delivery worker: error while closing")

    # --- reading and committing -------------------------------------------------

    async def _fetch_loop(self) -> None:
        while True:
            try:
                fetched = await self._intake.fetch(timeout_ms=200)
                picked_up = now()
                for item in fetched:
                    self._take(item, picked_up)
                self._apply_backpressure()
                self.metrics.buffered.set(self._tracker.pending())
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must outlive any one failure, or the worker silently stops
                log.exception("delivery worker: fetch failed; retrying")
                await asyncio.sleep(1)

    def _take(self, item: Fetched, picked_up: datetime) -> None:
        key = (item.partition, item.message.offset)
        try:
            self._tracker.started(*key)
        except ValueError:  # re-read after a reset: this worker already has it
            log.warning("delivery worker: %s offset %d read twice; the first read handles it", *key)
            return
        self._jobs[key] = asyncio.create_task(self._handle(item, picked_up))

    def _apply_backpressure(self) -> None:
        """Pause a partition whose backlog is full; the others keep flowing."""
        limit = self.settings.delivery_concurrency
        for tp in self._intake.assignment():
            pending = self._tracker.pending(tp)
            if pending >= limit and tp not in self._paused:
                self._intake.pause(tp)
                self._paused.add(tp)
            elif pending < limit // 2 and tp in self._paused:
                self._intake.resume(tp)
                self._paused.discard(tp)

    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(COMMIT_INTERVAL_S)
            try:
                await self._commit(self._intake.assignment())
            except Exception:  # next round retries; the loop must not die
                log.exception("delivery worker: commit failed")

    async def _commit(self, partitions: set[TopicPartition]) -> None:
        offsets = {
            tp: offset
            for tp, offset in self._tracker.committable().items()
            if tp in partitions and self._committed.get(tp) != offset
        }
        if not offsets:
            return
        try:
            await self._intake.commit_offsets(offsets)
        except KafkaError as exc:  # a rebalance is under way: the new owner re-reads, nothing is lost
            log.warning("delivery worker: commit failed, tasks will be redelivered: %s", exc)
            return
        self._committed.update(offsets)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """Finish (bounded) and commit what this worker started before another takes the partitions."""
        if self._closing:
            return
        jobs = {key: job for key, job in self._jobs.items() if key[0] in revoked}
        await _cancel([job for job in jobs.values() if job not in self._slots.holders])
        sending = [job for job in jobs.values() if not job.done()]
        if sending:
            await asyncio.wait(sending, timeout=self.drain_timeout_s)
        await _cancel(list(jobs.values()))
        await self._commit(revoked)
        for tp in revoked:
            self._tracker.forget(tp)
            self._committed.pop(tp, None)
            self._paused.discard(tp)
        for key in jobs:
            self._jobs.pop(key, None)

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("delivery worker %s assigned %s", self.worker_id, sorted((tp.topic, tp.partition) for tp in assigned))

    # --- one task ---------------------------------------------------------------

    async def _handle(self, item: Fetched, picked_up: datetime) -> None:
        key = (item.partition, item.message.offset)
        try:
            if item.event is not None and item.event.name != TOMBSTONE:
                if item.event.name != "DeliveryTask":
                    raise Unprocessable(f"expected DeliveryTask on the tasks topic, got {item.event.name}")
                await self._deliverer.deliver(item.event.record, picked_up, item.event.headers)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # neither stall the partition nor lose the task: dead-letter it
            log.exception("delivery worker: task at %s offset %d dead-lettered", item.partition, key[1])
            self.metrics.skipped.labels("dead_lettered").inc()
            error = exc if isinstance(exc, UndecodableRecord) else Unprocessable(f"{type(exc).__name__}: {exc}")
            letter = dead_letter_record(item.message, error, self._intake.group_id)
            await publish_acked(self._producer, self._dead_letter_topic, "DeadLetter", letter, item.message.key,
                                self.metrics)  # fmt: skip
        if self._jobs.pop(key, None) is not None:
            self._tracker.finished(*key)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The deployment's retry rules; a bad schedule or bound fails the worker's start, naming the setting."""
    return RetryPolicy.parse(
        settings.retry_schedule, settings.retry_jitter, settings.retry_after_min, settings.retry_after_max
    )


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
