"""Attempt lists through the svix SDK over rows inserted with the projector's own insert path.

Every filter alone against the same rows filtered in Python, and keyset
pagination forwards and backwards over 600 attempts with newer attempts and
re-projected duplicates arriving mid-walk: no gaps, no repeats.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver import Client
from svix.api import (
    ApplicationIn,
    EndpointIn,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageStatus,
    StatusCodeClass,
)

from hookstream.domain.ids import IdKind, parse_id, to_svix
from hookstream.domain.status import AttemptFacts, MessageState, fold_attempt, pair_record
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.projector.rows import attempt_row, endpoint_status_row, message_row
from hookstream.projector.store import write_rows
from tests.support import builders
from tests.support.svix_api import ServedApi, served_api

pytestmark = pytest.mark.integration

BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
EVENT_TYPES = ("order.created", "order.paid", "order.refunded")
CODES = (200, 204, 404, 500, 0)


@pytest.fixture
async def api(settings: Settings, topics: TopicNames, clickhouse: Client) -> AsyncIterator[ServedApi]:
    async with served_api(settings.replace(secret_keys=new_key_text())) as served:
        yield served


def synthetic(app_id: str, endpoint_id: str, n: int, *, offset_ms: int = 0) -> list[dict[str, Any]]:
    """Attempt records with varied outcomes; pairs share a started_at, so the id must break ties."""
    records = []
    for i in range(n):
        msg = builders.message(app_id, EVENT_TYPES[i % 3], channels=["eu"] if i % 4 == 0 else ["us"])
        record = builders.attempt(msg, endpoint_id, status=CODES[i % 5])
        if CODES[i % 5] == 0:
            record.update(status="failed", status_code_class=0, error_class="connect")
        at = BASE + timedelta(milliseconds=offset_ms + i // 2)
        record.update(started_at=at, finished_at=at, trigger="manual" if i % 7 == 0 else "scheduled")
        records.append({"attempt": record, "message": {**msg, "tags": ["vip"] if i % 5 == 0 else []}})
    return records


def status_rows(attempts: list[dict[str, Any]]) -> list[tuple]:
    """The pair status rows the status processor and projector derive from these attempts (the real fold)."""
    states: dict[str, MessageState] = {}
    rows = []
    for record in attempts:
        folded = fold_attempt(states.get(record["msg_id"]), AttemptFacts.of(record), failing_after=4)
        states[record["msg_id"]] = folded.message
        rows.append(endpoint_status_row(pair_record(folded.message, folded.pair)).values)
    return rows


def insert(clickhouse: Client, records: list[dict[str, Any]], *, messages: bool = True) -> None:
    attempts = [r["attempt"] for r in records]
    rows: dict[str, list[tuple]] = {"attempts": [attempt_row(a).values for a in attempts]}
    rows["message_endpoint_status"] = status_rows(attempts)
    if messages:
        rows["messages"] = [message_row(r["message"]).values for r in records]
    write_rows(clickhouse, rows)


def svix_ids(records: list[dict[str, Any]]) -> set[str]:
    return {to_svix(IdKind.ATTEMPT, uuid.UUID(r["attempt"]["attempt_id"])) for r in records}


async def setup_app(api: ServedApi) -> tuple[str, str, str]:
    app = await api.svix.application.create(ApplicationIn(name="lists"))
    first = await api.svix.endpoint.create(app.id, EndpointIn(url="https://example.com/1"))
    second = await api.svix.endpoint.create(app.id, EndpointIn(url="https://example.com/2"))
    return app.id, first.id, second.id


async def test_every_filter_alone(api: ServedApi, clickhouse: Client) -> None:
    app, ep, other_ep = await setup_app(api)
    app_uuid, ep_uuid = str(parse_id(app, IdKind.APPLICATION)), str(parse_id(ep, IdKind.ENDPOINT))
    records = synthetic(app_uuid, ep_uuid, 60)
    noise = synthetic(app_uuid, str(parse_id(other_ep, IdKind.ENDPOINT)), 10)
    insert(clickhouse, records + noise)

    async def listed(**options: Any) -> set[str]:
        page = await api.svix.message_attempt.list_by_endpoint(
            app, ep, MessageAttemptListByEndpointOptions(limit=250, **options)
        )
        assert page.done
        return {attempt.id for attempt in page.data}

    def where(predicate) -> set[str]:  # type: ignore[no-untyped-def]
        return svix_ids([r for r in records if predicate(r["attempt"], r["message"])])

    assert await listed() == svix_ids(records)
    assert await listed(status=MessageStatus.SUCCESS) == where(lambda a, m: a["status"] == "success")
    assert await listed(status=MessageStatus.FAIL) == where(lambda a, m: a["status"] == "failed")
    assert await listed(status=MessageStatus.PENDING) == set(), "a finished attempt is never pending"
    for code_class in (StatusCodeClass.CODE_NONE, StatusCodeClass.CODE2XX, StatusCodeClass.CODE4XX,
                       StatusCodeClass.CODE5XX):  # fmt: skip
        expected = where(lambda a, m, c=code_class: a["status_code_class"] == c)
        assert await listed(status_code_class=code_class) == expected, code_class
    assert await listed(event_types=["order.paid"]) == where(lambda a, m: a["event_type"] == "order.paid")
    assert await listed(event_types=["order.paid", "order.refunded"]) == where(
        lambda a, m: a["event_type"] in ("order.paid", "order.refunded")
    )
    assert await listed(channel="eu") == where(lambda a, m: "eu" in a["channels"])
    assert await listed(tag="vip") == where(lambda a, m: "vip" in m["tags"])
    middle = BASE + timedelta(milliseconds=15)
    assert await listed(before=middle) == where(lambda a, m: a["started_at"] < middle)
    assert await listed(after=middle) == where(lambda a, m: a["started_at"] > middle)

    page = await api.svix.message_attempt.list_by_endpoint(app, ep, MessageAttemptListByEndpointOptions(limit=250))
    manual = {a.id for a in page.data if a.trigger_type == 1}
    assert manual == where(lambda a, m: a["trigger"] == "manual")
    with_body = await api.svix.message_attempt.list_by_endpoint(
        app, ep, MessageAttemptListByEndpointOptions(limit=1, with_content=True, status=MessageStatus.FAIL)
    )
    assert with_body.data[0].response == "boom" and page.data[0].response == ""

    shared = records[0]["message"]
    extra = builders.attempt(shared, str(parse_id(other_ep, IdKind.ENDPOINT)))
    insert(clickhouse, [{"attempt": extra, "message": shared}], messages=False)
    msg = to_svix(IdKind.MESSAGE, uuid.UUID(shared["msg_id"]))
    by_msg = await api.svix.message_attempt.list_by_msg(app, msg)
    assert {a.endpoint_id for a in by_msg.data} == {ep, other_ep}
    only = await api.svix.message_attempt.list_by_msg(app, msg, MessageAttemptListByMsgOptions(endpoint_id=other_ep))
    assert [a.endpoint_id for a in only.data] == [other_ep]

    attempted = await api.svix.message_attempt.list_attempted_messages(
        app, ep, MessageAttemptListAttemptedMessagesOptions(limit=250, status=MessageStatus.SUCCESS)
    )
    assert {m.id for m in attempted.data} == {
        to_svix(IdKind.MESSAGE, uuid.UUID(r["message"]["msg_id"]))
        for r in records
        if r["attempt"]["status"] == "success"
    }
    destinations = await api.svix.message_attempt.list_attempted_destinations(app, msg)
    assert sorted(d.id for d in destinations.data) == sorted([ep, other_ep])


async def test_pagination_forwards_and_backwards_under_concurrent_inserts(api: ServedApi, clickhouse: Client) -> None:
    app, ep, _ = await setup_app(api)
    app_uuid, ep_uuid = str(parse_id(app, IdKind.APPLICATION)), str(parse_id(ep, IdKind.ENDPOINT))
    records = synthetic(app_uuid, ep_uuid, 600)
    insert(clickhouse, records)

    forward: list[Any] = []
    pages = []
    options = MessageAttemptListByEndpointOptions(limit=50)
    while True:
        page = await api.svix.message_attempt.list_by_endpoint(app, ep, options)
        pages.append(page)
        forward += page.data
        if len(pages) == 3:  # newer attempts and re-projected duplicates land mid-walk
            newer = synthetic(app_uuid, ep_uuid, 20, offset_ms=10_000)
            await asyncio.to_thread(insert, clickhouse, newer + records[:5] + records[300:305])
        if page.done:
            break
        options = MessageAttemptListByEndpointOptions(limit=50, iterator=page.iterator)
    ids = [a.id for a in forward]
    assert len(ids) == len(set(ids)) == 600 and set(ids) == svix_ids(records), "no gap, no repeat"
    assert all(x.timestamp >= y.timestamp for x, y in itertools.pairwise(forward)), "newest first"
    assert len(pages) == 12

    backward: list[Any] = []
    iterator = pages[-1].prev_iterator
    while True:
        page = await api.svix.message_attempt.list_by_endpoint(
            app, ep, MessageAttemptListByEndpointOptions(limit=50, iterator=iterator)
        )
        backward = page.data + backward
        if page.done:
            break
        iterator = page.prev_iterator
    back_ids = [a.id for a in backward]
    assert len(back_ids) == len(set(back_ids)) == 570, "the 20 newer attempts, then all but the last page"
    assert back_ids[20:] == ids[:550], "walking back retraces the forward pages exactly"


async def test_attempted_views_read_the_status_tables(api: ServedApi, clickhouse: Client) -> None:
    """Pending retries show as sending with their next attempt; the newest version of a pair decides its filter."""
    app, ep, other_ep = await setup_app(api)
    app_uuid = str(parse_id(app, IdKind.APPLICATION))
    eps = {ep: str(parse_id(ep, IdKind.ENDPOINT)), other_ep: str(parse_id(other_ep, IdKind.ENDPOINT))}
    msg = builders.message(app_uuid, "order.paid")
    first = builders.attempt(msg, eps[ep], status=500)
    due = first["finished_at"] + timedelta(seconds=30)
    first.update(next_attempt_at=due, retry_type="fast", retry_after_seconds=30)
    other = builders.attempt(msg, eps[other_ep], status=200)
    write_rows(clickhouse, {"attempts": [attempt_row(first).values, attempt_row(other).values],
                            "message_endpoint_status": status_rows([first, other]),
                            "messages": [message_row({**msg, "tags": []}).values]})  # fmt: skip
    msg_svix = to_svix(IdKind.MESSAGE, uuid.UUID(msg["msg_id"]))

    destinations = await api.svix.message_attempt.list_attempted_destinations(app, msg_svix)
    by_id = {d.id: d for d in destinations.data}
    assert (by_id[ep].status, by_id[ep].status_text.value, by_id[ep].next_attempt) == (MessageStatus.SENDING,
                                                                                       "sending", due)  # fmt: skip
    assert (by_id[other_ep].status, by_id[other_ep].next_attempt) == (MessageStatus.SUCCESS, None)

    async def attempted(status: MessageStatus) -> list[str]:
        page = await api.svix.message_attempt.list_attempted_messages(
            app, ep, MessageAttemptListAttemptedMessagesOptions(status=status)
        )
        return [m.id for m in page.data]

    assert await attempted(MessageStatus.SENDING) == [msg_svix]
    assert await attempted(MessageStatus.FAIL) == [] and await attempted(MessageStatus.PENDING) == []

    last = builders.attempt(msg, eps[ep], attempt_number=2, status=502)  # the schedule ends: no next attempt
    write_rows(clickhouse, {"attempts": [attempt_row(last).values],
                            "message_endpoint_status": status_rows([first, last])[-1:]})  # fmt: skip
    assert await attempted(MessageStatus.FAIL) == [msg_svix]
    assert await attempted(MessageStatus.SENDING) == [], "the older sending version no longer matches"
    destinations = await api.svix.message_attempt.list_attempted_destinations(app, msg_svix)
    assert {(d.id, d.status, d.next_attempt) for d in destinations.data} == {
        (ep, MessageStatus.FAIL, None), (other_ep, MessageStatus.SUCCESS, None),
    }  # fmt: skip
    listed = await api.svix.message_attempt.list_by_endpoint(
        app, ep, MessageAttemptListByEndpointOptions(status=MessageStatus.SENDING)
    )
    assert listed.data == [], "an attempt is finished: never sending (Svix's attempt statuses)"
