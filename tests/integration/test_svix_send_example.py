"""Svix ``health/ping`` and ``endpoint/{id}/send-example`` over the whole pipeline (real broker, chDB, a receiver):
the example reaches the endpoint it names and no other endpoint of the application, and it is a message like any
other (listed, with its attempt)."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from svix.api import ApplicationIn, EndpointIn, EventTypeIn

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.integration
EXAMPLE = {"user": "ada", "plan": "pro"}


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


async def test_ping_answers_204_without_a_token(api: ServedApi) -> None:
    async with httpx.AsyncClient() as raw:
        for path in ("/api/v1/health/ping", "/api/v1/health/ping/"):
            answer = await raw.get(api.url + path)
            assert (answer.status_code, answer.content) == (204, b"")


async def test_send_example_reaches_that_endpoint_alone(api: ServedApi, receivers: ReceiverFactory) -> None:
    chosen, other = await receivers.plain(), await receivers.plain()
    await api.svix.event_type.create(
        EventTypeIn(name="user.signup", description="d", schemas={"1": {"type": "object", "examples": [EXAMPLE]}})
    )
    await api.svix.event_type.create(EventTypeIn(name="bare.type", description="no example"))
    app = await api.svix.application.create(ApplicationIn(name="examples"))
    ep = await api.svix.endpoint.create(app.id, EndpointIn(url=chosen.url))
    await api.svix.endpoint.create(app.id, EndpointIn(url=other.url))
    headers = {"Authorization": f"Bearer {api.token}"}
    base = f"{api.url}/api/v1/app/{app.id}/endpoint/{ep.id}/send-example"
    async with httpx.AsyncClient(headers=headers) as raw:
        sent = await raw.post(base, json={"eventType": "user.signup"})
        assert sent.status_code == 200, sent.text
        assert (sent.json()["eventType"], sent.json()["payload"]) == ("user.signup", EXAMPLE)
        ping = await raw.post(base + "/", json={"eventType": "svix.ping"})
        assert (ping.status_code, ping.json()["payload"]) == (200, {"success": True})
        bare = await raw.post(base, json={"eventType": "bare.type"})
        assert (bare.status_code, bare.json()["code"]) == (400, "invalid_scheme")
        unknown = await raw.post(base, json={"eventType": "no.such.type"})
        assert unknown.status_code == 404
        missing = await raw.post(f"{api.url}/api/v1/app/{app.id}/endpoint/ep_nope/send-example",
                                 json={"eventType": "svix.ping"})  # fmt: skip
        assert missing.status_code == 404
        invalid = await raw.post(base, json={})
        assert (invalid.status_code, invalid.json()["detail"][0]["loc"]) == (422, ["body", "eventType"])
    got = await chosen.wait_for(2)
    assert sorted((json.loads(r.body) for r in got), key=str) == sorted([EXAMPLE, {"success": True}], key=str)
    await asyncio.sleep(1.0)  # the other endpoint would have had it by now
    assert other.received == []
    attempts = await eventually(lambda: api.svix.message_attempt.list_by_endpoint(app.id, ep.id),
                                lambda page: len(page.data) == 2)  # fmt: skip
    assert {a.msg_id for a in attempts.data} == {sent.json()["id"], ping.json()["id"]}
    listed = await eventually(lambda: api.svix.message.list(app.id), lambda page: len(page.data) == 2)
    assert {m.id for m in listed.data} == {sent.json()["id"], ping.json()["id"]}
