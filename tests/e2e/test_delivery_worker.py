"""The delivery worker on the real broker: config and tasks in, signed POSTs to real receivers, attempts out.

Endpoints (with secrets sealed by a key made here) go to the config topic and
tasks to the tasks topic, as the API and the router will write them; the
AttemptFinished records are read back from the attempts topic and checked
field by field, and every delivery is verified the way a receiver would,
with the ``standardwebhooks`` package.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook

from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.worker import DeliveryWorker
from hookstream.domain.ids import IdKind, attempt_id, to_svix
from hookstream.domain.signing import generate_secret
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.consumer import Event
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, CONFIG, TASKS, TopicNames
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.builders import delivery_task
from tests.support.log import at_least, read_topic, send_all
from tests.support.receivers import Received, Reply

pytestmark = pytest.mark.e2e


@pytest.fixture
def delivery_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.0/8", delivery_timeout_s=3.0)


def _covers(tasks: list[dict[str, Any]]) -> Callable[[list[Event]], bool]:
    """Done when every task has at least one attempt record."""
    wanted = {(t["msg_id"], t["endpoint_id"]) for t in tasks}
    return lambda events: wanted <= {(e.record["msg_id"], e.record["endpoint_id"]) for e in events}


async def _assert_all_committed(settings: Settings, topics: TopicNames) -> None:
    """The group's committed position is the end of every tasks partition: nothing left to redeliver."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    await admin.start()
    try:
        partitions = [TopicPartition(topics(TASKS), p) for p in consumer.partitions_for_topic(topics(TASKS)) or ()]
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(f"{settings.topic_namespace}delivery")
    finally:
        await admin.close()
        await consumer.stop()
    for tp in partitions:
        if ends[tp]:
            assert committed[tp].offset == ends[tp], (tp, committed.get(tp), ends[tp])


def _verify(received: Received, secret: str) -> None:
    Webhook(secret).verify(received.body, received.headers)


