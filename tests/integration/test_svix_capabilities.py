"""App-portal tokens narrowed as asked (``readOnly``, a subset of ``capabilities``), by plain HTTP and the svix SDK.

Real broker and chDB, the API served on 127.0.0.1. A narrowed token reads
its application; each write answers 403 unless one of its capabilities
permits it (``domain.access.NEEDS``), and another application's ids still
answer 404 whatever it may do.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from svix.api import (
    ApplicationIn,
    AppPortalAccessIn,
    EndpointIn,
    EndpointPatch,
    EndpointSecretRotateIn,
    EventExampleIn,
    MessageIn,
    RecoverIn,
    ReplayIn,
    SvixAsync,
)
from svix.models import AppPortalCapability as Cap

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from tests.support.svix_api import ServedApi, status_of

pytestmark = pytest.mark.integration

SINCE = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), api_rate_limit_per_s=0.0)


async def test_a_read_only_token_over_plain_http_reads_and_writes_nothing(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="portal"))
    endpoint = await api.svix.endpoint.create(app.id, EndpointIn(url="https://example.com/hook"))
    other = await api.svix.application.create(ApplicationIn(name="other"))
    foreign = await api.svix.endpoint.create(other.id, EndpointIn(url="https://example.com/other"))
    operator = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=api.url + "/api/v1") as http:
        access = await http.post(f"/auth/app-portal-access/{app.id}", json={"readOnly": True}, headers=operator)
        assert access.status_code == 200, access.text
        portal = {"Authorization": f"Bearer {access.json()['token']}"}
        ep = f"/app/{app.id}/endpoint/{endpoint.id}"
        for path in (f"/app/{app.id}", f"/app/{app.id}/endpoint", ep, ep + "/headers", ep + "/stats", "/event-type"):
            assert (await http.get(path, headers=portal)).status_code == 200, path
        secret = await http.get(ep + "/secret", headers=portal)
        assert (secret.status_code, secret.json()["code"]) == (403, "forbidden")
        assert "ViewEndpointSecret" in secret.json()["detail"]
        writes = [
            ("POST", f"/app/{app.id}/endpoint", {"url": "https://example.com/new"}),
            ("PATCH", ep, {"description": "changed"}),
            ("PUT", ep + "/headers", {"headers": {"x-a": "1"}}),
            ("DELETE", ep, None),
            ("POST", ep + "/secret/rotate", {"key": None}),
            ("POST", ep + "/recover", {"since": SINCE.isoformat()}),
            ("POST", ep + "/replay-missing", {"since": SINCE.isoformat()}),
            ("POST", ep + "/send-example", {"eventType": "svix.ping"}),
            ("POST", f"/app/{app.id}/msg", {"eventType": "a.b", "payload": {}}),
        ]
        for method, path, body in writes:
            answer = await http.request(method, path, json=body, headers=portal)
            assert answer.status_code == 403, (method, path, answer.text)
        # Isolation first: another application's endpoint is 404, not 403.
        assert (await http.delete(f"/app/{other.id}/endpoint/{foreign.id}", headers=portal)).status_code == 404
        assert (await http.post("/auth/logout", headers=portal)).status_code == 204
        unknown = await http.post(f"/auth/app-portal-access/{app.id}", json={"capabilities": ["Root"]},
                                  headers=operator)  # fmt: skip
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "capabilities"]
    assert (await api.svix.endpoint.get(app.id, endpoint.id)).description == "", "nothing changed"


async def _narrowed(api: ServedApi, app_id: str, *capabilities: Cap) -> SvixAsync:
    access = await api.svix.authentication.app_portal_access(
        app_id, AppPortalAccessIn(capabilities=[Cap.VIEW_BASE, *capabilities])
    )
    return api.client(access.token)


async def test_each_capability_permits_its_operations_through_the_sdk(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="portal"))
    ep = (await api.svix.endpoint.create(app.id, EndpointIn(url="https://example.com/hook"))).id
    msg = (await api.svix.message.create(app.id, MessageIn(event_type="a.b", payload={"n": 1}))).id

    viewer = await _narrowed(api, app.id, Cap.VIEW_ENDPOINT_SECRET)
    assert (await viewer.endpoint.get_secret(app.id, ep)).key.startswith("whsec_")
    assert await status_of(viewer.endpoint.rotate_secret(app.id, ep, EndpointSecretRotateIn())) == 403
    assert await status_of(viewer.endpoint.create(app.id, EndpointIn(url="https://example.com/x"))) == 403

    secrets = await _narrowed(api, app.id, Cap.MANAGE_ENDPOINT_SECRET)
    assert await status_of(secrets.endpoint.rotate_secret(app.id, ep, EndpointSecretRotateIn())) == 200
    assert await status_of(secrets.endpoint.get_secret(app.id, ep)) == 200, "managing a secret includes viewing it"
    assert await status_of(secrets.endpoint.patch(app.id, ep, EndpointPatch(description="x"))) == 403

    manager = await _narrowed(api, app.id, Cap.MANAGE_ENDPOINT)
    made = await manager.endpoint.create(app.id, EndpointIn(url="https://example.com/made"))
    assert (await manager.endpoint.patch(app.id, made.id, EndpointPatch(description="mine"))).description == "mine"
    assert await status_of(manager.endpoint.get_secret(app.id, made.id)) == 200
    assert await status_of(manager.endpoint.delete(app.id, made.id)) == 200
    assert await status_of(manager.message_attempt.resend(app.id, msg, ep)) == 403
    assert await status_of(manager.endpoint.replay_missing(app.id, ep, ReplayIn(since=SINCE))) == 403

    attempts = await _narrowed(api, app.id, Cap.CREATE_ATTEMPTS)
    assert (await attempts.endpoint.recover(app.id, ep, RecoverIn(since=SINCE))).task.value == "endpoint.recover"
    assert (await attempts.endpoint.replay_missing(app.id, ep, ReplayIn(since=SINCE))).id.startswith("qtask_")
    assert await status_of(attempts.endpoint.send_example(app.id, ep, EventExampleIn(event_type="svix.ping"))) == 200
    assert await status_of(attempts.endpoint.delete(app.id, ep)) == 403
    assert await status_of(attempts.message.create(app.id, MessageIn(event_type="a.b", payload={}))) == 403

    full = await _narrowed(api, app.id, *[c for c in Cap if c != Cap.VIEW_BASE])
    assert await status_of(full.message.create(app.id, MessageIn(event_type="a.b", payload={}))) == 200
