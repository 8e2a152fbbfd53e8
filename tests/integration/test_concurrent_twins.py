"""Concurrent twins (one eventId, one tenant, sent at once over plain HTTP) through each dialect that
accepts messages: exactly one is accepted and only that one reaches the ``messages`` topic, because
the eventId is reserved before the API awaits anything (the dedupe window's ClickHouse look-up, the
broker's acknowledgement)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import MESSAGES, TopicNames
from tests.support.svix_api import ServedApi, events_on_log

pytestmark = pytest.mark.integration
TWINS = 10


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), api_rate_limit_per_s=0.0)


@pytest.fixture
async def http(api: ServedApi) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=f"{api.url}/api/v1", headers=headers, timeout=30) as client:
        yield client


async def at_once(http: httpx.AsyncClient, send: Callable[[], Awaitable[httpx.Response]]) -> list[httpx.Response]:
    """``send`` TWINS times together, each on a connection already open, so the twins meet inside the API."""
    await asyncio.gather(*(http.get("/app") for _ in range(TWINS)))  # opens TWINS keep-alive connections
    return await asyncio.gather(*(send() for _ in range(TWINS)))


async def event_ids_on_log(settings: Settings, topics: TopicNames, app_uuid: str) -> list[str]:
    found = await events_on_log(settings, topics(MESSAGES))
    return [record["event_id"] for name, record in found if record["app_id"] == app_uuid]


async def test_svix_twins_answer_one_202_and_the_rest_409(
    http: httpx.AsyncClient, api_settings: Settings, topics: TopicNames
) -> None:
    created = await http.post("/app", json={"name": "twins"})
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    body = {"eventType": "order.created", "eventId": "evt-twin", "payload": {"n": 1}}
    answers = await at_once(http, lambda: http.post(f"/app/{app_id}/msg", json=body))
    assert sorted(a.status_code for a in answers) == [202] + [409] * (TWINS - 1), [a.text for a in answers]
    app_uuid = str(parse_id(app_id, IdKind.APPLICATION))
    assert await event_ids_on_log(api_settings, topics, app_uuid) == ["evt-twin"]


async def test_outpost_twins_answer_exactly_one_non_duplicate(
    http: httpx.AsyncClient, api_settings: Settings, topics: TopicNames
) -> None:
    tenant = await http.put("/tenants/acme", json={})
    assert tenant.status_code in (200, 201), tenant.text
    body = {"tenant_id": "acme", "id": "evt-twin", "topic": "order.created", "data": {"n": 1}}
    answers = await at_once(http, lambda: http.post("/publish", json=body))
    assert [a.status_code for a in answers] == [202] * TWINS, [a.text for a in answers]
    assert sorted(a.json()["duplicate"] for a in answers) == [False] + [True] * (TWINS - 1)
    assert {a.json()["id"] for a in answers} == {"evt-twin"}
    app = await http.get("/app/acme")
    app_uuid = str(parse_id(app.json()["id"], IdKind.APPLICATION))
    assert await event_ids_on_log(api_settings, topics, app_uuid) == ["evt-twin"]
