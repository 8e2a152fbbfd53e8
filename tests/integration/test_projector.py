"""The projector on the real broker and chDB: rows field by field, idempotence, rebuild."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry

from hookstream.foundation.settings import Settings
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, CONFIG, MESSAGES, TopicNames
from hookstream.projector.rebuild import rebuild
from hookstream.projector.service import Projector, ProjectorMetrics
from hookstream.runtime.clickhouse import connect
from tests.support import builders
from tests.support.log import send_all

pytestmark = pytest.mark.integration


async def _wait_rows(client: Client, table: str, count: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if int(client.command(f"SELECT count() FROM {table}")) >= count:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{table} did not reach {count} rows in {timeout_s} s")


async def _world(producer: EventProducer, topics: TopicNames) -> dict:
    app = builders.application(name="acme")
    ep1 = builders.endpoint(app["app_id"], "https://a.example/1", event_types=["invoice.paid"], channels=["eu"])
    ep2 = builders.endpoint(app["app_id"], "https://a.example/2")
    gone = {"endpoint_id": ep2["endpoint_id"], "app_id": app["app_id"], "uid": None, "version": 2,
            "deleted_at": builders.now()}  # fmt: skip
    event_type = {"name": "invoice.paid", "description": "paid", "archived": False, "deprecated": False,
                  "group_name": None, "feature_flag": None, "schemas": None, "version": 1,
                  "created_at": builders.now(), "updated_at": builders.now()}  # fmt: skip
    msgs = [builders.message(app["app_id"], event_id=f"e{i}", channels=["eu"]) for i in range(3)]
    attempts = [builders.attempt(m, ep1["endpoint_id"], status=500) for m in msgs]
    attempts += [builders.attempt(m, ep1["endpoint_id"], attempt_number=2) for m in msgs]
    await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
    await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep1, ep2], "endpoint_id")
    await send_all(producer, topics(CONFIG), "EndpointDeleted", [gone], "endpoint_id")
    await send_all(producer, topics(CONFIG), "EventTypeUpserted", [event_type], "name")
    await send_all(producer, topics(MESSAGES), "MessageAccepted", msgs, "app_id")
    await send_all(producer, topics(ATTEMPTS), "AttemptFinished", attempts, "msg_id")
    return {"app": app, "ep1": ep1, "ep2": ep2, "msgs": msgs, "attempts": attempts}


async def _project(
    settings: Settings, producer: EventProducer, clickhouse: Client, attempts: int, name: str = "projector"
) -> None:
    metrics = ProjectorMetrics(CollectorRegistry())
    own = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)  # as its role opens one
    projector = Projector(settings, producer.codec, producer, own, metrics, name=name)
    await projector.start()
    try:
        await _wait_rows(clickhouse, "attempts", attempts)
        await _wait_rows(clickhouse, "messages", 3)
        await _wait_rows(clickhouse, "endpoints", 2)  # the delete replaces ep2's row within one insert
    finally:
        await projector.stop()
        own.close()


async def test_rows_field_by_field_and_replay_is_idempotent(
    settings: Settings, topics: TopicNames, producer: EventProducer, clickhouse: Client
) -> None:
    world = await _world(producer, topics)
    await _project(settings, producer, clickhouse, 6)

    sent = {a["attempt_id"]: a for a in world["attempts"]}
    result = clickhouse.query("SELECT * FROM attempts ORDER BY started_at", column_formats={"response_body": "bytes"})
    assert result.row_count == 6
    for row in result.named_results():
        record = sent[str(row["attempt_id"])]
        for field, value in record.items():
            if field in ("attempt_id", "app_id", "msg_id", "endpoint_id"):
                assert str(row[field]) == value, field
            elif field in ("due_at", "started_at", "finished_at"):
                assert row[field].replace(tzinfo=value.tzinfo) == value, field
            else:
                assert row[field] == value, field
    by_msg = clickhouse.command(f"SELECT count() FROM attempts_by_msg WHERE msg_id = '{world['msgs'][0]['msg_id']}'")
    assert int(by_msg) == 2

    message = clickhouse.query(
        "SELECT event_id, payload, channels, event_type FROM messages WHERE msg_id = {m:UUID}",
        parameters={"m": world["msgs"][1]["msg_id"]},
    ).first_row
    assert message == ("e1", world["msgs"][1]["payload"].decode(), ["eu"], "invoice.paid")
    endpoints = clickhouse.query(
        "SELECT endpoint_id, url, deleted, event_types, channels FROM endpoints FINAL ORDER BY deleted"
    ).result_rows
    assert [(str(e[0]), e[1], e[2], e[3], e[4]) for e in endpoints] == [
        (world["ep1"]["endpoint_id"], "https://a.example/1", 0, ["invoice.paid"], ["eu"]),
        (world["ep2"]["endpoint_id"], "", 1, [], []),
    ]
    assert clickhouse.command("SELECT name FROM applications") == "acme"
    assert clickhouse.command("SELECT description FROM event_types") == "paid"
    columns = clickhouse.query("SELECT * FROM endpoints LIMIT 0").column_names
    assert not any("secret" in column for column in columns), "secrets are never projected"

    # A second projector in a new consumer group re-projects everything: the same rows again.
    await _project(settings, producer, clickhouse, 12, name="replay")
    clickhouse.command("OPTIMIZE TABLE attempts FINAL")
    counts = clickhouse.query("SELECT count(), uniqExact(attempt_id) FROM attempts").first_row
    assert counts == (6, 6), "re-projected attempts are identical rows, merged away"


async def test_rebuild_replays_every_topic_with_equal_counts(
    settings: Settings, topics: TopicNames, producer: EventProducer, clickhouse: Client
) -> None:
    world = await _world(producer, topics)
    await _project(settings, producer, clickhouse, 6)
    clickhouse.command("INSERT INTO attempts (attempt_id, app_id, msg_id, endpoint_id, started_at, finished_at, "
                       f"version) VALUES ('{uuid.uuid4()}', '{world['app']['app_id']}', '{uuid.uuid4()}', "
                       f"'{uuid.uuid4()}', now64(), now64(), 1)")  # fmt: skip
    report = await rebuild(settings, producer.codec, clickhouse, progress=lambda *_: None)
    assert report.records == {"attempts": 6, "messages": 3, "applications": 1, "endpoints": 3, "event_types": 1}
    assert report.entities == {"attempts": 6, "messages": 3, "applications": 1, "endpoints": 2, "event_types": 1}
    assert report.rows == report.entities, "a stray row not from the log must be gone after a rebuild"
    assert report.skipped == 0
    assert report.consistent
    assert int(clickhouse.command("SELECT count() FROM attempts_by_msg")) == 6