async def test_worker_delivers_signed_requests_and_records_every_field(
    delivery_settings: Settings, topics: TopicNames, producer: EventProducer, receivers: ReceiverFactory
) -> None:
    settings = delivery_settings
    box = SecretBox(parse_keys(settings.secret_keys))
    secret, old_secret = generate_secret(os.urandom(32)), generate_secret(os.urandom(32))
    ok = await receivers.plain(lambda _: Reply(200, b'{"received":true}', {"Content-Type": "application/json"}))
    failing = await receivers.plain(lambda _: Reply(500, b"database down"))
    later = await receivers.plain()
    disabled = await receivers.plain()
    app = builders.application()
    app_id = app["app_id"]
    ep_ok = builders.endpoint(app_id, ok.url, box=box, secrets=[secret, old_secret],
                              headers={"X-Tenant": "acme", "Webhook-Id": "forged"})  # fmt: skip
    ep_fail = builders.endpoint(app_id, failing.url, box=box, secrets=[secret])
    ep_later = builders.endpoint(app_id, later.url, box=box, secrets=[secret])
    ep_disabled = builders.endpoint(app_id, disabled.url, box=box, secrets=[secret], disabled=True)
    ep_gone = builders.endpoint(app_id, ok.url, box=box, secrets=[secret])  # never written to the config topic
    await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep_ok, ep_fail, ep_later, ep_disabled], "endpoint_id")
    due_later = datetime.now(UTC) + timedelta(seconds=1.5)
    t_ok, t_fail, t_later = (
        delivery_task(ep_ok, n=1),
        delivery_task(ep_fail, n=2),
        delivery_task(ep_later, due_at=due_later, n=3),
    )
    tasks = [t_ok, t_fail, t_later, delivery_task(ep_disabled, n=4), delivery_task(ep_gone, n=5)]
    await send_all(producer, topics(TASKS), "DeliveryTask", tasks, "endpoint_id")

    registry = CollectorRegistry()
    worker = DeliveryWorker(settings, DeliveryMetrics(registry), worker_id="worker-e2e")
    await worker.start()
    try:
        # an endpoint created after the worker started, its task right behind it: must not be skipped
        fresh = await receivers.plain()
        ep_fresh = builders.endpoint(app_id, fresh.url, box=box, secrets=[secret])
        await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep_fresh], "endpoint_id")
        await send_all(producer, topics(TASKS), "DeliveryTask", [delivery_task(ep_fresh, n=6)], "endpoint_id")
        [got_ok] = await ok.wait_for(1)
        [got_fail] = await failing.wait_for(1)
        [got_later] = await later.wait_for(1, timeout_s=15)
        await fresh.wait_for(1)
        found = await read_topic(settings, producer, topics(ATTEMPTS), at_least(6), settle_s=1.5)
    finally:
        await worker.stop()
    await _assert_all_committed(settings, topics)

    # --- what the receivers saw
    for got in (got_ok, got_fail, got_later, *fresh.received):
        _verify(got, secret)
    Webhook(old_secret).verify(got_ok.body, got_ok.headers)  # both secrets sign during a rotation
    assert got_ok.method == "POST"
    assert got_ok.body == t_ok["payload"]
    assert got_ok.headers["webhook-id"] == to_svix(IdKind.MESSAGE, uuid.UUID(t_ok["msg_id"]))
    assert len(got_ok.headers["webhook-signature"].split()) == 2
    assert got_ok.headers["X-Tenant"] == "acme"
    assert got_ok.headers["Content-Type"] == "application/json"
    assert got_ok.headers["User-Agent"].startswith("hookstream/")
    assert got_later.at >= due_later.timestamp()
    assert disabled.received == []

    # --- the attempt records; the disabled and the unknown endpoint's tasks are recorded as skipped
    events = [e for e in found if e.name == "AttemptFinished"]
    skipped = {e.record["endpoint_id"] for e in found if e.name == "DeliverySkipped"}
    assert len(found) == 6 and skipped == {ep_disabled["endpoint_id"], ep_gone["endpoint_id"]}
    by_msg = {event.record["msg_id"]: event.record for event in events}
    assert len(events) == 4
    assert {e.key for e in events} == {m.encode() for m in by_msg}
    assert {r["endpoint_id"] for r in by_msg.values()} == {
        ep["endpoint_id"] for ep in (ep_ok, ep_fail, ep_later, ep_fresh)
    }
    record = by_msg[t_ok["msg_id"]]
    sent = record["request_headers"]
    assert record["attempt_id"] == str(attempt_id(uuid.UUID(t_ok["msg_id"]), uuid.UUID(ep_ok["endpoint_id"]), 1, 0))
    expected = {
        "app_id": app_id, "msg_id": t_ok["msg_id"], "endpoint_id": ep_ok["endpoint_id"],
        "event_type": "invoice.paid", "event_id": "evt-1", "channels": ["billing"], "attempt_number": 1,
        "trigger": "scheduled", "trigger_seq": 0, "url": ok.url, "status": "success", "response_status": 200,
        "status_code_class": 200, "error_class": None, "error_text": None,
        "response_body": b'{"received":true}', "response_body_size": 17, "response_body_truncated": False,
        "response_content_type": "application/json", "resolved_ip": "127.0.0.1", "conn_reused": False,
        "dns_us": None, "tls_handshake_us": None, "retry_type": None, "retry_after_seconds": None,
        "next_attempt_at": None, "due_at": t_ok["due_at"], "worker_id": "worker-e2e",
    }  # fmt: skip
    assert {name: record[name] for name in expected} == expected
    assert sent["webhook-id"] == got_ok.headers["webhook-id"]
    assert sent["webhook-signature"] == got_ok.headers["webhook-signature"]
    assert sent["webhook-timestamp"] == got_ok.headers["webhook-timestamp"]
    assert sent["X-Tenant"] == "acme" and "Webhook-Id" not in sent
    assert sent["Content-Type"] == "application/json"
    assert sent["User-Agent"] == got_ok.headers["User-Agent"]
    assert sent["Content-Length"] == str(len(t_ok["payload"]))
    assert record["response_headers"]["Content-Type"] == "application/json"
    assert record["tcp_connect_us"] > 0
    assert record["ttfb_us"] > 0
    assert record["transfer_us"] >= 0
    assert record["total_us"] >= record["ttfb_us"] + record["tcp_connect_us"]
    assert record["processing_us"] >= record["total_us"]
    assert record["started_at"] <= record["finished_at"]
    assert abs(record["started_at"].timestamp() - int(sent["webhook-timestamp"])) < 1

    failed = by_msg[t_fail["msg_id"]]
    assert (failed["status"], failed["response_status"], failed["status_code_class"]) == ("failed", 500, 500)
    assert (failed["error_class"], failed["error_text"]) == ("http_status", "HTTP 500 Internal Server Error")
    assert failed["response_body"] == b"database down"
    assert by_msg[t_later["msg_id"]]["started_at"] >= due_later

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("hookstream_delivery_attempts_total", outcome="success") == 3
    assert sample("hookstream_delivery_attempts_total", outcome="http_status") == 1
    assert sample("hookstream_delivery_skipped_total", reason="endpoint_disabled") == 1
    assert sample("hookstream_delivery_skipped_total", reason="endpoint_deleted") == 1
    assert sample("hookstream_delivery_in_flight") == 0
    assert sample("hookstream_delivery_attempt_seconds_count") == 4


