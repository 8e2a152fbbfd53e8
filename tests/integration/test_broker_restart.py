"""Loops that outlive the broker: a send the broker does not acknowledge is retried, never skipped.

The router's loop used to be a bare ``async for``: the first Kafka error of a
send ended it, silently, and every later message stayed unrouted. The fault
is injected at our own producer wrapper (the sends that fail never reach the
broker, as when it is away); the broker, topics and consumer group are real.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry

from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import ConsumerStalled
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, MESSAGES, TASKS, TopicNames
from hookstream.projector.service import Projector, ProjectorMetrics
from hookstream.router.service import Router, RouterMetrics
from tests.support import builders
from tests.support.log import covering, read_topic

pytestmark = pytest.mark.integration


class BrokerAwayFor(EventProducer):
    """Fails the first ``failures`` sends of ``name`` as a stopped broker would; calls ``during`` at each."""

    def __init__(self, bootstrap: str, name: str, failures: int) -> None:
        super().__init__(bootstrap, AvroCodec())
        self.name, self.failures_left = name, failures
        self.health_while_failing: list[str] = []
        self.router: Router | None = None

    async def send(  # type: ignore[override]
        self, topic: str, name: str, record: Any, key: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[Any]:
        if name == self.name and self.failures_left > 0:
            self.failures_left -= 1
            if self.router is not None:
                try:
                    await self.router.check()
                    self.health_while_failing.append("ok")
                except ConsumerStalled as exc:
                    self.health_while_failing.append(str(exc))
            raise KafkaConnectionError("Connection at 127.0.0.1 closed (injected)")
        return await super().send(topic, name, record, key, headers)


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[BrokerAwayFor]:
    """Replaces the suite's producer here: this one loses the broker for its first DeliveryTask sends."""
    async with BrokerAwayFor(kafka, "DeliveryTask", failures=3) as producer:
        yield producer


async def test_router_retries_a_batch_whose_sends_failed_and_loses_no_message(
    settings: Settings, topics: TopicNames, producer: BrokerAwayFor
) -> None:
    app = builders.application()
    ep = builders.endpoint(app["app_id"], "http://127.0.0.1:1/a")
    await (await producer.send(topics(CONFIG), "ApplicationUpserted", app, app["app_id"].encode()))
    await (await producer.send(topics(CONFIG), "EndpointUpserted", ep, ep["endpoint_id"].encode()))
    cache = await ConfigFollower(settings.kafka_bootstrap_servers, topics(CONFIG), producer.codec).start()
    router = await Router(settings, producer.codec, producer, cache, RouterMetrics(CollectorRegistry())).start()
    producer.router = router
    messages = [builders.message(app["app_id"], event_id=f"order-{n}") for n in range(12)]
    try:
        for m in messages:
            await (await producer.send(topics(MESSAGES), "MessageAccepted", m, m["app_id"].encode()))
        tasks = await read_topic(settings, producer, topics(TASKS), covering({m["msg_id"] for m in messages}))
        for _ in range(300):  # healthy again once the retried batch is committed (bounded: 30 s)
            if router.consumer.failure is None:
                break
            await asyncio.sleep(0.1)
        await router.check()
    finally:
        await router.stop()
        await cache.stop()
    assert producer.failures_left == 0
    assert {t.record["msg_id"] for t in tasks} == {m["msg_id"] for m in messages}
    # The first failure is seen by the second attempt: /health fails while the batch is retried.
    assert producer.health_while_failing[0] == "ok"
    assert all("KafkaConnectionError" in h for h in producer.health_while_failing[1:]), producer.health_while_failing


async def test_projector_rereads_from_its_committed_offsets_when_a_dead_letter_is_not_taken(
    settings: Settings, topics: TopicNames, clickhouse: Any, role_clickhouse: Any, kafka: str
) -> None:
    """A poisoned record whose dead letter the broker does not take used to end the projector's loop."""
    async with BrokerAwayFor(kafka, "DeadLetter", failures=2) as producer:
        app = builders.application()
        await (await producer.send(topics(CONFIG), "ApplicationUpserted", app, app["app_id"].encode()))
        messages = [builders.message(app["app_id"], event_id=f"order-{n}") for n in range(6)]
        key = app["app_id"].encode()
        for m in messages[:3]:
            await (await producer.send(topics(MESSAGES), "MessageAccepted", m, key))
        await (await producer.send_raw(topics(MESSAGES), b"\x00not avro", key))
        for m in messages[3:]:
            await (await producer.send(topics(MESSAGES), "MessageAccepted", m, key))
        projector = Projector(
            settings, producer.codec, producer, role_clickhouse, ProjectorMetrics(CollectorRegistry())
        )
        await projector.start()
        try:
            for _ in range(600):  # bounded: 60 s; healthy again once a batch went through after the rewind
                projected = clickhouse.command("SELECT count() FROM messages FINAL")
                if projected == len(messages) and projector.failure is None:
                    break
                await asyncio.sleep(0.1)
            await projector.check()
        finally:
            await projector.stop()
    assert producer.failures_left == 0
    assert clickhouse.command("SELECT count() FROM messages FINAL") == len(messages)
    assert clickhouse.command("SELECT uniqExact(msg_id) FROM messages") == len(messages)
