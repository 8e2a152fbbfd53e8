"""The router: each accepted message becomes one delivery task per matching endpoint.

A batch of messages is routed, its tasks (and dead letters) acknowledged by
the broker, and only then are the message offsets committed: a crash routes
a message again, never loses it, and the replayed tasks carry the same
attempt identity downstream. A batch that fails (the broker away) is read
again and retried by the loop itself (:class:`~hookstream.log.service.ConsumerService`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from prometheus_client import CollectorRegistry, Counter

from hookstream.domain.dedupe import DedupeIndex
from hookstream.domain.routing import Routed, UnknownApplication, message_facts, route
from hookstream.domain.schedule import parse_duration
from hookstream.foundation import tracing
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import ConsumerOptions, Event, Outputs
from hookstream.log.producer import EventProducer
from hookstream.log.service import ConsumerService
from hookstream.log.topics import MESSAGES, TASKS

log = logging.getLogger("hookstream.router")


@dataclass
class RouterMetrics:
    registry: CollectorRegistry
    messages: Counter = field(init=False)
    tasks: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.messages = Counter(
            "hookstream_router_messages_total", "Messages routed, by outcome", ["outcome"], registry=self.registry
        )
        self.tasks = Counter("hookstream_router_tasks_total", "Delivery tasks produced", registry=self.registry)


class _WarmDedupe(ConsumerRebalanceListener):  # type: ignore[misc]
    """Rebuilds a partition's dedupe index from the log when the router is given the partition."""

    def __init__(self, router: Router) -> None:
        self.router = router

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        for tp in revoked:
            self.router.indexes.pop(tp.partition, None)
            warming = self.router.warming.pop(tp.partition, None)
            if warming is not None:
                warming.cancel()

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        # aiokafka may fetch while this callback runs, so handle() waits on these tasks instead.
        for tp in assigned:
            self.router.warming[tp.partition] = asyncio.create_task(self.router.warm(tp))


class Router(ConsumerService):
    def __init__(
        self,
        settings: Settings,
        codec: AvroCodec,
        producer: EventProducer,
        cache: ConfigFollower,
        metrics: RouterMetrics,
    ) -> None:
        super().__init__(settings, producer, "router", [MESSAGES], ConsumerOptions(rebalance=_WarmDedupe(self)))
        self.codec = codec
        self.cache = cache
        self.metrics = metrics
        self.window_us = int(parse_duration(settings.dedupe_window) * 1_000_000)
        self.indexes: dict[int, DedupeIndex] = {}
        self.warming: dict[int, asyncio.Task[None]] = {}

    async def stop(self) -> None:
        for warming in self.warming.values():
            warming.cancel()
        await super().stop()

    async def _warmed(self, event: Event) -> None:
        """Wait for the partition's dedupe index; a warm-up that failed (broker away) is started again."""
        warming = self.warming.get(event.partition)
        if warming is None:
            return
        await asyncio.wait([warming])
        if warming.cancelled() or warming.exception() is None:
            return  # cancelled: revoked meanwhile, and the batch is not committed for a partition not ours
        tp = TopicPartition(event.topic, event.partition)
        if self.warming.get(event.partition) is warming and tp in self.consumer.kafka.assignment():
            self.warming[event.partition] = asyncio.create_task(self.warm(tp))
        raise RuntimeError(f"dedupe index of partition {event.partition} not warmed: {warming.exception()!r}")

    async def handle(self, batch: list[Event]) -> Outputs:
        # Read your writes: a client that saw its endpoint created (the config record acknowledged) before it sent
        # the message expects the message to reach it. Every config record acknowledged before these messages were
        # is below the config topic's end now, so the view is brought there once per batch before routing it.
        await self.cache.catch_up()
        acks: list[asyncio.Future[Any]] = []
        now = datetime.now(UTC)
        for event in batch:
            if event.name != "MessageAccepted":
                reason = f"unexpected {event.name} on the messages topic"
                acks.append(await self.dead_letter(event, reason, "unexpected_type"))
                continue
            if not tracing.ENABLED:
                await self._route(event, now, acks)
                continue
            attributes = tracing.message_attributes(event.record)
            with tracing.span("route", parent=event.headers, kind=tracing.SpanKind.CONSUMER, attributes=attributes):
                await self._route(event, now, acks)
        return acks

    async def _route(self, event: Event, now: datetime, acks: list[asyncio.Future[Any]]) -> None:
        """Route one message: its tasks' (or its dead letter's) acknowledgements go to ``acks``.

        Traced, each task carries the ``route`` span's context, so its attempts join the message's trace.
        """
        message = event.record
        await self._warmed(event)
        index = self.indexes.setdefault(event.partition, DedupeIndex(self.window_us))
        facts = message_facts(message)
        first = index.check(message["app_id"], facts.event_id, message["msg_id"], facts.accepted_at_us)
        if first is not None:
            self._outcome("duplicate")
            log.info("duplicate eventId not routed", extra={"msg_id": message["msg_id"],
                                                             "first_msg_id": first.msg_id})  # fmt: skip
            return
        decision = route(message, self.cache.view, now)
        if isinstance(decision, UnknownApplication):
            # The application may have been created a moment ago: read the config topic to its end once.
            await self.cache.catch_up()
            decision = route(message, self.cache.view, now)
        if isinstance(decision, UnknownApplication):
            self._outcome("unknown_application")
            acks.append(await self.dead_letter(event, decision.reason, "unknown_application"))
            return
        assert isinstance(decision, Routed)
        headers = tracing.current_headers()
        for task in decision.tasks:
            key = task["endpoint_id"].encode()
            acks.append(await self.producer.send(self.names(TASKS), "DeliveryTask", task, key, headers))
        self._outcome("routed" if decision.tasks else "no_endpoint", len(decision.tasks))
        self.metrics.tasks.inc(len(decision.tasks))

    def _outcome(self, outcome: str, tasks: int = 0) -> None:
        """Count the message's outcome, and say it on the ``route`` span when traced."""
        self.metrics.messages.labels(outcome).inc()
        if tracing.ENABLED:
            span = tracing.current_span()
            span.set_attribute("hookstream.route.outcome", outcome)
            span.set_attribute("hookstream.route.tasks", tasks)

    async def warm(self, tp: TopicPartition) -> None:
        """Feed the window's worth of already-routed records of ``tp`` into its dedupe index."""
        index = self.indexes[tp.partition] = DedupeIndex(self.window_us)
        committed = await self.consumer.kafka.committed(tp)
        if not committed:
            return
        since_ms = int(datetime.now(UTC).timestamp() * 1000 - self.window_us / 1000)
        reader = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap_servers, enable_auto_commit=False)
        await reader.start()
        try:
            reader.assign([tp])
            found = await reader.offsets_for_times({tp: since_ms})
            start = found[tp].offset if found.get(tp) else committed
            if start >= committed:
                return
            reader.seek(tp, start)
            position = start
            while position < committed:
                batches = await reader.getmany(tp, timeout_ms=1000, max_records=5000)
                for message in batches.get(tp, []):
                    if message.offset >= committed:
                        break
                    self._remember(index, message.value)
                position = await reader.position(tp)
            log.info("dedupe index warmed", extra={"partition": tp.partition, "records": committed - start})
        finally:
            await reader.stop()

    def _remember(self, index: DedupeIndex, value: bytes | None) -> None:
        if value is None:
            return
        try:
            name, record = self.codec.decode(value)
        except UndecodableRecord:
            return  # it was dead-lettered when first consumed
        if name == "MessageAccepted":
            facts = message_facts(record)
            index.check(record["app_id"], facts.event_id, record["msg_id"], facts.accepted_at_us)