async def test_worker_killed_mid_batch_and_restarted_loses_nothing(
    delivery_settings: Settings, topics: TopicNames, producer: EventProducer, receivers: ReceiverFactory
) -> None:
    settings = delivery_settings.replace(delivery_endpoint_concurrency=2)
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = generate_secret(os.urandom(24))
    receiver = await receivers.plain(lambda _: Reply(200, delay_s=0.2))  # slow enough to be caught mid-request
    app_id = builders.application()["app_id"]
    endpoints = [builders.endpoint(app_id, receiver.url, box=box, secrets=[secret]) for _ in range(3)]
    await send_all(producer, topics(CONFIG), "EndpointUpserted", endpoints, "endpoint_id")
    tasks = [delivery_task(endpoints[i % 3], n=i) for i in range(30)]
    await send_all(producer, topics(TASKS), "DeliveryTask", tasks, "endpoint_id")

    first = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), worker_id="first")
    await first.start()
    await receiver.wait_for(8)
    await first.abort()  # requests in flight, finished ones not yet committed: a crash
    crashed_at = len(receiver.received)
    assert crashed_at < len(tasks)

    second = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), worker_id="second")
    await second.start()
    try:
        while {r.headers["webhook-id"] for r in receiver.received} != {_webhook_id(t) for t in tasks}:
            await receiver.wait_for(len(receiver.received) + 1)
        events = await read_topic(settings, producer, topics(ATTEMPTS), _covers(tasks), settle_s=1.0)
    finally:
        await second.stop()
    await _assert_all_committed(settings, topics)

    # every task delivered; the in-flight ones at the crash were delivered twice, under the same webhook-id
    received_ids = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert set(received_ids) == {_webhook_id(t) for t in tasks}
    assert sum(received_ids.values()) > len(tasks), "the crash should have caught requests in flight"
    for got in receiver.received:
        _verify(got, secret)
    by_id = {_webhook_id(t): t for t in tasks}
    for got in receiver.received:
        assert got.body == by_id[got.headers["webhook-id"]]["payload"]

    # every task has an attempt record, and a repeated attempt has the same attempt id
    attempts: dict[tuple[str, str], set[str]] = {}
    for record in (event.record for event in events):
        attempts.setdefault((record["msg_id"], record["endpoint_id"]), set()).add(record["attempt_id"])
    assert set(attempts) == {(t["msg_id"], t["endpoint_id"]) for t in tasks}
    for (msg_id, endpoint_id), ids in attempts.items():
        assert ids == {str(attempt_id(uuid.UUID(msg_id), uuid.UUID(endpoint_id), 1, 0))}
    assert {e.record["worker_id"] for e in events} <= {"first", "second"}
    assert all(e.record["status"] == "success" for e in events)


