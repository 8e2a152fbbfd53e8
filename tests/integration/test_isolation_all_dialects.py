"""Tenant isolation on every route of every dialect, read from the served ``/openapi.json``.

Two applications with real data through the APIs and the whole pipeline
(an Outpost tenant with a destination on a real receiver, an event published
and delivered, so attempts exist; the Svix ids of the same entities). With
an application token of A, every documented operation is called with B's
ids substituted for every path parameter and id-like query parameter and
body field. A route added later is in the document, so it is swept too.
Each answer must be the one an unknown id gets (same status: B's data is
indistinguishable from nothing), 404 or 403 (the operator-only routes),
except the few a token of A may call whatever the ids say (listed below,
each with why); and no id, uid, URL or payload of B appears in any body.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from clickhouse_connect.driver import Client
from svix.api import EventTypeIn

from hookstream.domain.access import NONCE_BYTES, app_token_key, issue_app_token
from hookstream.domain.ids import IdKind, generate_id, parse_id, to_svix
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.routes import fill, path_params
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.integration

EVENT_TYPE = "invoice.paid"
# (method, path) -> the statuses an application token may get there whatever ids it names, and why.
OPEN_TO_APP_TOKENS: dict[tuple[str, str], tuple[set[int], str]] = {
    ("GET", "/api/v1/health"): ({204}, "no token needed"),
    ("GET", "/api/v1/health/ping"): ({204}, "idem"),
    ("GET", "/api/v1/healthz"): ({200}, "no token needed (Outpost)"),
    ("POST", "/api/v1/auth/logout"): ({204}, "the token's own session (it is revoked)"),
    ("GET", "/api/v1/event-type"): ({200}, "event types are the operator's catalogue, shown in every portal"),
    ("GET", "/api/v1/event-type/{event_type_name}"): ({200}, "idem"),
    ("GET", "/api/v1/topics"): ({200}, "the catalogue again, as Outpost topics"),
    ("GET", "/v1/messages/{id}/attempts"): ({200}, "seed 002: a foreign message has no visible attempts, not a 404"),
}
LOGOUT = ("POST", "/api/v1/auth/logout")
# Routes with no id in their path list the token's own tenant, whatever the query names (Outpost ignores
# a tenant token's tenant_id); they answer 200 with A's data, which the body check proves is not B's.
OWN_LISTS = {("GET", "/api/v1/tenants"), ("GET", "/api/v1/events"), ("GET", "/api/v1/attempts")}


@dataclass
class Tenant:
    name: str
    values: dict[str, dict[str, str]]  # dialect -> parameter name -> this tenant's id for it
    secrets: list[str]  # every string of this tenant that must never reach another tenant


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1,
        api_rate_limit_per_s=0.0,
    )  # fmt: skip


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, (response.request.url, response.status_code, response.text)
    return response.json() if response.content else None


async def tenant(api: ServedApi, http: httpx.AsyncClient, receivers: ReceiverFactory, name: str) -> Tenant:
    """A tenant made through the Outpost routes and delivered to by the pipeline; its ids in every dialect."""
    receiver = await receivers.plain()
    url = f"{receiver.url}{name}-hook"
    _ok(await http.put(f"/api/v1/tenants/{name}", json={"metadata": {"owner": f"{name}-meta"}}))
    destination = {"type": "webhook", "id": f"{name}-dest", "topics": "*", "config": {"url": url}}
    _ok(await http.post(f"/api/v1/tenants/{name}/destinations", json=destination))
    event = {"tenant_id": name, "id": f"{name}-evt", "topic": EVENT_TYPE, "data": {"owner": f"{name}-payload"}}
    _ok(await http.post("/api/v1/publish", json=event))

    async def attempts() -> list[dict[str, Any]]:
        return _ok(await http.get("/api/v1/attempts", params={"tenant_id": name}))["models"]

    attempt = (await eventually(attempts, lambda found: len(found) > 0, timeout_s=60))[0]
    app = await api.svix.application.get(name)
    endpoint = await api.svix.endpoint.get(app.id, f"{name}-dest")
    message = (await api.svix.message.list(app.id)).data[0]
    uuids = {"app": parse_id(app.id, IdKind.APPLICATION), "ep": parse_id(endpoint.id, IdKind.ENDPOINT),
             "msg": parse_id(message.id, IdKind.MESSAGE), "atmpt": parse_id(attempt["id"], IdKind.ATTEMPT)}  # fmt: skip
    values = {
        "svix": {"app_id": app.id, "endpoint_id": endpoint.id, "msg_id": message.id, "attempt_id": attempt["id"],
                 "event_type_name": EVENT_TYPE},
        "outpost": {"tenant_id": name, "destination_id": f"{name}-dest", "event_id": f"{name}-evt",
                    "attempt_id": attempt["id"], "/api/v1/tenants": name, "/api/v1/events": f"{name}-evt"},
        "v1": {"app_id": str(uuids["app"]), "project": str(uuids["app"]), "attempt_id": str(uuids["atmpt"]),
               "/v1/messages/{id}": str(uuids["msg"]), "/v1/endpoints/{id}": str(uuids["ep"])},
    }  # fmt: skip
    ids = [app.id, endpoint.id, message.id, attempt["id"], *map(str, uuids.values())]
    return Tenant(name, values, [*ids, name, url])


def nobody(values: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The same shape of ids, naming nothing: what B's ids must be indistinguishable from."""
    out: dict[str, dict[str, str]] = {}
    for dialect, names in values.items():
        out[dialect] = {}
        for name, value in names.items():
            prefix = value.split("_")[0]
            if name == "event_type_name":
                out[dialect][name] = value  # not a tenant's: the same for both
            elif prefix in {kind.prefix.rstrip("_") for kind in IdKind}:
                out[dialect][name] = to_svix(IdKind(prefix), generate_id())
            elif dialect == "v1":
                out[dialect][name] = str(generate_id())
            else:
                out[dialect][name] = f"nobody-{name}"
    return out


