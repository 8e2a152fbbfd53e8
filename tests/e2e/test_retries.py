"""Retries and status through the whole pipeline, on a compressed schedule (0 s, 1 s, 2 s; jitter ±20 %).

Three endpoints of one application receive one message each: one fails twice
then succeeds, one always fails, one answers 503 with ``Retry-After`` once.
The attempt history and the derived statuses are read back from ClickHouse,
the operational events and the endpoint disable from their topics; then the
status tables are dropped and re-derived from ``attempts`` by a second status
processor, and must come back identical.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry

from hookstream.domain.signing import generate_secret
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import Event
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, MESSAGES, OPERATIONAL, TopicNames
from hookstream.runtime.roles import ALL_ROLES, running_roles
from hookstream.status.processor import StatusMetrics
from hookstream.status.service import StatusProcessor
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.log import at_least, read_topic
from tests.support.receivers import Received, Reply

pytestmark = pytest.mark.e2e

SCHEDULE = (0.0, 1.0, 2.0)
JITTER = 0.2
RETRY_AFTER_S = 3
LATE_S = 1.5  # how late after its due time an attempt may start (scheduler, tiers, delivery, on a loaded CI box)


@pytest.fixture
def retry_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(),
        delivery_allowed_networks="127.0.0.1/32",
        delivery_timeout_s=2.0,
        projector_batch_s=0.1,
        retry_schedule="0s,1s,2s",
        retry_jitter=JITTER,
        retry_after_min="1s",
        retry_after_max="10s",
        status_failing_after=2,
        endpoint_disable_after="2s",
        endpoint_disable_min_span="0s",
    )


def _answers(*replies: Reply) -> Callable[[Received], Reply]:
    """The n-th request gets the n-th reply; the last one repeats."""
    count = 0

    def behaviour(_: Received) -> Reply:
        nonlocal count
        count += 1
        return replies[min(count, len(replies)) - 1]

    return behaviour


async def _poll(query: Callable[[], list[dict[str, Any]]], ready: Callable[[list[dict[str, Any]]], bool]) -> list:
    deadline = time.monotonic() + 30
    while True:
        rows = query()
        if ready(rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.2)


def _rows(clickhouse: Client, sql: str) -> Callable[[], list[dict[str, Any]]]:
    return lambda: list(clickhouse.query(sql).named_results())


ATTEMPTS_SQL = "SELECT * FROM attempts ORDER BY endpoint_id, attempt_number LIMIT 1 BY attempt_id"
PAIRS_SQL = "SELECT * FROM message_endpoint_status ORDER BY endpoint_id, version DESC LIMIT 1 BY msg_id, endpoint_id"
MESSAGES_SQL = "SELECT * FROM message_status ORDER BY msg_id, version DESC LIMIT 1 BY msg_id"


async def test_retries_statuses_operational_events_and_a_rebuild_from_the_log(
    retry_settings: Settings,
    topics: TopicNames,
    producer: EventProducer,
    clickhouse: Client,
    receivers: ReceiverFactory,
) -> None:
    settings = retry_settings
    flaky = await receivers.plain(_answers(Reply(500), Reply(502), Reply(200)))
    down = await receivers.plain(lambda _: Reply(500, b"down"))
    busy = await receivers.plain(_answers(Reply(503, headers={"Retry-After": str(RETRY_AFTER_S)}), Reply(200)))
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = generate_secret(bytes(range(32)))
    app = builders.application()
    endpoints = {name: builders.endpoint(app["app_id"], r.url, box=box, secrets=[secret])
                 for name, r in (("flaky", flaky), ("down", down), ("busy", busy))}  # fmt: skip
    name_of = {uuid.UUID(e["endpoint_id"]): name for name, e in endpoints.items()}
    message = builders.message(app["app_id"], event_id="inv-1")

    async with running_roles(settings, ALL_ROLES, CollectorRegistry()):
        for record, name, key in [(app, "ApplicationUpserted", "app_id")] + [
            (e, "EndpointUpserted", "endpoint_id") for e in endpoints.values()
        ]:
            await (await producer.send(topics(CONFIG), name, record, record[key].encode()))
        await (await producer.send(topics(MESSAGES), "MessageAccepted", message, message["app_id"].encode()))
        await flaky.wait_for(3, 20)
        await down.wait_for(3, 20)
        await busy.wait_for(2, 20)
        attempts = await _poll(_rows(clickhouse, ATTEMPTS_SQL), lambda rows: len(rows) >= 8)
        pairs = await _poll(_rows(clickhouse, PAIRS_SQL), lambda rows: sum(r["attempt_count"] for r in rows) >= 8)
        summary = await _poll(_rows(clickhouse, MESSAGES_SQL), lambda rows: bool(rows) and rows[0]["version"] >= 8)
        operational = await read_topic(settings, producer, topics(OPERATIONAL), at_least(5))
        config = await read_topic(settings, producer, topics(CONFIG), at_least(5))

        by_endpoint: dict[str, list[dict[str, Any]]] = {}
        for row in attempts:
            by_endpoint.setdefault(name_of[row["endpoint_id"]], []).append(row)
        _check_flaky(by_endpoint["flaky"])
        _check_down(by_endpoint["down"])
        _check_busy(by_endpoint["busy"])
        _check_statuses({name_of[r["endpoint_id"]]: r for r in pairs}, summary)
        _check_operational(operational, config, endpoints, name_of)

        await asyncio.sleep(0.5)  # nothing more arrives: the exhausted pair is final
        assert (len(flaky.received), len(down.received), len(busy.received)) == (3, 3, 2)
        await _rebuild_matches(settings, clickhouse, pairs, summary)


def _check_timing(rows: list[dict[str, Any]]) -> None:
    """Each retry's delay is within the jitter band of its step, and the next attempt starts at or after it."""
    for before, after in itertools.pairwise(rows):
        delay = (before["next_attempt_at"] - before["finished_at"]).total_seconds()
        if before["retry_type"] != "retry_after":
            step = SCHEDULE[before["attempt_number"]]
            assert step * (1 - JITTER) <= delay <= step * (1 + JITTER), (before["attempt_number"], delay)
            assert before["retry_after_seconds"] == round(delay)
        assert before["next_attempt_at"] <= after["started_at"], "an attempt started before it was due"
        assert after["started_at"] - before["next_attempt_at"] < timedelta(seconds=LATE_S)


