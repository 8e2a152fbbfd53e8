"""Malformed Avro on every consumed topic: dead-lettered with the reason, and the consumer goes on.

Each case writes, on each topic its consumers read, garbage bytes, a record
with a valid single-object marker and an unknown fingerprint, and a valid
record of a type that does not belong on the topic, then good records
behind them. Every bad record must reach ``deadletter`` (bytes intact, the
reason, the consumer that gave up) and the good records must have their
effect. Compacted topics also get tombstones, which are neither dead-lettered
nor fatal. The followers (config cache, idempotency store) have no consumer
group, so they log and skip instead of dead-lettering (the projector
dead-letters ``config``); they must still start and keep following.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from hookstream.api.idempotency import IdempotencyStore
from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.worker import DeliveryWorker
from hookstream.domain.ids import generate_id
from hookstream.domain.manual import manual_task
from hookstream.domain.operational import OPERATIONAL_APP_ID
from hookstream.domain.signing import generate_secret
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.codec import MARKER, AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.producer import EventProducer
from hookstream.log.topics import (
    ATTEMPTS,
    COMMANDS,
    CONFIG,
    DEAD_LETTER,
    IDEMPOTENCY,
    MESSAGES,
    OPERATIONAL,
    STATUS,
    TASKS,
    TopicNames,
)
from hookstream.projector.service import Projector, ProjectorMetrics
from hookstream.recovery.service import Recoverer
from hookstream.router.service import Router, RouterMetrics
from hookstream.scheduler.retries import SchedulerMetrics
from hookstream.scheduler.service import Scheduler
from hookstream.status.processor import StatusMetrics
from hookstream.status.relay import OperationalRelay
from hookstream.status.service import StatusProcessor
from tests.support import builders

pytestmark = pytest.mark.integration

TIMEOUT_S = 40.0
Where = tuple[str, int, int]  # topic, partition, offset


@dataclass
class Ctx:
    settings: Settings
    topics: TopicNames
    codec: AvroCodec
    producer: EventProducer
    request: pytest.FixtureRequest
    receivers: Any
    expected: dict[Where, tuple[str, bytes]]  # every bad record -> (error class, its bytes)

    @property
    def ns(self) -> str:
        return self.settings.topic_namespace

    async def send(self, topic: str, name: str, record: dict[str, Any], key: bytes) -> Where:
        meta = await (await self.producer.send(topic, name, record, key))
        return (topic, meta.partition, meta.offset)

    async def raw(self, topic: str, value: bytes | None, key: bytes) -> Where:
        meta = await (await self.producer.send_raw(topic, value, key, [("trace", b"t1")]))
        return (topic, meta.partition, meta.offset)

    async def poison(self, topic: str, key: bytes, wrong_class: str = "unexpected_type") -> None:
        """The three bad records, in front of whatever good record follows under the same key."""
        garbage = b"\x00not avro at all" + os.urandom(16)
        unknown = MARKER + os.urandom(8) + b"\x02"
        if topic == self.topics(CONFIG):
            wrong = self.codec.encode("MessageAccepted", builders.message(str(uuid.uuid4())))
        else:
            wrong = self.codec.encode("ApplicationUpserted", builders.application())
        for value, error_class in ((garbage, "not_single_object"), (unknown, "unknown_schema"), (wrong, wrong_class)):
            self.expected[await self.raw(topic, value, key)] = (error_class, value)

    async def world(
        self, url: str = "http://127.0.0.1:9/hook", **endpoint: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        app = builders.application()
        ep = builders.endpoint(app["app_id"], url, **endpoint)
        await self.send(self.topics(CONFIG), "ApplicationUpserted", app, app["app_id"].encode())
        await self.send(self.topics(CONFIG), "EndpointUpserted", ep, ep["endpoint_id"].encode())
        return app, ep


async def _read_until(settings: Settings, topic: str, codec: AvroCodec, found: Callable[[str, dict], bool]) -> dict:
    """The first decodable record of ``topic`` for which ``found`` holds (from the beginning, no group)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while True:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        if r.value is None or not r.value.startswith(MARKER):
                            continue
                        try:
                            name, record = codec.decode(r.value)
                        except Exception:
                            continue
                        if found(name, record):
                            return record
    finally:
        await consumer.stop()


async def _eventually(check: Callable[[], bool | Awaitable[bool]]) -> None:
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            done = check()
            if done if isinstance(done, bool) else await done:
                return
            await asyncio.sleep(0.2)


