"""The intake role on the real broker: each format becomes its message, a record read twice is one message,
hostile records are dead-lettered whole with their reasons while the good ones around them flow."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from hookstream.cli import main
from hookstream.foundation.settings import Settings
from hookstream.intake.service import Intake, IntakeMetrics
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.deadletters import LetterFilter, read_letters, select
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, DEAD_LETTER, INTAKE, MESSAGES, TopicNames, dead_letter_max_bytes
from tests.support import builders
from tests.support.log import at_least, read_topic, send_all

pytestmark = pytest.mark.integration

Headers = Sequence[tuple[str, bytes]]
CE = [("content-type", b"application/cloudevents+json")]


@pytest.fixture
async def raw(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    """An upstream producer: plain bytes, no codec, records up to 20 MB."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                                max_request_size=20 * 1024 * 1024)  # fmt: skip
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def letters_producer(settings: Settings) -> AsyncIterator[EventProducer]:
    """The producer a process running intake has: records as large as the dead-letter topic takes."""
    bootstrap, size = settings.kafka_bootstrap_servers, dead_letter_max_bytes(settings)
    async with EventProducer(bootstrap, AvroCodec(), max_request_size=size) as producer:
        yield producer


async def _start(settings: Settings, producer: EventProducer) -> tuple[Intake, ConfigFollower]:
    topic = settings.topic_namespace + CONFIG
    cache = await ConfigFollower(settings.kafka_bootstrap_servers, topic, producer.codec).start()
    return await Intake(settings, producer, cache, IntakeMetrics(CollectorRegistry())).start(), cache


async def _stop(intake: Intake, cache: ConfigFollower) -> None:
    await intake.stop()
    await cache.stop()


async def _app(producer: EventProducer, topics: TopicNames, uid: str) -> dict:
    app = {**builders.application(), "uid": uid}
    await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
    return app


async def _write(raw: AIOKafkaProducer, topic: str, records: list[tuple[bytes | None, bytes | None, Headers]]) -> None:
    """In order, on one partition, so the test knows which offset each record has."""
    for key, value, headers in records:
        await raw.send_and_wait(topic, value, key=key, headers=list(headers), partition=0)


def _cloudevent(event_id: str, **more: object) -> bytes:
    event = {"specversion": "1.0", "id": event_id, "source": "/shop", "type": "order.created", "data": {"n": event_id}}
    return json.dumps({**event, **more}).encode()


async def test_each_format_becomes_the_message_it_maps_to(
    settings: Settings, topics: TopicNames, producer: EventProducer, raw: AIOKafkaProducer
) -> None:
    app = await _app(producer, topics, "shop")
    binary = [("ce_specversion", b"1.0"), ("ce_id", b"bin-1"), ("ce_source", b"/s"), ("ce_type", b"user.signup"),
              ("ce_hookstreamapp", app["app_id"].encode()), ("content-type", b"application/json")]  # fmt: skip
    outbox = [("id", b"ob-1"), ("eventType", b"OrderPaid"), ("hookstream-application", b"shop")]
    plain = {"eventType": "invoice.paid", "eventId": "pj-1", "payload": {"total": 5}, "channels": ["eu"]}
    intake, cache = await _start(settings, producer)
    try:
        await _write(raw, topics(INTAKE), [
            (b"shop", _cloudevent("st-1", subject="eu"), CE),
            (None, b'{"user": 1}', binary),
            (b"order-9", json.dumps({"total": 9}).encode(), outbox),
            (b"shop", json.dumps(plain).encode(), []),
        ])  # fmt: skip
        messages = await read_topic(settings, producer, topics(MESSAGES), at_least(4), settle_s=1.0)
    finally:
        await _stop(intake, cache)
    got = {m.record["event_id"]: m for m in messages}
    assert sorted(got) == ["bin-1", "ob-1", "pj-1", "st-1"]
    for event_id, message in got.items():
        assert message.record["app_id"] == app["app_id"] and message.record["source"] == "kafka"
        assert message.key == f"{app['app_id']}:{event_id}".encode(), "keyed as the API keys messages"
    assert (got["st-1"].record["event_type"], got["st-1"].record["payload"]) == ("order.created", b'{"n":"st-1"}')
    assert got["st-1"].record["channels"] == ["eu"] and got["st-1"].record["metadata"]["ce_source"] == "/shop"
    assert (got["bin-1"].record["event_type"], got["bin-1"].record["payload"]) == ("user.signup", b'{"user":1}')
    assert (got["ob-1"].record["event_type"], got["ob-1"].record["payload"]) == ("OrderPaid", b'{"total":9}')
    assert got["pj-1"].record["channels"] == ["eu"]


async def test_a_record_read_again_after_a_restart_without_commit_is_the_same_message(
    settings: Settings, topics: TopicNames, producer: EventProducer, raw: AIOKafkaProducer
) -> None:
    await _app(producer, topics, "shop")
    await _write(raw, topics(INTAKE), [(b"shop", _cloudevent("again-1"), CE)])
    intake, cache = await _start(settings, producer)
    try:
        first = await read_topic(settings, producer, topics(MESSAGES), at_least(1), settle_s=0.5)
    finally:
        await _stop(intake, cache)
    # As if the role had died before its commit: the group's offset goes back to the start.
    group = settings.topic_namespace + "intake"
    rewind = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                              enable_auto_commit=False)  # fmt: skip
    await rewind.start()
    try:
        tp = TopicPartition(topics(INTAKE), 0)
        rewind.assign([tp])
        await rewind.commit({tp: 0})
    finally:
        await rewind.stop()
    intake, cache = await _start(settings, producer)
    try:
        both = await read_topic(settings, producer, topics(MESSAGES), at_least(2), settle_s=0.5)
    finally:
        await _stop(intake, cache)
    assert len(first) == 1 and len(both) == 2
    assert both[0].record == both[1].record and both[0].key == both[1].key