def _check_flaky(rows: list[dict[str, Any]]) -> None:
    assert [r["attempt_number"] for r in rows] == [1, 2, 3]
    assert [r["status"] for r in rows] == ["failed", "failed", "success"]
    assert [r["response_status"] for r in rows] == [500, 502, 200]
    assert [r["retry_type"] for r in rows] == ["fast", "fast", None]
    assert rows[-1]["next_attempt_at"] is None and rows[-1]["retry_after_seconds"] is None
    assert len({r["attempt_id"] for r in rows}) == 3
    _check_timing(rows)


def _check_down(rows: list[dict[str, Any]]) -> None:
    assert [r["attempt_number"] for r in rows] == [1, 2, 3]
    assert [r["retry_type"] for r in rows] == ["fast", "fast", "none"], "the schedule has three attempts"
    assert rows[-1]["next_attempt_at"] is None
    _check_timing(rows)


def _check_busy(rows: list[dict[str, Any]]) -> None:
    assert [(r["attempt_number"], r["response_status"]) for r in rows] == [(1, 503), (2, 200)]
    first = rows[0]
    assert (first["retry_type"], first["retry_after_seconds"]) == ("retry_after", RETRY_AFTER_S)
    assert first["next_attempt_at"] - first["finished_at"] == timedelta(seconds=RETRY_AFTER_S), "no jitter on it"
    _check_timing(rows)


def _check_statuses(pairs: dict[str, dict[str, Any]], summary: list[dict[str, Any]]) -> None:
    assert {name: (p["status"], p["attempt_count"]) for name, p in pairs.items()} == {
        "flaky": ("success", 3), "down": ("fail", 3), "busy": ("success", 2),
    }  # fmt: skip
    assert all(p["next_attempt_at"] is None for p in pairs.values()), "no retry pending once final"
    assert pairs["flaky"]["last_response_status"] == 200 and pairs["down"]["last_response_status"] == 500
    assert pairs["flaky"]["event_id"] == "inv-1"
    [message] = summary
    assert (message["status"], message["attempt_count"], message["endpoint_count"]) == ("fail", 8, 3)
    assert (message["succeeded_endpoints"], message["failed_endpoints"]) == (2, 1)
    assert message["next_attempt_at"] is None


def _check_operational(
    events: list[Event], config: list[Event], endpoints: dict[str, dict], name_of: dict[uuid.UUID, str]
) -> None:
    seen = sorted((e.record["type"], name_of[uuid.UUID(e.record["endpoint_id"])]) for e in events)
    assert seen == [
        ("endpoint.disabled", "down"),
        ("message.attempt.exhausted", "down"),
        ("message.attempt.failing", "down"),
        ("message.attempt.failing", "flaky"),
        ("message.attempt.recovered", "flaky"),
    ]
    assert len({e.record["event_id"] for e in events}) == len(events)
    [disabled] = [e.record for e in config if e.name == "EndpointUpserted" and e.record["disabled"]]
    original = endpoints["down"]
    assert disabled["endpoint_id"] == original["endpoint_id"] and disabled["version"] == original["version"] + 1
    assert (disabled["url"], disabled["secrets"]) == (original["url"], original["secrets"])


async def _rebuild_matches(
    settings: Settings, clickhouse: Client, pairs: list[dict[str, Any]], summary: list[dict[str, Any]]
) -> None:
    """Drop the status tables and derive them again from the attempts topic with a fresh status processor."""
    clickhouse.command("TRUNCATE TABLE message_endpoint_status")
    clickhouse.command("TRUNCATE TABLE message_status")
    codec = AvroCodec()
    cache = await ConfigFollower(settings.kafka_bootstrap_servers, settings.topic_namespace + CONFIG, codec).start()
    try:
        async with StatusProcessor(settings, codec, cache, StatusMetrics(CollectorRegistry()), name="status-rebuild"):
            again = await _poll(_rows(clickhouse, PAIRS_SQL), lambda rows: sum(r["attempt_count"] for r in rows) >= 8)
            summary_again = await _poll(_rows(clickhouse, MESSAGES_SQL), lambda r: bool(r) and r[0]["version"] >= 8)
    finally:
        await cache.stop()
    assert again == pairs
    assert summary_again == summary