def _dialect(operation: dict[str, Any]) -> str:
    return str(operation["tags"][0])


def _value(values: dict[str, dict[str, str]], dialect: str, path: str, name: str) -> str | None:
    """A parameter's id: by name, or by the path it is under for v1's bare ``{id}``."""
    names = values[dialect]
    for prefix, value in names.items():
        if prefix.startswith("/") and name == "id" and path.startswith(prefix):
            return value
    return names.get(name)


ID_QUERY = {"tenant_id", "endpoint_id", "destination_id", "event_id", "id", "project"}
FILLERS = {"expires": str(2**40), "signature": "0" * 64}  # v1's signed body link: a well-formed, wrong signature


def request_of(path: str, method: str, operation: dict[str, Any], values: dict[str, dict[str, str]]) -> dict[str, Any]:
    """httpx arguments calling ``operation`` with ``values``'s ids wherever it takes one."""
    dialect = _dialect(operation)
    path_values = {name: _value(values, dialect, path, name) or "some-name" for name in path_params(path)}
    query: dict[str, str] = {}
    for param in operation["parameters"]:
        if param["in"] != "query":
            continue
        value = _value(values, dialect, path, param["name"]) if param["name"] in ID_QUERY else None
        value = value or (FILLERS.get(param["name"]) if param.get("required") else None)
        if value is not None:
            query[param["name"]] = value
    out: dict[str, Any] = {"method": method.upper(), "url": fill(path, path_values), "params": query}
    if "requestBody" in operation:
        properties = operation["requestBody"]["content"]["application/json"]["schema"].get("properties", {})
        out["json"] = {name: values[dialect][name] for name in ID_QUERY & set(properties) if name in values[dialect]}
    return out


async def test_app_token_of_a_sees_nothing_of_b_on_any_route(
    api: ServedApi, clickhouse: Client, receivers: ReceiverFactory
) -> None:
    operator = {"Authorization": f"Bearer {api.token}"}
    await api.svix.event_type.create(EventTypeIn(name=EVENT_TYPE, description="An invoice was paid"))
    async with httpx.AsyncClient(base_url=api.url, headers=operator, timeout=30) as http:
        a, b = await tenant(api, http, receivers, "alpha"), await tenant(api, http, receivers, "bravo")
        doc = _ok(await http.get("/openapi.json"))
    app_a = parse_id(a.values["svix"]["app_id"], IdKind.APPLICATION)
    token = issue_app_token(app_token_key(api.token), app_a, int(time.time()) + 3600)
    operations = [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]
    assert {_dialect(op) for _, _, op in operations} == {"svix", "outpost", "v1"}
    assert len(operations) >= 70, [f"{m} {p}" for p, m, _ in operations]
    swept: dict[int, int] = {}
    problems: list[str] = []
    sessions = (n.to_bytes(NONCE_BYTES, "big") for n in range(1, 100))

    def own_session(key: tuple[str, str]) -> dict[str, Any]:
        """Logout revokes the token it is called with: each call gets a token of its own (another nonce), so the
        sweep's token stays good."""
        if key != LOGOUT:
            return {}
        own = issue_app_token(app_token_key(api.token), app_a, int(time.time()) + 3600, nonce=next(sessions))
        return {"headers": {"Authorization": f"Bearer {own}"}}

    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for path, method, operation in operations:
            key = (method.upper(), path)
            theirs = await http.request(**request_of(path, method, operation, b.values), **own_session(key))
            unknown = await http.request(**request_of(path, method, operation, nobody(b.values)), **own_session(key))
            where = f"{method.upper()} {path}: {theirs.status_code} {theirs.text[:300]}"
            swept[theirs.status_code] = swept.get(theirs.status_code, 0) + 1
            if leaked := [s for s in b.secrets if s in theirs.text]:
                problems.append(f"{where} -- shows B's {leaked}")
            if theirs.status_code != unknown.status_code:
                problems.append(f"{where} -- but an unknown id gets {unknown.status_code} {unknown.text[:300]}")
            if key in OPEN_TO_APP_TOKENS:
                expected = OPEN_TO_APP_TOKENS[key][0]
            else:
                expected = {200} if key in OWN_LISTS else {403, 404}
            if theirs.status_code not in expected:
                problems.append(f"{where} -- expected one of {sorted(expected)}")
        assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
        v1_attempts = await http.get(f"/v1/messages/{b.values['v1']['/v1/messages/{id}']}/attempts")
        assert v1_attempts.json()["data"] == [], "the seed's rule: a foreign message has no visible attempts"
        own = (await http.get("/api/v1/events")).json()["models"]
        assert [e["id"] for e in own] == ["alpha-evt"], "the lists are A's own, not empty by accident"
    print(f"\nisolation: {len(operations)} operations swept, statuses {dict(sorted(swept.items()))}")

    async with httpx.AsyncClient(base_url=api.url, headers=operator, timeout=30) as http:  # B untouched
        tenant_b = _ok(await http.get("/api/v1/tenants/bravo"))
        assert (tenant_b["destinations_count"], tenant_b["metadata"]) == (1, {"owner": "bravo-meta"})
        dest = _ok(await http.get("/api/v1/tenants/bravo/destinations/bravo-dest"))
        assert dest["disabled_at"] is None and dest["config"]["url"] in b.secrets
        events = _ok(await http.get("/api/v1/events", params={"tenant_id": "bravo"}))["models"]
        assert [e["id"] for e in events] == ["bravo-evt"]
