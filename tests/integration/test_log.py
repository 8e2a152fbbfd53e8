"""Avro events through the real broker: aiokafka both ways, a faust agent, and dead letters."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import faust
import pytest

from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.consumer import EventConsumer
from hookstream.log.producer import EventProducer
from hookstream.log.topics import DEAD_LETTER, MESSAGES, TopicNames

pytestmark = pytest.mark.integration

COUNT = 10_000


@pytest.fixture(scope="session")
def codec() -> AvroCodec:
    return AvroCodec()


def _message(i: int, app_id: str) -> dict:
    return {
        "msg_id": str(uuid.uuid4()),
        "app_id": app_id,
        "event_type": f"invoice.{('paid', 'created', 'voided')[i % 3]}",
        "event_id": f"evt-{i}",
        "channels": ["billing"] if i % 2 else [],
        "payload": b'{"n": %d}' % i,
        "accepted_at": datetime.now(UTC),
        "source": "kafka",
        "tags": [f"t{i % 5}"],
        "metadata": {"n": str(i)},
        "destination_id": str(uuid.uuid4()) if i % 4 == 0 else None,
        "eligible_for_retry": i % 3 != 0,
    }


async def _produce(kafka: str, codec: AvroCodec, topic: str, records: list[dict]) -> None:
    async with EventProducer(kafka, codec) as producer:
        futures = [
            await producer.send(topic, "MessageAccepted", record, record["app_id"].encode()) for record in records
        ]
        await asyncio.gather(*futures)


async def test_ten_thousand_records_round_trip_through_aiokafka(
    kafka: str, settings: Settings, topics: TopicNames, codec: AvroCodec
) -> None:
    apps = [str(uuid.uuid4()) for _ in range(7)]
    sent = [_message(i, apps[i % 7]) for i in range(COUNT)]
    await _produce(kafka, codec, topics(MESSAGES), sent)

    async with EventProducer(kafka, codec) as producer:
        consumer = EventConsumer(settings, producer, [topics(MESSAGES)], "g-roundtrip")
        await consumer.start()
        received = []
        try:
            async with asyncio.timeout(60):
                async for batch in consumer.batches():
                    received.extend(batch)
                    if len(received) >= COUNT:
                        break
            await consumer.commit()
        finally:
            await consumer.stop()

    assert len(received) == COUNT
    assert {event.name for event in received} == {"MessageAccepted"}
    by_id = {event.record["msg_id"]: event.record for event in received}
    for record in sent:
        assert by_id[record["msg_id"]] == record
    # one key, one partition, producer order kept
    for app in apps:
        seq = [int(e.record["event_id"][4:]) for e in sorted(received, key=lambda e: e.offset) if e.key == app.encode()]
        assert seq == sorted(seq)


async def test_ten_thousand_records_through_a_faust_agent(
    kafka: str, topics: TopicNames, codec: AvroCodec, tmp_path: Path
) -> None:
    sent = [_message(i, "app-faust") for i in range(COUNT)]
    await _produce(kafka, codec, topics(MESSAGES), sent)

    app = faust.App(
        f"hookstream-test-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{kafka}",
        store="memory://",
        web_enabled=False,
        topic_replication_factor=1,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=4096,
        datadir=str(tmp_path / "faust"),  # not `<app id>-data` in the working directory
    )
    topic = app.topic(topics(MESSAGES), key_type=bytes, value_type=bytes, value_serializer="raw")
    seen: list[dict] = []
    done = asyncio.Event()

    @app.agent(topic)
    async def count_messages(stream):  # type: ignore[no-untyped-def]
        async for values in stream.take(500, within=0.5):
            for value in values:
                seen.append(codec.decode(value, expected="MessageAccepted")[1])
            if len(seen) >= COUNT:
                done.set()

    await app.start()
    try:
        await asyncio.wait_for(done.wait(), 90)
    finally:
        await app.stop()
    assert sorted(r["msg_id"] for r in seen) == sorted(r["msg_id"] for r in sent)


async def test_corrupt_and_unknown_records_go_to_the_dead_letter_topic(
    kafka: str, settings: Settings, topics: TopicNames, codec: AvroCodec
) -> None:
    good = [_message(i, "app-dlq") for i in range(3)]
    unknown_fingerprint = b"\xc3\x01" + b"\x00" * 8 + b"\x02"
    async with EventProducer(kafka, codec) as producer:
        await (await producer.send(topics(MESSAGES), "MessageAccepted", good[0], b"k"))
        await (await producer.send_raw(topics(MESSAGES), b"not avro at all", b"k", [("trace", b"t1")]))
        await (await producer.send(topics(MESSAGES), "MessageAccepted", good[1], b"k"))
        await (await producer.send_raw(topics(MESSAGES), unknown_fingerprint, b"k"))
        await (await producer.send(topics(MESSAGES), "MessageAccepted", good[2], b"k"))

        consumer = EventConsumer(settings, producer, [topics(MESSAGES)], "g-dlq")
        await consumer.start()
        try:
            async with asyncio.timeout(30):
                async for batch in consumer.batches():
                    received = batch
                    break
        finally:
            await consumer.stop()
        assert [event.record["msg_id"] for event in received] == [record["msg_id"] for record in good]

        letters = EventConsumer(settings, producer, [topics(DEAD_LETTER)], "g-dlq-read")
        await letters.start()
        dead: list = []
        try:
            async with asyncio.timeout(30):
                async for batch in letters.batches():
                    dead.extend(batch)
                    if len(dead) >= 2:
                        break
        finally:
            await letters.stop()
    assert [event.name for event in dead] == ["DeadLetter", "DeadLetter"]
    first, second = (event.record for event in dead)
    assert first["value"] == b"not avro at all" and first["key"] == b"k"
    assert first["error_class"] == "not_single_object" and first["topic"] == topics(MESSAGES)
    assert first["headers"] == [{"key": "trace", "value": b"t1"}]
    assert first["consumer"] == "g-dlq"
    assert second["error_class"] == "unknown_schema" and "0000000000000000" in second["reason"]
    assert second["offset"] == first["offset"] + 2
