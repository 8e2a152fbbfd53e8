"""The router on the real broker: fan-out, duplicate eventIds (across restarts), unknown apps."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from hookstream.foundation.settings import Settings
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, DEAD_LETTER, MESSAGES, TASKS, TopicNames
from hookstream.router.service import Router, RouterMetrics
from tests.support import builders
from tests.support.log import at_least, read_topic, send_all

pytestmark = pytest.mark.integration


async def _start_router(
    settings: Settings, producer: EventProducer, follower: type[ConfigFollower] = ConfigFollower
) -> tuple[Router, ConfigFollower]:
    codec = producer.codec
    cache = await follower(settings.kafka_bootstrap_servers, settings.topic_namespace + CONFIG, codec).start()
    router = Router(settings, codec, producer, cache, RouterMetrics(CollectorRegistry()))
    return await router.start(), cache


async def _stop(router: Router, cache: ConfigFollower) -> None:
    await router.stop()
    await cache.stop()


async def test_fan_out_two_endpoints_three_event_types_and_channels(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    app = builders.application()
    ep_a = builders.endpoint(app["app_id"], "http://127.0.0.1:1/a", event_types=["a.created", "a.updated"])
    ep_b = builders.endpoint(app["app_id"], "http://127.0.0.1:1/b", channels=["eu"])
    await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
    await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep_a, ep_b], "endpoint_id")
    messages = [
        builders.message(app["app_id"], event_type, channels=channels)
        for event_type in ("a.created", "a.updated", "a.deleted")
        for channels in ([], ["eu"], ["us"])
    ]
    router, cache = await _start_router(settings, producer)
    try:
        await send_all(producer, topics(MESSAGES), "MessageAccepted", messages, "app_id")
        expected = set()
        for m in messages:
            if m["event_type"] != "a.deleted":
                expected.add((m["msg_id"], ep_a["endpoint_id"]))
            if "eu" in m["channels"]:
                expected.add((m["msg_id"], ep_b["endpoint_id"]))
        tasks = await read_topic(settings, producer, topics(TASKS), at_least(len(expected)), settle_s=1.0)
    finally:
        await _stop(router, cache)
    assert sorted((t.record["msg_id"], t.record["endpoint_id"]) for t in tasks) == sorted(expected)
    assert all(t.key == t.record["endpoint_id"].encode() for t in tasks), "tasks are keyed by endpoint"


async def test_duplicate_event_id_is_routed_once_even_across_a_restart(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    app = builders.application()
    ep = builders.endpoint(app["app_id"], "http://127.0.0.1:1/a")
    await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
    await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep], "endpoint_id")
    first = builders.message(app["app_id"], event_id="order-1")
    copy = builders.message(app["app_id"], event_id="order-1")
    other = builders.message(app["app_id"], event_id="order-2")
    # Upstream producers key by app and event id, so copies share a partition.
    key = lambda m: f"{m['app_id']}:{m['event_id']}".encode()  # noqa: E731
    for m in (first, copy):
        await (await producer.send(topics(MESSAGES), "MessageAccepted", m, key(m)))

    router, cache = await _start_router(settings, producer)
    tasks = await read_topic(settings, producer, topics(TASKS), at_least(1), settle_s=1.0)
    await _stop(router, cache)
    assert [t.record["msg_id"] for t in tasks] == [first["msg_id"]]

    # A new router process: the index is rebuilt from the log, so a third copy is still a duplicate.
    third = builders.message(app["app_id"], event_id="order-1")
    for m in (third, other):
        await (await producer.send(topics(MESSAGES), "MessageAccepted", m, key(m)))
    router, cache = await _start_router(settings, producer)
    try:
        tasks = await read_topic(settings, producer, topics(TASKS), at_least(2), settle_s=1.0)
    finally:
        await _stop(router, cache)
    assert sorted(t.record["msg_id"] for t in tasks) == sorted([first["msg_id"], other["msg_id"]])


async def test_unknown_application_goes_to_the_dead_letter_topic(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    stray = builders.message(str(builders.application()["app_id"]))
    router, cache = await _start_router(settings, producer)
    try:
        await send_all(producer, topics(MESSAGES), "MessageAccepted", [stray], "app_id")
        letters = await read_topic(settings, producer, topics(DEAD_LETTER), at_least(1), settle_s=1.0)
    finally:
        await _stop(router, cache)
    assert len(letters) == 1
    letter = letters[0].record
    assert letter["reason"] == f"application {stray['app_id']} does not exist"
    assert letter["error_class"] == "unknown_application" and letter["topic"] == topics(MESSAGES)
    assert producer.codec.decode(letter["value"]) == ("MessageAccepted", stray)


async def test_application_created_just_before_its_message_is_routed(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    router, cache = await _start_router(settings, producer)
    try:
        app = builders.application()
        ep = builders.endpoint(app["app_id"], "http://127.0.0.1:1/a")
        await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
        await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep], "endpoint_id")
        msg = builders.message(app["app_id"])
        await send_all(producer, topics(MESSAGES), "MessageAccepted", [msg], "app_id")
        tasks = await read_topic(settings, producer, topics(TASKS), at_least(1), settle_s=0.3)
    finally:
        await _stop(router, cache)
    assert [t.record["msg_id"] for t in tasks] == [msg["msg_id"]]


class _LaggingFollower(ConfigFollower):
    """A config view that folds each fetch a while after it was written, as a busy process's does."""

    async def _poll_once(self) -> None:
        await asyncio.sleep(1.5)
        await super()._poll_once()


async def test_an_endpoint_created_just_before_a_message_receives_it_though_the_view_lags(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    """The client saw the endpoint's 201 before it sent the message: the message must reach the endpoint."""
    app = builders.application()
    await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
    router, cache = await _start_router(settings, producer, _LaggingFollower)
    try:
        ep = builders.endpoint(app["app_id"], "http://127.0.0.1:1/a")
        await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep], "endpoint_id")
        msg = builders.message(app["app_id"])
        await send_all(producer, topics(MESSAGES), "MessageAccepted", [msg], "app_id")
        tasks = await read_topic(settings, producer, topics(TASKS), at_least(1), settle_s=0.3)
    finally:
        await _stop(router, cache)
    assert [(t.record["msg_id"], t.record["endpoint_id"]) for t in tasks] == [(msg["msg_id"], ep["endpoint_id"])]
