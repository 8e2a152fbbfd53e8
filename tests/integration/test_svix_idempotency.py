"""``idempotency-key`` through the svix SDK, on the real broker: the first answer comes back and the work
is done once, per token and path, across a restart of the API, and only within the window."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from clickhouse_connect.driver import Client
from svix.api import ApplicationCreateOptions, ApplicationIn, MessageCreateOptions, MessageIn
from svix.exceptions import HTTPValidationError

from hookstream.domain.access import app_token_key, issue_app_token
from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import CONFIG, IDEMPOTENCY, MESSAGES, TopicNames
from tests.support.svix_api import TOKEN, ServedApi, events_on_log, served_api

pytestmark = pytest.mark.integration


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames, clickhouse: Client) -> Settings:
    return settings.replace(secret_keys=new_key_text())


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[ServedApi]:
    async with served_api(api_settings) as served:
        yield served


def keyed(key: str) -> MessageCreateOptions:
    return MessageCreateOptions(idempotency_key=key, with_content=True)


async def messages_of(settings: Settings, topics: TopicNames, app_id: str) -> list[dict]:
    app_uuid = str(parse_id(app_id, IdKind.APPLICATION))
    return [r for name, r in await events_on_log(settings, topics(MESSAGES)) if r["app_id"] == app_uuid]


async def test_same_key_answers_the_first_response_and_writes_once(
    api: ServedApi, api_settings: Settings, topics: TopicNames
) -> None:
    app = await api.svix.application.create(ApplicationIn(name="idem"))
    first = await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={"n": 1}), keyed("k-1"))
    # The same key with another body: Svix does not look at the body, it answers the first response.
    again = await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={"n": 2}), keyed("k-1"))
    assert again == first and again.payload == {"n": 1}
    assert [r["msg_id"] for r in await messages_of(api_settings, topics, app.id)] == [
        str(parse_id(first.id, IdKind.MESSAGE))
    ]
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as raw:
        replay = await raw.post(f"/api/v1/app/{app.id}/msg/", json={}, headers={"idempotency-key": "k-1"})
    assert replay.status_code == 202 and replay.headers["Idempotent-Replayed"] == "true", "trailing slash: same path"
    assert replay.headers["Content-Type"].startswith("application/json") and replay.json()["id"] == first.id

    created = await api.svix.application.create(
        ApplicationIn(name="once"), ApplicationCreateOptions(idempotency_key="a")
    )
    twice = await api.svix.application.create(
        ApplicationIn(name="twice"), ApplicationCreateOptions(idempotency_key="a")
    )
    assert twice.id == created.id and twice.name == "once"
    upserts = [r for name, r in await events_on_log(api_settings, topics(CONFIG)) if name == "ApplicationUpserted"]
    assert [r["name"] for r in upserts].count("once") == 1 and "twice" not in [r["name"] for r in upserts]


async def test_the_key_is_per_path_and_per_token(api: ServedApi, api_settings: Settings, topics: TopicNames) -> None:
    app = await api.svix.application.create(ApplicationIn(name="one"))
    other = await api.svix.application.create(ApplicationIn(name="two"))
    first = await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={}), keyed("shared"))
    elsewhere = await api.svix.message.create(other.id, MessageIn(event_type="a.b", payload={}), keyed("shared"))
    assert elsewhere.id != first.id
    token = issue_app_token(app_token_key(api.token), parse_id(app.id, IdKind.APPLICATION), int(time.time()) + 600)
    as_app = await api.client(token).message.create(app.id, MessageIn(event_type="a.b", payload={}), keyed("shared"))
    assert as_app.id != first.id
    assert len(await messages_of(api_settings, topics, app.id)) == 2
    assert len(await messages_of(api_settings, topics, other.id)) == 1


async def test_answers_survive_a_restart_of_the_api(api_settings: Settings, topics: TopicNames) -> None:
    async with served_api(api_settings) as api:
        app = await api.svix.application.create(ApplicationIn(name="restart"))
        first = await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={"x": 1}), keyed("r"))
    async with served_api(api_settings) as restarted:
        again = await restarted.svix.message.create(app.id, MessageIn(event_type="a.b", payload={}), keyed("r"))
        assert again == first
    assert len(await messages_of(api_settings, topics, app.id)) == 1
    stored = await events_on_log(api_settings, topics(IDEMPOTENCY))
    assert stored and {name for name, _ in stored} == {"IdempotentResponse"}
    assert all(len(r["request_key"]) == 64 and TOKEN not in r["request_key"] for _, r in stored)


async def test_a_key_older_than_the_window_does_the_work_again(api_settings: Settings, topics: TopicNames) -> None:
    async with served_api(api_settings.replace(api_idempotency_window="1s")) as api:
        app = await api.svix.application.create(ApplicationIn(name="window"))
        first = await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={}), keyed("w"))
        await asyncio.sleep(1.2)
        later = await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={}), keyed("w"))
    assert later.id != first.id
    assert len(await messages_of(api_settings, topics, app.id)) == 2


async def test_concurrent_requests_with_one_key_write_once(
    api: ServedApi, api_settings: Settings, topics: TopicNames
) -> None:
    app = await api.svix.application.create(ApplicationIn(name="race"))
    answers = await asyncio.gather(
        *(api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={"i": i}), keyed("c")) for i in range(8))
    )
    assert len({answer.id for answer in answers}) == 1
    assert len(await messages_of(api_settings, topics, app.id)) == 1


async def test_a_4xx_is_replayed_and_a_bad_key_is_refused(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="errors"))
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as raw:
        path = f"/api/v1/app/{app.id}/msg"
        refused = await raw.post(path, json={"eventType": "a.b"}, headers={"idempotency-key": "bad-body"})
        assert refused.status_code == 422
        fixed = await raw.post(path, json={"eventType": "a.b", "payload": {}}, headers={"idempotency-key": "bad-body"})
        assert (fixed.status_code, fixed.json()) == (422, refused.json()), "a stored 4xx is the first response"
    with pytest.raises(HTTPValidationError) as bad:
        await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={}), keyed("x" * 257))
    [detail] = bad.value.detail
    assert detail.loc == ["header", "idempotency-key"] and "at most 256" in detail.msg
