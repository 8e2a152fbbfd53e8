"""``filterTypes``, the name Svix's API used for an endpoint's event-type subscription for years, means
``eventTypes`` on create, update and patch, and both names are answered: sent over plain HTTP with Svix's
wire names (an SDK would hide which name travels), and proven by what the receiver gets."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.svix_api import ServedApi

pytestmark = pytest.mark.integration


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32")


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def _http(api: ServedApi) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}, timeout=30)


async def _call(http: httpx.AsyncClient, method: str, path: str, body: dict[str, Any], status: int) -> dict[str, Any]:
    response = await http.request(method, path, json=body)
    assert response.status_code == status, response.text
    return response.json()


async def test_filter_types_subscribes_on_create_update_and_patch(api: ServedApi, receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain()
    async with _http(api) as http:
        app = await _call(http, "POST", "/api/v1/app", {"name": "filter-types"}, 201)
        base = f"/api/v1/app/{app['id']}"
        created = await _call(http, "POST", f"{base}/endpoint",
                              {"url": receiver.url, "filterTypes": ["invoice.voided"]}, 201)  # fmt: skip
        assert created["eventTypes"] == created["filterTypes"] == ["invoice.voided"]
        endpoint = f"{base}/endpoint/{created['id']}"
        assert (await _call(http, "GET", endpoint, {}, 200))["filterTypes"] == ["invoice.voided"]

        for event_type in ("invoice.paid", "invoice.voided", "invoice.created"):
            await _call(http, "POST", f"{base}/msg", {"eventType": event_type, "payload": {"type": event_type}}, 202)
        first = await receiver.wait_for(1)

        updated = await _call(http, "PUT", endpoint, {"url": receiver.url, "filterTypes": ["invoice.paid"]}, 200)
        assert updated["eventTypes"] == updated["filterTypes"] == ["invoice.paid"]
        patched = await _call(http, "PATCH", endpoint, {"filterTypes": ["invoice.paid", "invoice.created"]}, 200)
        assert sorted(patched["eventTypes"]) == sorted(patched["filterTypes"]) == ["invoice.created", "invoice.paid"]
        marker = str(uuid.uuid4())
        for event_type in ("invoice.voided", "invoice.created"):
            payload = {"type": event_type, "marker": marker}
            await _call(http, "POST", f"{base}/msg", {"eventType": event_type, "payload": payload}, 202)
        received = await receiver.wait_for(2)

    assert [json.loads(r.body)["type"] for r in first] == ["invoice.voided"]
    # only the type the patch subscribed to arrives after it (ordered after the voided one, which must not come)
    later = [json.loads(r.body) for r in received[1:]]
    assert later == [{"type": "invoice.created", "marker": marker}]


async def test_both_names_must_agree(api: ServedApi, receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain()
    async with _http(api) as http:
        app = await _call(http, "POST", "/api/v1/app", {"name": "filter-types-both"}, 201)
        base = f"/api/v1/app/{app['id']}/endpoint"
        same = {"url": receiver.url, "eventTypes": ["a.b", "c.d"], "filterTypes": ["c.d", "a.b"]}
        assert sorted((await _call(http, "POST", base, same, 201))["eventTypes"]) == ["a.b", "c.d"]
        before = (await _call(http, "GET", base, {}, 200))["data"]
        refused = await http.post(base, json={"url": receiver.url, "eventTypes": ["a.b"], "filterTypes": ["c.d"]})
        assert refused.status_code == 422, refused.text
        detail = refused.json()["detail"][0]
        assert detail["loc"] == ["body", "filterTypes"] and "eventTypes" in detail["msg"]
        assert (await _call(http, "GET", base, {}, 200))["data"] == before  # the refusal changed nothing