async def test_hostile_records_are_dead_lettered_whole_while_good_ones_flow(
    settings: Settings,
    topics: TopicNames,
    producer: EventProducer,
    raw: AIOKafkaProducer,
    letters_producer: EventProducer,
) -> None:
    await _app(producer, topics, "shop")
    huge = b'{"eventType": "a", "payload": {"x": "' + b"y" * (10 * 1024 * 1024) + b'"}}'
    hostile = [
        (b"shop", b"\x00\xff garbage \xc3\x01", [], "not_json"),
        (b"shop", huge, [], "payload_too_large"),
        (b"shop", _cloudevent("ct-1", datacontenttype="text/xml"), CE, "unsupported_content_type"),
        (b"shop", _cloudevent("no-type", type=None), CE, "missing_field"),
        (b"nobody", _cloudevent("who-1"), CE, "unknown_application"),
        (None, b'{"eventType": "a", "payload": {}}', [], "no_application"),
        (b"shop", b'{"eventType": "bad type!", "payload": {}}', [("trace", b"t-1")], "invalid_field"),
        (b"shop", None, [], "not_json"),
    ]
    good = [(b"shop", _cloudevent(f"good-{i}"), CE) for i in range(len(hostile) + 1)]
    records = [good[0]]
    for (key, value, headers, _), after in zip(hostile, good[1:], strict=True):
        records += [(key, value, headers), after]
    intake, cache = await _start(settings, letters_producer)
    try:
        await _write(raw, topics(INTAKE), records)
        messages = await read_topic(settings, producer, topics(MESSAGES), at_least(len(good)), settle_s=1.0)
        letters = await read_topic(settings, producer, topics(DEAD_LETTER), at_least(len(hostile)), settle_s=1.0)
    finally:
        await _stop(intake, cache)
    assert sorted(m.record["event_id"] for m in messages) == sorted(f"good-{i}" for i in range(len(good)))
    assert len(letters) == len(hostile)
    by_offset = {letter.record["offset"]: letter.record for letter in letters}
    for index, (key, value, headers, error_class) in enumerate(hostile):
        letter = by_offset[2 * index + 1]
        assert letter["error_class"] == error_class, letter["reason"]
        assert (letter["key"], letter["value"]) == (key, value), "the original bytes, untouched"
        assert [(h["key"], h["value"]) for h in letter["headers"]] == list(headers)
        assert letter["topic"] == topics(INTAKE) and letter["consumer"] == settings.topic_namespace + "intake"
        assert letter["reason"] and letter["timestamp_ms"]
    invalid = by_offset[2 * 6 + 1]
    assert "eventType" in invalid["reason"]


async def test_an_application_created_just_before_its_record_is_found(
    settings: Settings, topics: TopicNames, producer: EventProducer, raw: AIOKafkaProducer
) -> None:
    intake, cache = await _start(settings, producer)
    try:
        await _app(producer, topics, "late")
        await _write(raw, topics(INTAKE), [(b"late", _cloudevent("late-1"), CE)])
        messages = await read_topic(settings, producer, topics(MESSAGES), at_least(1), settle_s=0.5)
    finally:
        await _stop(intake, cache)
    assert [m.record["event_id"] for m in messages] == ["late-1"]


async def test_a_letter_listed_and_resubmitted_after_the_fix_becomes_its_message(
    settings: Settings, topics: TopicNames, producer: EventProducer, raw: AIOKafkaProducer,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    headers = [*CE, ("traceparent", b"00-abc-01")]
    intake, cache = await _start(settings, producer)
    try:
        await _write(raw, topics(INTAKE), [(b"later", _cloudevent("fix-1"), headers), (b"x", b"junk", [])])
        await read_topic(settings, producer, topics(DEAD_LETTER), at_least(2), settle_s=0.5)
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
        monkeypatch.setenv("HOOKSTREAM_TOPIC_NAMESPACE", settings.topic_namespace)
        await asyncio.to_thread(main, ["deadletters", "list", "--error-class", "unknown_application",
                                       "--consumer", "intake"])  # fmt: skip
        (line,) = capsys.readouterr().out.splitlines()
        assert (
            f"#0  {topics(INTAKE)}/0/0  {settings.topic_namespace}intake  unknown_application  no application" in line
        )
        letters = await read_letters(settings, producer.codec)
        assert [letter.offset for letter in select(letters, LetterFilter(error_class="not_json"), "", None)] == [1]

        await _app(producer, topics, "later")  # the fix
        assert await asyncio.to_thread(main, ["deadletters", "resubmit", "--offset", "0"]) == 0
        assert capsys.readouterr().out.strip() == f"#0 re-submitted to {topics(INTAKE)}/0/2"
        (message,) = await read_topic(settings, producer, topics(MESSAGES), at_least(1), settle_s=0.5)
    finally:
        await _stop(intake, cache)
    assert message.record["event_id"] == "fix-1"
    resubmitted = await read_topic(settings, producer, topics(INTAKE), at_least(3), raw=True)
    assert resubmitted[2].headers == tuple(headers)