async def _check_dead_letters(ctx: Ctx, consumers: dict[str, str]) -> None:
    """Each bad record dead-lettered exactly once by the consumer of its topic (``consumers``: topic -> group)."""
    want = {where for where in ctx.expected if where[0] in consumers}
    letters: dict[Where, dict] = {}
    dlq = ctx.topics(DEAD_LETTER)
    consumer = AIOKafkaConsumer(
        dlq, bootstrap_servers=ctx.settings.kafka_bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not want <= set(letters):
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    for r in records:
                        _, letter = ctx.codec.decode(r.value, expected="DeadLetter")
                        where = (letter["topic"], letter["partition"], letter["offset"])
                        assert where not in letters, f"dead-lettered twice: {where}"
                        letters[where] = letter
    finally:
        await consumer.stop()
    assert set(letters) == want, "only the bad records are dead-lettered (no tombstone, no good record)"
    for where in want:
        letter, (error_class, value) = letters[where], ctx.expected[where]
        assert (letter["error_class"], letter["consumer"]) == (error_class, consumers[where[0]]), letter["reason"]
        assert letter["reason"], where
        # The router re-encodes a wrong-type record it dead-letters, the relay an event it cannot relay.
        if error_class != "unexpected_type" and not letter["reason"].startswith("cannot relay"):
            assert letter["value"] == value and letter["headers"] == [{"key": "trace", "value": b"t1"}]


async def router_case(ctx: Ctx) -> None:
    app, _ = await ctx.world()
    await ctx.poison(ctx.topics(MESSAGES), b"k")
    msg = builders.message(app["app_id"])
    await ctx.send(ctx.topics(MESSAGES), "MessageAccepted", msg, b"k")
    cache = await ConfigFollower(ctx.settings.kafka_bootstrap_servers, ctx.topics(CONFIG), ctx.codec).start()
    router = await Router(ctx.settings, ctx.codec, ctx.producer, cache, RouterMetrics(CollectorRegistry())).start()
    try:
        await _read_until(ctx.settings, ctx.topics(TASKS), ctx.codec, lambda _, r: r["msg_id"] == msg["msg_id"])
        await _check_dead_letters(ctx, {ctx.topics(MESSAGES): f"{ctx.ns}router"})
    finally:
        await router.stop()
        await cache.stop()


async def deliver_case(ctx: Ctx) -> None:
    receiver = await ctx.receivers.plain()
    settings = ctx.settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.0/8")
    box = SecretBox(parse_keys(settings.secret_keys))
    app, ep = await ctx.world(receiver.url, box=box, secrets=[generate_secret(os.urandom(24))])
    key = ep["endpoint_id"].encode()
    await ctx.poison(ctx.topics(TASKS), key, wrong_class="unprocessable")
    task = manual_task(builders.message(app["app_id"]), ep["endpoint_id"], 1, datetime.now(UTC))
    await ctx.send(ctx.topics(TASKS), "DeliveryTask", task, key)
    worker = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), producer=ctx.producer, codec=ctx.codec)
    await worker.start()
    try:
        [got] = await receiver.wait_for(1, timeout_s=TIMEOUT_S)
        assert got.body == task["payload"]
        await _check_dead_letters(ctx, {ctx.topics(TASKS): f"{ctx.ns}delivery"})
    finally:
        await worker.stop()


async def schedule_case(ctx: Ctx) -> None:
    """The retry agent (faust, on ``attempts``) and the delay-tier consumer, both of the ``schedule`` role."""
    app, ep = await ctx.world()
    msg = builders.message(app["app_id"])
    tier = ctx.topics.retry_tier(ctx.topics.tiers[0])
    await ctx.poison(ctx.topics(ATTEMPTS), msg["msg_id"].encode())
    await ctx.poison(tier, ep["endpoint_id"].encode())
    failed = builders.attempt(msg, ep["endpoint_id"], status=500)
    failed |= {"payload": msg["payload"], "next_attempt_at": failed["finished_at"] + timedelta(seconds=1)}
    await ctx.send(ctx.topics(ATTEMPTS), "AttemptFinished", failed, msg["msg_id"].encode())
    manual = manual_task(builders.message(app["app_id"]), ep["endpoint_id"], 1, datetime.now(UTC))
    await ctx.send(tier, "DeliveryTask", manual, ep["endpoint_id"].encode())
    scheduler = await Scheduler(ctx.settings, ctx.codec, ctx.producer, SchedulerMetrics(CollectorRegistry())).start()
    try:
        retry = await _read_until(ctx.settings, ctx.topics(TASKS), ctx.codec, lambda _, r: r["msg_id"] == msg["msg_id"])
        assert retry["attempt_number"] == 2
        await _read_until(ctx.settings, ctx.topics(TASKS), ctx.codec, lambda _, r: r["msg_id"] == manual["msg_id"])
        groups = {ctx.topics(ATTEMPTS): f"{ctx.ns}scheduler", tier: f"{ctx.ns}scheduler-tiers"}
        await _check_dead_letters(ctx, groups)
    finally:
        await scheduler.stop()


