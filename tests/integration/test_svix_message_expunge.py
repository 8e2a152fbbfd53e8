"""Svix ``message.expunge_content`` over the whole pipeline (real broker, chDB, roles, a receiver): the
payload is gone from every read at once, from ClickHouse once the projector applies the command, even when
the command overtakes its message, and after a rebuild from the log."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry
from svix.api import (
    ApplicationIn,
    EndpointIn,
    MessageAttemptListAttemptedMessagesOptions,
    MessageAttemptListByMsgOptions,
    MessageGetOptions,
    MessageIn,
    MessageListOptions,
)
from svix.exceptions import HttpError

from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.topics import COMMANDS, TopicNames
from hookstream.projector.expunge import MESSAGE_WAIT_S, apply_expunge, awaits_message
from hookstream.projector.rebuild import rebuild
from hookstream.projector.rows import message_row
from hookstream.projector.store import write_rows
from hookstream.runtime.roles import ALL_ROLES, running_roles
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.receivers import Reply
from tests.support.svix_api import ServedApi, events_on_log, eventually, served_api

pytestmark = pytest.mark.integration
T = TypeVar("T")
SECRET = {"card": "4242 4242 4242 4242"}
CONTENT = MessageGetOptions(with_content=True)


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames, clickhouse: Client) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def stored_message(clickhouse: Client, msg_id: str) -> list[tuple[Any, ...]]:
    """The newest projected row of a message (Svix id): (payload, expunged)."""
    return stored_message_by_uuid(clickhouse, str(parse_id(msg_id, IdKind.MESSAGE)))


def stored_message_by_uuid(clickhouse: Client, msg_uuid: str) -> list[tuple[Any, ...]]:
    return clickhouse.query(
        "SELECT payload, expunged FROM messages WHERE msg_id = {m:UUID} ORDER BY version DESC LIMIT 1",
        parameters={"m": msg_uuid},
    ).result_rows


async def test_expunged_payload_is_gone_from_every_read_clickhouse_and_a_rebuild(
    receivers: ReceiverFactory, api_settings: Settings, topics: TopicNames, clickhouse: Client
) -> None:
    async with running_roles(api_settings, ALL_ROLES, CollectorRegistry()), served_api(api_settings) as api:
        message_id, kept_id = await _expunge_and_read(api, receivers, api_settings, topics, clickhouse)
    # With the projector stopped, as `hookstream project --rebuild` runs:
    report = await rebuild(api_settings, AvroCodec(), clickhouse, progress=lambda *_: None)
    assert report.consistent
    assert stored_message(clickhouse, message_id) == [("", 1)], "replayed from the log, it stays expunged"
    assert stored_message(clickhouse, kept_id)[0] == ('{"keep":1}', 0)


async def _expunge_and_read(
    api: ServedApi, receivers: ReceiverFactory, api_settings: Settings, topics: TopicNames, clickhouse: Client
) -> tuple[str, str]:
    receiver = await receivers.plain(lambda _: Reply(200, b"ok"))
    svix = api.svix
    app = await svix.application.create(ApplicationIn(name="expunge"))
    endpoint = await svix.endpoint.create(app.id, EndpointIn(url=receiver.url))
    message = await svix.message.create(app.id, MessageIn(event_type="card.added", payload=SECRET, event_id="e-1"))
    kept = await svix.message.create(app.id, MessageIn(event_type="card.added", payload={"keep": 1}))
    await receiver.wait_for(2)
    with_content = MessageAttemptListAttemptedMessagesOptions(with_content=True)
    await eventually(lambda: svix.message_attempt.list_attempted_messages(app.id, endpoint.id, with_content),
                     lambda page: len(page.data) == 2)  # fmt: skip
    assert (await svix.message.get(app.id, message.id, CONTENT)).payload == SECRET

    assert await svix.message.expunge_content(app.id, "e-1") is None  # by eventId, as every msg_id path takes

    # At once, from this API process, before the projector has applied anything:
    assert (await svix.message.get(app.id, message.id, CONTENT)).payload == {}
    listed = await svix.message.list(app.id, MessageListOptions(with_content=True))
    assert {m.id: m.payload for m in listed.data} == {message.id: {}, kept.id: {"keep": 1}}
    attempted = await svix.message_attempt.list_attempted_messages(app.id, endpoint.id, with_content)
    assert {m.id: m.payload for m in attempted.data} == {message.id: {}, kept.id: {"keep": 1}}
    with pytest.raises(HttpError) as refused:
        await svix.message_attempt.resend(app.id, message.id, endpoint.id)
    assert (refused.value.status_code, refused.value.code) == (400, "payload_expunged")

    [(_, command)] = [e for e in await events_on_log(api_settings, topics(COMMANDS)) if e[0] == "ContentExpunged"]
    assert command["msg_id"] == str(parse_id(message.id, IdKind.MESSAGE)) and command["attempt_id"] is None
    await eventually(lambda: asyncio.to_thread(stored_message, clickhouse, message.id), lambda r: r == [("", 1)])
    assert stored_message(clickhouse, kept.id)[0][1] == 0
    attempts = await svix.message_attempt.list_by_msg(app.id, message.id, MessageAttemptListByMsgOptions(
        with_content=True))  # fmt: skip
    assert [a.response for a in attempts.data] == [""], "the attempt's response went with the message's content"
    return message.id, kept.id


async def test_an_expunge_right_after_create_blanks_the_projection_too(api: ServedApi, clickhouse: Client) -> None:
    """The command and its MessageAccepted travel on two topics; the projector must not apply it to nothing."""
    app = await api.svix.application.create(ApplicationIn(name="race"))
    messages = [
        await api.svix.message.create(app.id, MessageIn(event_type="card.added", payload={**SECRET, "i": i}))
        for i in range(5)
    ]
    for message in messages:
        await api.svix.message.expunge_content(app.id, message.id)
    for message in messages:
        await eventually(
            lambda m=message: asyncio.to_thread(stored_message, clickhouse, m.id), lambda r: r == [("", 1)]
        )
        assert (await api.svix.message.get(app.id, message.id, CONTENT)).payload == {}


async def test_unknown_or_foreign_messages_answer_404_and_write_nothing(
    api: ServedApi, api_settings: Settings, topics: TopicNames
) -> None:
    app = await api.svix.application.create(ApplicationIn(name="mine"))
    other = await api.svix.application.create(ApplicationIn(name="theirs"))
    theirs = await api.svix.message.create(other.id, MessageIn(event_type="a.b", payload=SECRET))
    for msg_id in (theirs.id, "no-such-event-id"):
        with pytest.raises(HttpError) as missing:
            await api.svix.message.expunge_content(app.id, msg_id)
        assert (missing.value.status_code, missing.value.code) == (404, "not_found")
    assert not [e for e in await events_on_log(api_settings, topics(COMMANDS)) if e[0] == "ContentExpunged"]
    assert (await api.svix.message.get(other.id, theirs.id, CONTENT)).payload == SECRET


def test_a_whole_message_expunge_waits_only_for_a_message_not_projected_yet(clickhouse: Client) -> None:
    """What makes the projector put an overtaking command back on the log, and what stops it looping."""
    msg = builders.message(str(uuid.uuid4()), "card.added")
    record = {"msg_id": msg["msg_id"], "app_id": msg["app_id"], "attempt_id": None, "expunged_at": datetime.now(UTC)}
    now = time.time()
    assert awaits_message(clickhouse, record, now)
    assert not awaits_message(clickhouse, {**record, "attempt_id": str(uuid.uuid4())}, now), "attempt-only"
    assert not awaits_message(clickhouse, record, now + MESSAGE_WAIT_S + 1), "gives up on a message that never comes"
    write_rows(clickhouse, {"messages": [message_row(msg).values]})
    assert not awaits_message(clickhouse, record, now)
    assert apply_expunge(clickhouse, record) == 1
    assert stored_message_by_uuid(clickhouse, msg["msg_id"]) == [("", 1)]