def _webhook_id(task: dict[str, Any]) -> str:
    return to_svix(IdKind.MESSAGE, uuid.UUID(task["msg_id"]))


async def test_workers_joining_and_leaving_hand_partitions_over_without_loss_or_repeat(
    delivery_settings: Settings, topics: TopicNames, producer: EventProducer, receivers: ReceiverFactory
) -> None:
    """Graceful rebalances: the old owner finishes and commits what it sent, so nothing is sent twice."""
    settings = delivery_settings.replace(delivery_endpoint_concurrency=4)
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = generate_secret(os.urandom(24))
    receiver = await receivers.plain(lambda _: Reply(200, delay_s=0.05))
    app_id = builders.application()["app_id"]
    endpoints = [builders.endpoint(app_id, receiver.url, box=box, secrets=[secret]) for _ in range(8)]
    await send_all(producer, topics(CONFIG), "EndpointUpserted", endpoints, "endpoint_id")
    tasks = [delivery_task(endpoints[i % 8], n=i) for i in range(120)]
    await send_all(producer, topics(TASKS), "DeliveryTask", tasks, "endpoint_id")

    first = await DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), worker_id="first").start()
    second: DeliveryWorker | None = None
    try:
        await receiver.wait_for(10)
        # the second shares the test's producer, as services of one process do
        second = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), producer=producer, worker_id="second")
        await second.start()
        await receiver.wait_for(60)
        await first.stop()
        while {r.headers["webhook-id"] for r in receiver.received} != {_webhook_id(t) for t in tasks}:
            await receiver.wait_for(len(receiver.received) + 1)
        events = await read_topic(settings, producer, topics(ATTEMPTS), _covers(tasks), settle_s=1.0)
    finally:
        await first.stop()
        if second is not None:
            await second.stop()
    await _assert_all_committed(settings, topics)

    assert Counter(r.headers["webhook-id"] for r in receiver.received) == Counter(_webhook_id(t) for t in tasks)
    assert sorted(e.record["msg_id"] for e in events) == sorted(t["msg_id"] for t in tasks)
    workers = Counter(e.record["worker_id"] for e in events)
    assert set(workers) == {"first", "second"}, workers


async def test_a_delivered_manual_attempt_cancels_the_automatic_retry_still_pending(
    delivery_settings: Settings, topics: TopicNames, producer: EventProducer, receivers: ReceiverFactory
) -> None:
    """Outpost's rule: the retry due after a successful manual retry of the same pair is not sent, and a
    ``DeliverySkipped`` (``superseded_by_manual``) ends the pair's scheduled deliveries; other pairs are untouched."""
    settings = delivery_settings
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = generate_secret(os.urandom(32))
    ok = await receivers.plain()
    app_id = builders.application()["app_id"]
    endpoint = builders.endpoint(app_id, ok.url, box=box, secrets=[secret])
    await send_all(producer, topics(CONFIG), "EndpointUpserted", [endpoint], "endpoint_id")
    first, other = delivery_task(endpoint, n=1), delivery_task(endpoint, n=2)
    manual = {**first, "trigger": "manual", "trigger_seq": 1}
    later = datetime.now(UTC) + timedelta(seconds=1.5)
    retries = [{**task, "attempt_number": 2, "due_at": later} for task in (first, other)]
    await send_all(producer, topics(TASKS), "DeliveryTask", [manual, *retries], "endpoint_id")

    worker = DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), worker_id="worker-superseded")
    await worker.start()
    try:
        found = await read_topic(settings, producer, topics(ATTEMPTS), at_least(3), settle_s=1.5)
    finally:
        await worker.stop()
    sent = Counter((e.record["msg_id"], e.record["trigger"]) for e in found if e.name == "AttemptFinished")
    assert sent == {(first["msg_id"], "manual"): 1, (other["msg_id"], "scheduled"): 1}
    [skipped] = [e.record for e in found if e.name == "DeliverySkipped"]
    assert (skipped["msg_id"], skipped["attempt_number"], skipped["reason"]) == (first["msg_id"], 2,
                                                                                "superseded_by_manual")  # fmt: skip
    assert len(ok.received) == 2