async def status_case(ctx: Ctx) -> None:
    """The statuses agent (faust, on ``attempts``) and the operational relay, both of the ``status`` role."""
    app, ep = await ctx.world()
    operators = builders.application(OPERATIONAL_APP_ID)
    operator_ep = builders.endpoint(operators["app_id"], "http://127.0.0.1:9/ops")
    await ctx.send(ctx.topics(CONFIG), "ApplicationUpserted", operators, operators["app_id"].encode())
    await ctx.send(ctx.topics(CONFIG), "EndpointUpserted", operator_ep, operator_ep["endpoint_id"].encode())
    msg = builders.message(app["app_id"])
    await ctx.poison(ctx.topics(ATTEMPTS), msg["msg_id"].encode())
    await ctx.poison(ctx.topics(OPERATIONAL), ep["endpoint_id"].encode())
    await ctx.send(
        ctx.topics(ATTEMPTS), "AttemptFinished", builders.attempt(msg, ep["endpoint_id"]), msg["msg_id"].encode()
    )
    event = {
        "event_id": str(generate_id()), "type": "endpoint.disabled", "app_id": app["app_id"],
        "endpoint_id": ep["endpoint_id"], "msg_id": None, "attempt_id": None, "response_status": None,
        "failing_since": None, "occurred_at": datetime.now(UTC), "payload": b'{"type": "endpoint.disabled"}',
    }  # fmt: skip
    # Decodable, but its event id is no UUIDv7: it cannot become a message, and must not stall the good one.
    unrelayable = ctx.codec.encode("OperationalEvent", {**event, "event_id": "not-a-uuid"})
    ctx.expected[await ctx.raw(ctx.topics(OPERATIONAL), unrelayable, ep["endpoint_id"].encode())] = (
        "unprocessable",
        unrelayable,
    )
    await ctx.send(ctx.topics(OPERATIONAL), "OperationalEvent", event, ep["endpoint_id"].encode())
    cache = await ConfigFollower(ctx.settings.kafka_bootstrap_servers, ctx.topics(CONFIG), ctx.codec).start()
    status = await StatusProcessor(ctx.settings, ctx.codec, cache, StatusMetrics(CollectorRegistry())).start()
    relay = await OperationalRelay(ctx.settings, ctx.codec, ctx.producer, cache).start()
    try:
        await _read_until(ctx.settings, ctx.topics(STATUS), ctx.codec,
                          lambda n, r: n == "MessageStatus" and r["msg_id"] == msg["msg_id"])  # fmt: skip
        await _read_until(ctx.settings, ctx.topics(MESSAGES), ctx.codec,
                          lambda _, r: r["app_id"] == str(OPERATIONAL_APP_ID))  # fmt: skip
        groups = {ctx.topics(ATTEMPTS): f"{ctx.ns}status", ctx.topics(OPERATIONAL): f"{ctx.ns}operational-relay"}
        await _check_dead_letters(ctx, groups)
    finally:
        await relay.stop()
        await status.stop()
        await cache.stop()


async def project_case(ctx: Ctx) -> None:
    clickhouse = ctx.request.getfixturevalue("clickhouse")
    app, ep = await ctx.world()
    msg = builders.message(app["app_id"])
    attempt = builders.attempt(msg, ep["endpoint_id"])
    consumed = [MESSAGES, CONFIG, ATTEMPTS, STATUS, COMMANDS]
    for topic in consumed:
        await ctx.poison(ctx.topics(topic), b"k")
    for topic in (CONFIG, STATUS):  # compacted: tombstones are deletions, not errors
        await ctx.raw(ctx.topics(topic), None, b"k")
    await ctx.send(ctx.topics(MESSAGES), "MessageAccepted", msg, b"k")
    await ctx.send(ctx.topics(ATTEMPTS), "AttemptFinished", attempt, b"k")
    own = ctx.request.getfixturevalue("role_clickhouse")
    projector = Projector(ctx.settings, ctx.codec, ctx.producer, own, ProjectorMetrics(CollectorRegistry()))
    await projector.start()
    try:

        def projected() -> bool:  # each topic is fetched and flushed on its own: wait for all three rows
            where = f"WHERE msg_id = '{msg['msg_id']}'"
            queries = [f"SELECT count() FROM {table} {where}" for table in ("attempts", "messages")]
            return [int(clickhouse.command(q)) for q in (*queries, "SELECT count() FROM applications")] == [1, 1, 1]

        await _eventually(projected)
        assert clickhouse.command("SELECT name FROM applications") == app["name"]
        await _check_dead_letters(ctx, {ctx.topics(topic): f"{ctx.ns}projector" for topic in consumed})
        await projector.check()  # still healthy
    finally:
        await projector.stop()


