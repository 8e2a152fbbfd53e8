"""Application-scoped tokens through the svix SDK: portal access, isolation on every route, 401s, rate limits.

Real broker and chDB, the API served on 127.0.0.1. The isolation sweep walks
the routes the served Svix sub-application actually registers, so a route
added later is swept without touching this file; raw HTTP is used only
there (every method and path, whatever the SDK offers) and for headers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiohttp import web
from clickhouse_connect.driver import Client
from svix.api import (
    ApplicationIn,
    AppPortalAccessIn,
    EndpointIn,
    EventTypeIn,
    MessageGetOptions,
    MessageIn,
    SvixAsync,
)
from svix.exceptions import HttpError, HTTPValidationError

from hookstream.domain.access import app_token_key, issue_app_token, verify_app_token
from hookstream.domain.ids import IdKind, generate_id, parse_id, to_svix
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.projector.rows import attempt_row, message_row
from hookstream.projector.store import write_rows
from tests.support import builders
from tests.support.routes import fill, path_params
from tests.support.svix_api import ServedApi, served_api, status_of

pytestmark = pytest.mark.integration

# Routes under no application that an application token may call (health needs no token at all);
# any other route there must answer it 403.
APP_TOKEN_ROUTES = {
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/health/ping"),
    ("GET", "/api/v1/event-type"),  # an application's portal shows the event types it can subscribe to
    ("GET", "/api/v1/event-type/{event_type_name}"),
}


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), api_rate_limit_per_s=0.0)


@dataclass
class Tenant:
    """One application with an endpoint, a message and (for the sweep) an attempt, all by their real ids."""

    ids: dict[str, str]  # path parameter -> id
    uid: str
    secrets: list[str]  # every string of this tenant that must never reach another tenant


async def tenant(api: ServedApi, clickhouse: Client, name: str) -> Tenant:
    app = await api.svix.application.create(ApplicationIn(name=f"{name}-app", uid=f"{name}-uid"))
    ep = await api.svix.endpoint.create(app.id, EndpointIn(url=f"https://{name}.example/hook", uid=f"{name}-ep"))
    msg = await api.svix.message.create(
        app.id, MessageIn(event_type="invoice.paid", event_id=f"{name}-evt", payload={"owner": f"{name}-payload"})
    )
    app_uuid, ep_uuid = parse_id(app.id, IdKind.APPLICATION), parse_id(ep.id, IdKind.ENDPOINT)
    record = builders.message(str(app_uuid), event_id=f"{name}-evt", msg_id=parse_id(msg.id, IdKind.MESSAGE))
    attempt = builders.attempt(record, str(ep_uuid))
    write_rows(clickhouse, {"messages": [message_row(record).values], "attempts": [attempt_row(attempt).values]})
    attempt_id = to_svix(IdKind.ATTEMPT, uuid.UUID(attempt["attempt_id"]))
    ids = {"app_id": app.id, "endpoint_id": ep.id, "msg_id": msg.id, "attempt_id": attempt_id}
    uuids = [str(parse_id(v, IdKind(v.split("_")[0]))) for v in ids.values()]
    return Tenant(ids, app.uid or "", [*ids.values(), *uuids, f"{name}-", f"{name}.example"])


async def portal_token(api: ServedApi, app_id: str, **options: Any) -> str:
    return (await api.svix.authentication.app_portal_access(app_id, AppPortalAccessIn(**options))).token


async def test_portal_access_token_works_for_its_application(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="Acme", uid="acme"))
    access = await api.svix.authentication.app_portal_access("acme", AppPortalAccessIn(feature_flags=["beta"]))
    assert access.url == f"{api.url}/console/portal#key={access.token}"
    scoped = api.client(access.token)
    assert (await scoped.application.get(app.id)).name == "Acme"
    assert (await scoped.application.get("acme")).id == app.id
    endpoint = await scoped.endpoint.create(app.id, EndpointIn(url="https://acme.example/hook"))
    assert [e.id for e in (await scoped.endpoint.list("acme")).data] == [endpoint.id]
    msg = await scoped.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"n": 1}))
    assert (await scoped.message.get(app.id, msg.id, MessageGetOptions(with_content=True))).payload == {"n": 1}
    assert (await api.svix.endpoint.get(app.id, endpoint.id)).url == "https://acme.example/hook", "really written"

    await api.svix.event_type.create(EventTypeIn(name="invoice.paid", description="An invoice was paid"))
    assert [t.name for t in (await scoped.event_type.list()).data] == ["invoice.paid"]
    assert (await scoped.event_type.get("invoice.paid")).description == "An invoice was paid"
    for call in (
        scoped.event_type.create(EventTypeIn(name="mine", description="no")),
        scoped.event_type.delete("invoice.paid"),
        scoped.application.list(),
        scoped.application.create(ApplicationIn(name="mine")),
        scoped.authentication.app_portal_access(app.id, AppPortalAccessIn()),
        scoped.application.delete(app.id),
    ):
        with pytest.raises(HttpError) as refused:
            await call
        assert (refused.value.status_code, refused.value.code) == (403, "forbidden")
    assert [a.id for a in (await api.svix.application.list()).data] == [app.id], "nothing created or deleted"


async def test_portal_access_expiry_bounds_and_grant(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="Acme"))
    key = app_token_key(api.token)
    started = time.time()
    token = await portal_token(api, app.id, expiry=3600)
    assert verify_app_token(key, token, started + 3590) is not None
    assert verify_app_token(key, token, time.time() + 3601) is None
    default = await portal_token(api, app.id)
    assert verify_app_token(key, default, started + 7 * 24 * 3600 - 10) is not None
    assert verify_app_token(key, default, time.time() + 7 * 24 * 3600 + 1) is None
    refusals = [
        ({"expiry": 3599}, ["body", "expiry"]),
        ({"expiry": 7 * 24 * 3600 + 1}, ["body", "expiry"]),
        ({"capabilities": ["ManageEndpoint"]}, ["body", "capabilities"]),  # ViewBase is always required
        ({"application": ApplicationIn(name="")}, ["body", "application", "name"]),
    ]
    for options, loc in refusals:
        with pytest.raises(HTTPValidationError) as invalid:
            await api.svix.authentication.app_portal_access(app.id, AppPortalAccessIn(**options))
        assert invalid.value.status_code == 422
        assert invalid.value.detail[0].loc == loc, options
    assert [a.id for a in (await api.svix.application.list()).data] == [app.id]


async def test_portal_access_creates_the_application_as_svix_does(api: ServedApi) -> None:
    token = await portal_token(api, "new-tenant", application=ApplicationIn(name="New Tenant", metadata={"p": "1"}))
    created = await api.svix.application.get("new-tenant")
    assert (created.name, created.uid, created.metadata) == ("New Tenant", "new-tenant", {"p": "1"})
    assert (await api.client(token).application.get("new-tenant")).id == created.id
    again = await portal_token(api, "new-tenant", application=ApplicationIn(name="ignored"))
    assert (await api.client(again).application.get(created.id)).name == "New Tenant", "existing: body ignored"
    unknown_id = to_svix(IdKind.APPLICATION, generate_id())
    for ref, options in (("nobody", {}), (unknown_id, {"application": ApplicationIn(name="x")})):
        assert await status_of(api.svix.authentication.app_portal_access(ref, AppPortalAccessIn(**options))) == 404
    assert [a.id for a in (await api.svix.application.list()).data] == [created.id]


async def test_dashboard_access_and_logout(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="Acme"))
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as http:
        answer = await http.post(f"/api/v1/auth/dashboard-access/{app.id}")  # deprecated; the SDK no longer has it
    assert answer.status_code == 200
    token = answer.json()["token"]
    assert answer.json()["url"].endswith(f"#key={token}")
    assert (await api.client(token).application.get(app.id)).id == app.id
    assert await api.client(token).authentication.logout() is None
    with pytest.raises(HttpError) as refused:
        await api.svix.authentication.logout()
    assert refused.value.status_code == 403


async def test_missing_bad_expired_and_tampered_tokens_answer_401(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="Acme"))
    good = await portal_token(api, app.id)
    expired = issue_app_token(app_token_key(api.token), parse_id(app.id, IdKind.APPLICATION), int(time.time()) - 1)
    tampered = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    foreign = issue_app_token(app_token_key("another operator"), parse_id(app.id, IdKind.APPLICATION), 2**40)
    assert await status_of(api.client(good).endpoint.list(app.id)) == 200
    for token in ("hs_op_wrong", expired, tampered, foreign, api.token + "x"):
        with pytest.raises(HttpError) as refused:
            await api.client(token).endpoint.list(app.id)
        assert (refused.value.status_code, refused.value.code) == (401, "authentication_failed"), token
    async with httpx.AsyncClient(base_url=api.url) as http:
        assert (await http.get(f"/api/v1/app/{app.id}/endpoint")).status_code == 401
        basic = await http.get(f"/api/v1/app/{app.id}/endpoint", headers={"Authorization": f"Basic {api.token}"})
        assert basic.status_code == 401


def svix_routes(served: ServedApi) -> list[tuple[str, str]]:
    """(method, path pattern) of every route the served Svix sub-application registers.

    A path's trailing-slash twin (same handler, same middlewares) is listed once, without the slash.
    """
    assert served.http_app is not None
    routes: dict[tuple[str, str], None] = {}
    for resource in served.http_app.router.resources():
        sub = resource.get_info().get("app")
        if isinstance(sub, web.Application) and resource.get_info().get("prefix") == "/api/v1":
            for route in sub.router.routes():
                if route.resource is not None:
                    routes[(route.method, route.resource.canonical.rstrip("/"))] = None
    return list(routes)


def unknown_ids() -> dict[str, str]:
    kinds = {"app_id": IdKind.APPLICATION, "endpoint_id": IdKind.ENDPOINT, "msg_id": IdKind.MESSAGE,
             "attempt_id": IdKind.ATTEMPT}  # fmt: skip
    return {name: to_svix(kind, generate_id()) for name, kind in kinds.items()}


async def test_app_token_is_confined_on_every_route(api: ServedApi, clickhouse: Client) -> None:
    a, b = await tenant(api, clickhouse, "alpha"), await tenant(api, clickhouse, "bravo")
    token = await portal_token(api, a.ids["app_id"])
    routes = svix_routes(api)
    assert ("GET", "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}") in routes
    assert ("POST", "/api/v1/auth/app-portal-access/{app_id}") in routes
    under_app = [(m, p) for m, p in routes if "{app_id}" in p]
    assert len(under_app) >= 20, routes

    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as op:
        for method, pattern in under_app:  # the ids are real: with the operator token, every read finds them
            if method == "GET" and set(path_params(pattern)) <= set(b.ids):
                assert (await op.get(fill(pattern, b.ids))).status_code == 200, pattern

    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {token}"}) as http:

        async def ask(method: str, pattern: str, values: dict[str, str]) -> tuple[int, str]:
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            answer = await http.request(method, fill(pattern, values), content=body)
            return answer.status_code, answer.text

        for method, pattern in routes:
            if (method, pattern) == ("POST", "/api/v1/auth/logout"):
                continue  # names no id, and would revoke the sweep's token (test_svix_logout covers it)
            unknown = unknown_ids()
            variants = [  # (B's values, the same shape of values naming nothing)
                (b.ids, unknown),
                ({**b.ids, "app_id": b.uid}, {**unknown, "app_id": "no-such-uid"}),
                ({**b.ids, "app_id": a.ids["app_id"]}, {**unknown, "app_id": a.ids["app_id"]}),
            ]
            if "app_id" not in path_params(pattern):
                variants = variants[:1]  # no application to vary
            elif path_params(pattern) == ["app_id"]:
                variants = variants[:2]  # no other id to mix with A's application
            for theirs, nobodys in variants:
                status, text = await ask(method, pattern, theirs)
                assert (status, text) == await ask(method, pattern, nobodys), (method, pattern, theirs)
                assert not [s for s in b.secrets if s in text], (method, pattern, text)
                if (method, pattern) in APP_TOKEN_ROUTES:
                    continue
                if "{app_id}" not in pattern:
                    assert status == 403 and '"forbidden"' in text, (method, pattern, status)
                elif theirs["app_id"] != a.ids["app_id"]:
                    assert status in (403, 404), (method, pattern, status, text)
                else:
                    assert status in (403, 404, 422), (method, pattern, status, text)

    assert sorted(x.id for x in (await api.svix.application.list()).data) == sorted([a.ids["app_id"], b.ids["app_id"]])
    assert (await api.svix.application.get(b.ids["app_id"])).name == "bravo-app"
    assert [e.id for e in (await api.svix.endpoint.list(b.ids["app_id"])).data] == [b.ids["endpoint_id"]]
    assert (await api.svix.endpoint.get(b.ids["app_id"], b.ids["endpoint_id"])).url == "https://bravo.example/hook"
    assert [m.id for m in (await api.svix.message.list(b.ids["app_id"])).data] == [b.ids["msg_id"]]
    attempts = await api.svix.message_attempt.list_by_msg(b.ids["app_id"], b.ids["msg_id"])
    assert [x.id for x in attempts.data] == [b.ids["attempt_id"]]
    attempt = await api.svix.message_attempt.get(b.ids["app_id"], b.ids["msg_id"], b.ids["attempt_id"])
    assert attempt.response == "ok", "the attempt's content was not expunged"


async def test_rate_limit_is_per_token(settings: Settings, topics: TopicNames, clickhouse: Client) -> None:
    limited = settings.replace(secret_keys=new_key_text(), api_rate_limit_per_s=0.01, api_rate_limit_burst=8)
    async with served_api(limited) as api:
        app = await api.svix.application.create(ApplicationIn(name="Acme"))  # the operator's bucket: 1 of 8
        flooding, sibling = await portal_token(api, app.id), await portal_token(api, app.id, expiry=3600)
        flood: SvixAsync = api.client(flooding)
        statuses = [await status_of(flood.endpoint.list(app.id)) for _ in range(8)]
        assert statuses == [200] * 8
        with pytest.raises(HttpError) as limited_error:
            await flood.endpoint.list(app.id)
        assert (limited_error.value.status_code, limited_error.value.code) == (429, "rate_limited")
        async with httpx.AsyncClient(base_url=api.url) as http:
            answer = await http.get(f"/api/v1/app/{app.id}", headers={"Authorization": f"Bearer {flooding}"})
            assert answer.status_code == 429 and answer.json()["code"] == "rate_limited"
            assert int(answer.headers["Retry-After"]) >= 1
            for _ in range(10):
                assert (await http.get("/api/v1/health/")).status_code == 204, "health is never limited"
        assert await status_of(api.client(sibling).endpoint.list(app.id)) == 200, "another token of the same app"
        assert await status_of(api.svix.application.get(app.id)) == 200, "the operator's own bucket"


async def test_operator_token_is_not_limited_by_default(settings: Settings, topics: TopicNames) -> None:
    limited = settings.replace(secret_keys=new_key_text(), api_rate_limit_per_s=0.01, api_rate_limit_burst=8)
    assert limited.api_operator_rate_limit_per_s == 0, "the default leaves the operator token unlimited"
    async with served_api(limited) as api:
        app = await api.svix.application.create(ApplicationIn(name="Acme"))
        scoped = {"Authorization": f"Bearer {await portal_token(api, app.id)}"}
        operator = {"Authorization": f"Bearer {api.token}"}
        async with httpx.AsyncClient(base_url=api.url) as http:
            burst = []  # 500 requests at once would wait on httpx's pool of 100 connections: 50 at a time
            for _ in range(10):
                burst += await asyncio.gather(*(http.get(f"/api/v1/app/{app.id}", headers=operator) for _ in range(50)))
            assert len(burst) == 500 and {answer.status_code for answer in burst} == {200}
            statuses = [(await http.get(f"/api/v1/app/{app.id}/endpoint", headers=scoped)).status_code
                        for _ in range(9)]  # fmt: skip
            assert statuses == [200] * 8 + [429], "the application token keeps its limit"


async def test_operator_limit_applies_when_set(settings: Settings, topics: TopicNames) -> None:
    limited = settings.replace(secret_keys=new_key_text(), api_operator_rate_limit_per_s=0.01,
                               api_operator_rate_limit_burst=3)  # fmt: skip
    async with served_api(limited) as api, httpx.AsyncClient(base_url=api.url) as http:
        operator = {"Authorization": f"Bearer {api.token}"}
        statuses = [(await http.get("/api/v1/app", headers=operator)).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
