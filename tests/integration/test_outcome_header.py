"""The outcome header on the real broker: written by the delivery worker, read by the status fold and the scheduler.

The worker's records carry ``hookstream-outcome`` beside the value (the same
facts, see tests/unit/test_domain_outcome.py). The readers trust a
well-formed header and never decode the value behind it (shown with a value
that is not Avro at all: no dead letter, the status from the header alone);
a malformed header sends them back to the value, and an undecodable value
behind a malformed header is dead-lettered as before. A status rebuild reads
the same headers and writes the same records.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.worker import DeliveryWorker
from hookstream.domain.outcome import OUTCOME_HEADER, outcome_headers
from hookstream.domain.signing import generate_secret
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.admin import create_topics
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, CONFIG, DEAD_LETTER, STATUS, TASKS, TopicNames, catalogue
from hookstream.scheduler.retries import SchedulerMetrics
from hookstream.scheduler.service import Scheduler
from hookstream.status.processor import StatusMetrics
from hookstream.status.service import StatusProcessor
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.receivers import Reply

pytestmark = pytest.mark.integration

TIMEOUT_S = 40.0
Raw = tuple[int, bytes | None, dict[str, bytes]]  # offset, value, headers


@pytest.fixture
async def one_partition(kafka: str, settings: Settings) -> Settings:
    """One partition: a later record handled proves every earlier one was."""
    settings = settings.replace(topic_partitions=1, retry_schedule="0s,1s,2s")
    await create_topics(kafka, catalogue(settings))
    return settings


async def _read(settings: Settings, topic: str, enough: Callable[[list[Raw]], bool]) -> list[Raw]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Raw] = []
    try:
        async with asyncio.timeout(TIMEOUT_S):
            while not enough(found):
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    found += [(r.offset, r.value, dict(r.headers)) for r in records]
    finally:
        await consumer.stop()
    return found


async def _world(producer: EventProducer, names: TopicNames, url: str, **endpoint: Any) -> tuple[dict, dict]:
    app = builders.application()
    ep = builders.endpoint(app["app_id"], url, **endpoint)
    await (await producer.send(names(CONFIG), "ApplicationUpserted", app, app["app_id"].encode()))
    await (await producer.send(names(CONFIG), "EndpointUpserted", ep, ep["endpoint_id"].encode()))
    return app, ep


async def test_the_delivery_worker_writes_the_header_of_each_record(
    one_partition: Settings, producer: EventProducer, receivers: ReceiverFactory
) -> None:
    settings = one_partition.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.0/8")
    names = TopicNames.from_settings(settings)
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = generate_secret(os.urandom(24))
    ok, failing = await receivers.plain(), await receivers.plain(lambda _: Reply(503))
    _, good = await _world(producer, names, ok.url, box=box, secrets=[secret])
    _, bad = await _world(producer, names, failing.url, box=box, secrets=[secret])
    _, off = await _world(producer, names, ok.url, box=box, secrets=[secret], disabled=True)
    tasks = [builders.delivery_task(ep, n=n) for n, ep in enumerate((good, bad, off))]
    for task in tasks:
        await (await producer.send(names(TASKS), "DeliveryTask", task, task["endpoint_id"].encode()))
    worker = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), producer=producer, codec=producer.codec)
    await worker.start()
    try:
        written = await _read(settings, names(ATTEMPTS), lambda found: len(found) >= len(tasks))
    finally:
        await worker.stop()
    seen = {}
    for _, value, headers in written:
        assert value is not None
        name, record = producer.codec.decode(value)
        assert list(headers.items()) == outcome_headers(name, record), "the header is derived from the record"
        seen[record["endpoint_id"]] = (name, record.get("status"), record.get("next_attempt_at") is not None)
    assert seen == {
        good["endpoint_id"]: ("AttemptFinished", "success", False),
        bad["endpoint_id"]: ("AttemptFinished", "failed", True),
        off["endpoint_id"]: ("DeliverySkipped", None, False),
    }


async def test_readers_trust_a_header_fall_back_on_a_malformed_one_and_a_rebuild_agrees(
    one_partition: Settings, producer: EventProducer
) -> None:
    settings = one_partition
    names = TopicNames.from_settings(settings)
    codec: AvroCodec = producer.codec
    app, ep = await _world(producer, names, "http://127.0.0.1:9/hook")

    def attempt(status: int) -> dict[str, Any]:
        record = builders.attempt(builders.message(app["app_id"]), ep["endpoint_id"], status=status)
        if status >= 300:  # due at once: straight onto `tasks`
            record |= {"next_attempt_at": record["finished_at"], "payload": b"{}", "accepted_at": datetime.now(UTC)}
        return record

    garbage = b"\x00not avro at all"
    trusted_ok, trusted_retry, fallback_retry, fallback_garbage = attempt(200), attempt(500), attempt(500), attempt(200)
    value, header = lambda r: codec.encode("AttemptFinished", r), lambda r: outcome_headers("AttemptFinished", r)
    sends = [  # (record, value, headers)
        (trusted_ok, garbage, header(trusted_ok)),  # never decoded, by either reader
        (trusted_retry, value(trusted_retry), header(trusted_retry)),
        (fallback_retry, value(fallback_retry), [(OUTCOME_HEADER, b"{nope")]),
        (fallback_garbage, garbage, [(OUTCOME_HEADER, b'["a1"]')]),
    ]
    offsets = {}
    for record, raw, headers in sends:
        meta = await (await producer.send_raw(names(ATTEMPTS), raw, record["msg_id"].encode(), headers))
        offsets[record["msg_id"]] = meta.offset
    cache = await ConfigFollower(settings.kafka_bootstrap_servers, names(CONFIG), codec).start()
    status = await StatusProcessor(settings, codec, cache, StatusMetrics(CollectorRegistry())).start()
    scheduler = await Scheduler(settings, codec, producer, SchedulerMetrics(CollectorRegistry())).start()
    try:
        ns = settings.topic_namespace
        letters = await _read(settings, names(DEAD_LETTER), lambda found: len(found) >= 2)
        consumers = sorted(codec.decode(value)[1]["consumer"] for _, value, _ in letters if value is not None)
        assert consumers == [f"{ns}scheduler", f"{ns}status"]
        assert {codec.decode(value)[1]["offset"] for _, value, _ in letters if value} == {
            offsets[fallback_garbage["msg_id"]]
        }, "only the undecodable value behind a malformed header is dead-lettered"
        tasks = await _read(settings, names(TASKS), lambda found: len(found) >= 2)
        assert sorted(codec.decode(v)[1]["msg_id"] for _, v, _ in tasks if v) == sorted(
            [trusted_retry["msg_id"], fallback_retry["msg_id"]]
        ), "the success was passed over; both retries were decoded and scheduled"

        def statuses(found: list[Raw]) -> dict[str, list[dict]]:
            out: dict[str, list[dict]] = {}
            for _, value, _ in found:
                if value is not None and (decoded := codec.decode(value))[0] == "MessageStatus":
                    out.setdefault(decoded[1]["msg_id"], []).append(decoded[1])
            return out

        wanted = {trusted_ok["msg_id"], trusted_retry["msg_id"], fallback_retry["msg_id"]}
        first = statuses(await _read(settings, names(STATUS), lambda found: wanted <= set(statuses(found))))
        assert {msg: [r["status"] for r in records] for msg, records in first.items()} == {
            trusted_ok["msg_id"]: ["success"], trusted_retry["msg_id"]: ["sending"],
            fallback_retry["msg_id"]: ["sending"],
        }  # fmt: skip
        rebuild = StatusProcessor(settings, codec, cache, StatusMetrics(CollectorRegistry()), name="rebuild")
        await rebuild.start()
        try:
            twice = await _read(settings, names(STATUS), lambda f: [len(v) for v in statuses(f).values()] == [2] * 3)
            again = statuses(twice)
        finally:
            await rebuild.stop()
        assert {msg: records[1] for msg, records in again.items()} == {msg: r[0] for msg, r in first.items()}
    finally:
        await scheduler.stop()
        await status.stop()
        await cache.stop()