async def recover_case(ctx: Ctx) -> None:
    await ctx.poison(ctx.topics(COMMANDS), b"k")
    now = datetime.now(UTC)
    command = {
        "request_id": str(uuid.uuid4()), "app_id": str(uuid.uuid4()), "endpoint_id": str(uuid.uuid4()),
        "since": now - timedelta(hours=1), "until": None, "requested_at": now,
    }  # fmt: skip
    topic, partition, offset = await ctx.send(ctx.topics(COMMANDS), "RecoverRequested", command, b"k")
    clickhouse = ctx.request.getfixturevalue("role_clickhouse")  # the test's database, the recoverer's own client
    recoverer = await Recoverer(ctx.settings, ctx.codec, ctx.producer, clickhouse).start()
    group = AIOKafkaConsumer(bootstrap_servers=ctx.settings.kafka_bootstrap_servers, group_id=f"{ctx.ns}recover")
    await group.start()
    try:
        await _check_dead_letters(ctx, {ctx.topics(COMMANDS): f"{ctx.ns}recover"})
        committed: list[int] = []

        async def past_the_good_command() -> bool:  # the good command handled: committed past it
            committed.append(await group.committed(TopicPartition(topic, partition)) or 0)
            return committed[-1] > offset

        await _eventually(past_the_good_command)
    finally:
        await group.stop()
        await recoverer.stop()


async def followers_case(ctx: Ctx) -> None:
    """The config cache and the idempotency store: bad records before start and while following."""
    bootstrap, config, idem = ctx.settings.kafka_bootstrap_servers, ctx.topics(CONFIG), ctx.topics(IDEMPOTENCY)

    async def bad_records() -> None:
        for topic in (config, idem):
            await ctx.poison(topic, b"k")
            await ctx.raw(topic, None, b"k")
        bad_endpoint = builders.endpoint(str(uuid.uuid4()), "http://127.0.0.1:9/") | {"endpoint_id": "not-a-uuid"}
        await ctx.send(config, "EndpointUpserted", bad_endpoint, b"k")  # decodes, but the view cannot take it

    async def good_records() -> tuple[uuid.UUID, str]:
        app = builders.application()
        await ctx.send(config, "ApplicationUpserted", app, app["app_id"].encode())
        key = f"key-{uuid.uuid4()}"
        answer = {"request_key": key, "status": 201, "headers": {}, "body": b"{}", "answered_at": datetime.now(UTC)}
        await ctx.send(idem, "IdempotentResponse", answer, key.encode())
        return uuid.UUID(app["app_id"]), key

    await bad_records()
    app_before, key_before = await good_records()
    cache = await ConfigFollower(bootstrap, config, ctx.codec).start()
    store = await IdempotencyStore(bootstrap, idem, ctx.codec, ctx.producer, window_s=3600).start()
    try:
        assert app_before in cache.view.applications and store.lookup(key_before) is not None
        await bad_records()
        app_after, key_after = await good_records()
        await cache.catch_up()
        await store.catch_up()
        assert app_after in cache.view.applications and store.lookup(key_after) is not None
    finally:
        await store.stop()
        await cache.stop()
    dlq = TopicPartition(ctx.topics(DEAD_LETTER), 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        assert (await consumer.end_offsets([dlq]))[dlq] == 0, "followers log and skip; they write no dead letters"
    finally:
        await consumer.stop()


CASES: dict[str, Callable[[Ctx], Awaitable[None]]] = {
    "router": router_case,
    "deliver": deliver_case,
    "schedule": schedule_case,
    "status": status_case,
    "project": project_case,
    "recover": recover_case,
    "followers": followers_case,
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_records_are_dead_lettered_and_the_consumer_goes_on(
    case: str, settings: Settings, topics: TopicNames, request: pytest.FixtureRequest, receivers: Any
) -> None:
    codec = AvroCodec()
    # A bound on the whole case, stops included: a consumer that hangs fails the test instead of stalling it.
    async with asyncio.timeout(150), EventProducer(settings.kafka_bootstrap_servers, codec) as producer:
        await CASES[case](Ctx(settings, topics, codec, producer, request, receivers, {}))
