"""Svix's own OpenAPI documents as the oracle for hookstream's ``/api/v1`` wire.

Every operation hookstream serves under ``/api/v1`` is called over real HTTP
with plain httpx (an SDK would hide the wire names), with bodies that name
every field of Svix's request schema by its Svix name and validate against
it; every answer's status must be one Svix declares and its body must match
Svix's schema for that status: names, types, required fields, nullability,
enum values, error bodies. The documents are the copies in
``tests/support/svix_openapi`` (README there: repository, path, commit).
``DIFFERENCES`` is the whole list of where hookstream deliberately differs;
the README's Svix section shows the same list. The test prints how many
operations and fields it checked.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from hookstream.api.openapi import template
from hookstream.api.svix import PREFIX, operations
from hookstream.domain.ids import IdKind, generate_id, to_svix
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.svix_api import ServedApi, eventually
from tests.support.svix_oracle import Difference, Oracle, lib_document, server_document

pytestmark = pytest.mark.integration

A = "/api/v1/app/{app_id}"
EP = A + "/endpoint/{endpoint_id}"
MSG = A + "/msg/{msg_id}"
OPS = "/api/v1/operational-webhook/endpoint"
ROTATED = "200 with the new secret (EndpointSecretOut) instead of 204: the svix 2.9.1 SDK reads the new key from it"
EXPUNGED = (
    "the document declares no success status; Svix's server answers 204 as hookstream does (StatusCode::NO_CONTENT)"
)
KSUID = (
    "ids are the base62 of a UUID (22 characters after the prefix), not Svix's 27-character KSUIDs; the SDK "
    "superset's pattern ^ep_[A-Za-z0-9]{27}$ is the hosted service's, the server's document has none"
)
QTASK_KSUID = (
    "task ids are the base62 of the task's UUID (22 characters after the prefix), not Svix's 27-character "
    "KSUIDs; the SDK superset's pattern ^qtask_[A-Za-z0-9]{27}$ is the hosted service's (the server's document "
    "has no background-task routes)"
)
DEPRECATED = "an older path of list-by-msg / list-by-endpoint that svix SDKs before 1.0 still call; Svix dropped it"
# (operation, field, why): the README's "Deliberate differences from Svix's documents" lists the same rows.
DIFFERENCES = (
    Difference("GET " + MSG + "/attempt", "operation", DEPRECATED),
    Difference("GET " + MSG + "/endpoint/{endpoint_id}/attempt", "operation", DEPRECATED),
    Difference("POST /api/v1/auth/dashboard-access/{app_id}", "operation",
               "the older name of app-portal-access, still called by svix SDKs up to 1.x (Svix's server serves it, "
               "undocumented)"),
    Difference("POST " + EP + "/secret/rotate", "status 200", ROTATED),
    Difference("POST " + OPS + "/{endpoint_id}/secret/rotate", "status 200", ROTATED),
    Difference("DELETE " + MSG + "/content", "status 204", EXPUNGED),
    Difference("DELETE " + MSG + "/attempt/{attempt_id}/content", "status 204", EXPUNGED),
    Difference("POST /api/v1/auth/logout", "status 403",
               "logging out a token that is not an application's fails, as Svix's description of the operation "
               "says; the document declares 204 only"),
    Difference("POST /api/v1/auth/app/{app_id}/expire-all", "request sessionIds",
               "a non-empty list is refused with 422: hookstream's tokens carry no session id"),
    *(Difference(f"{method} {OPS}{tail}", f"response {where}", KSUID) for method, tail, where in (
        ("POST", "", "id"), ("GET", "", "data.*.id"), ("GET", "/{endpoint_id}", "id"),
        ("PUT", "/{endpoint_id}", "id"))),
    Difference("POST " + EP + "/replay-missing", "response id", QTASK_KSUID),
    Difference("GET /api/v1/background-task", "response data.*.id", QTASK_KSUID),
    Difference("GET /api/v1/background-task/{task_id}", "response id", QTASK_KSUID),
    Difference("POST " + A + "/msg", "request data",
               "MessageIn's serde alias of payload (not in either document) is refused with 422 (payload is required): "
               "no svix SDK sends it"),
)  # fmt: skip


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def _served() -> set[tuple[str, str]]:
    return {(op.method, PREFIX + template(op.path)) for op in operations()}


async def test_every_svix_operation_hookstream_serves_matches_svix_documents(
    api: ServedApi, receivers: ReceiverFactory
) -> None:
    receiver = await receivers.plain()
    docs = (server_document(), lib_document())
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api.token}"}, timeout=30) as http:
        oracle = Oracle(http, api.url, docs, DIFFERENCES)
        await _scenario(oracle, receiver.url)
    assert not oracle.failures, "\n".join(oracle.failures)
    missed = _served() - oracle.operations
    assert not missed, f"served under /api/v1 but not checked: {sorted(missed)}"
    unused = set(DIFFERENCES) - oracle.used_differences
    assert not unused, f"listed as differences but no longer different: {unused}"
    print(f"\nSvix oracle: {len(oracle.operations)} operations, {len(oracle.checked_fields)} fields checked, "
          f"{len(DIFFERENCES)} deliberate differences")  # fmt: skip


async def _scenario(o: Oracle, url: str) -> None:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await o.call("GET", "/api/v1/health")).status_code == 204
    assert (await o.call("GET", "/api/v1/health/ping")).status_code == 204
    # Event types
    schemas = {"1": {"type": "object", "examples": [{"user": "ada"}]}}
    type_in = {"name": "user.signup", "description": "a user signed up", "archived": False, "deprecated": False,
               "featureFlag": None, "schemas": schemas}  # fmt: skip
    assert (await o.call("POST", "/api/v1/event-type", body=type_in)).status_code == 201
    assert (await o.call("POST", "/api/v1/event-type", body=type_in)).status_code == 409
    named = "/api/v1/event-type/{event_type_name}"
    await o.call("GET", "/api/v1/event-type", query={"limit": 10, "order": "ascending", "include_archived": "true",
                                                     "with_content": "true"})  # fmt: skip
    await o.call("GET", named, event_type_name="user.signup")
    await o.call("GET", named, event_type_name="no.such.type")
    update = {k: v for k, v in type_in.items() if k != "name"}
    assert (await o.call("PUT", named, body=update, event_type_name="user.signup")).status_code == 200
    assert (await o.call("PUT", named, body=update, event_type_name="other.type")).status_code == 201
    await o.call("PATCH", named, body={**update, "description": "patched"}, event_type_name="other.type")
    await o.call("DELETE", named, query={"expunge": "false"}, event_type_name="other.type")
    imported = "/api/v1/event-type/import/openapi"
    raw = "webhooks:\n  pet.new:\n    post:\n      description: a pet\n"
    dry = await o.call("POST", imported, body={"spec": None, "specRaw": raw, "replaceAll": False, "dryRun": True})
    assert dry.json()["data"] == {"modified": ["pet.new"], "to_modify": [
        {"name": "pet.new", "description": "a pet", "schemas": None, "deprecated": False, "groupName": None,
         "featureFlags": None}]}, dry.text  # fmt: skip
    spec = {"openapi": "3.1.0", "webhooks": {"pet.new": {"post": {"requestBody": {"content": {"application/json": {
        "schema": {"type": "object"}}}}}}}}  # fmt: skip
    done = await o.call("POST", imported, body={"spec": spec, "specRaw": None, "replaceAll": False, "dryRun": False})
    assert done.json()["data"] == {"modified": ["pet.new"]}, done.text
    neither = {"spec": None, "specRaw": None, "replaceAll": False, "dryRun": True}
    assert (await o.call("POST", imported, body=neither)).status_code == 400
    # Applications
    app_in = {"name": "oracle", "uid": "oracle-app", "throttleRate": 100, "metadata": {"team": "a"}}
    created = await o.call("POST", "/api/v1/app", body=app_in, query={"get_if_exists": "false"})
    assert created.status_code == 201, created.text
    app_id = created.json()["id"]
    assert (await o.call("POST", "/api/v1/app", body=app_in, query={"get_if_exists": "true"})).status_code == 200
    await o.call("POST", "/api/v1/app", body={**app_in, "name": ""}, invalid=True)  # 422
    await o.call("GET", "/api/v1/app", query={"limit": 5, "order": "descending"})
    await o.call("GET", A, app_id="oracle-app")
    await o.call("GET", A, app_id="app_none")
    await o.call("PUT", A, body={**app_in, "name": "renamed"}, app_id=app_id)
    await o.call("PUT", A, body={**app_in, "uid": "put-app"}, app_id="put-app")
    await o.call("PATCH", A, body={**app_in, "name": "patched"}, app_id=app_id)
    await o.call("DELETE", A, app_id="put-app")
    # Endpoints
    ep_in = {"url": url, "description": "oracle", "disabled": False, "eventTypes": ["user.signup"],
             "channels": None, "throttleRate": None, "uid": "oracle-ep", "metadata": {"k": "v"},
             "secret": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}  # fmt: skip
    made = await o.call("POST", A + "/endpoint", body=ep_in, app_id=app_id)
    assert made.status_code == 201, made.text
    ep_id = made.json()["id"]
    # serde's alias filterTypes (of eventTypes), which the documents do not show
    aliased = {
        **{k: v for k, v in ep_in.items() if k != "eventTypes"},
        "uid": "aliased",
        "filterTypes": ["user.signup"],
    }
    aliased = await o.call("POST", A + "/endpoint", body=aliased, app_id=app_id)
    assert (aliased.status_code, aliased.json()["eventTypes"]) == (201, ["user.signup"]), aliased.text
    await o.call("POST", A + "/endpoint", body={**ep_in, "url": "ftp://x"}, app_id=app_id, invalid=True)
    await o.call("GET", A + "/endpoint", query={"limit": 5, "order": "ascending"}, app_id=app_id)
    await o.call("GET", EP, app_id=app_id, endpoint_id=ep_id)
    ep_update = {k: v for k, v in ep_in.items() if k != "secret"}
    await o.call("PUT", EP, body=ep_update, app_id=app_id, endpoint_id="oracle-ep")
    await o.call("PUT", EP, body={**ep_update, "uid": "second-ep"}, app_id=app_id, endpoint_id="second-ep")
    await o.call("PATCH", EP, body={**ep_update, "description": "patched"}, app_id=app_id, endpoint_id=ep_id)
    await o.call("DELETE", EP, app_id=app_id, endpoint_id="second-ep")
    headers = {"headers": {"x-team": "a"}}
    await o.call("PUT", EP + "/headers", body=headers, app_id=app_id, endpoint_id=ep_id)
    await o.call("PATCH", EP + "/headers", body={"headers": {"x-more": "b"}}, app_id=app_id, endpoint_id=ep_id)
    await o.call("GET", EP + "/headers", app_id=app_id, endpoint_id=ep_id)
    await o.call("GET", EP + "/secret", app_id=app_id, endpoint_id=ep_id)
    rotate = {"key": "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD", "gracePeriodSeconds": 60}
    await o.call("POST", EP + "/secret/rotate", body=rotate, app_id=app_id, endpoint_id=ep_id)
    # Messages and attempts
    msg_in = {"eventType": "user.signup", "eventId": "evt-oracle-1", "payload": {"user": "ada"}, "channels": ["c1"],
              "payloadRetentionPeriod": 90, "application": None}  # fmt: skip
    sent = await o.call("POST", A + "/msg", body=msg_in, query={"with_content": "true"}, app_id=app_id)
    assert sent.status_code == 202, sent.text
    msg_id = sent.json()["id"]
    await o.call("POST", A + "/msg", body=msg_in, app_id=app_id)  # 409: the same eventId
    data = {k: v for k, v in msg_in.items() if k != "payload"} | {"eventId": "evt-data", "data": {"user": "ada"}}
    assert (await o.call("POST", A + "/msg", body=data, app_id=app_id, invalid=True)).status_code == 422
    assert o.differs("POST " + A + "/msg", "request data")
    example = await o.call("POST", EP + "/send-example", body={"eventType": "svix.ping"}, app_id=app_id,
                           endpoint_id=ep_id)  # fmt: skip
    assert example.status_code == 200, example.text

    async def attempts() -> httpx.Response:
        return await o.call("GET", A + "/attempt/msg/{msg_id}", app_id=app_id, msg_id=msg_id)

    listed = await eventually(attempts, lambda r: len(r.json()["data"]) >= 1)
    attempt_id = listed.json()["data"][0]["id"]
    window = {"before": datetime.now(UTC).isoformat(), "after": since}
    await o.call("GET", A + "/msg", query={"limit": 5, "channel": "c1", "with_content": "true",
                                           "event_types": "user.signup", **window}, app_id=app_id)  # fmt: skip
    await o.call("GET", MSG, query={"with_content": "false"}, app_id=app_id, msg_id=msg_id)
    await o.call("GET", MSG, app_id=app_id, msg_id="msg_none")
    await o.call("GET", A + "/attempt/msg/{msg_id}", query={"limit": 5, "status": 0, "status_code_class": 200,
                 "channel": "c1", "endpoint_id": ep_id, "with_content": "true", "event_types": "user.signup",
                 **window}, app_id=app_id, msg_id=msg_id)  # fmt: skip
    await o.call("GET", A + "/attempt/endpoint/{endpoint_id}", query={"limit": 5, "status": 0,
                 "status_code_class": 200, "channel": "c1", "with_content": "true", "event_types": "user.signup",
                 **window}, app_id=app_id, endpoint_id=ep_id)  # fmt: skip
    await o.call("GET", MSG + "/attempt", app_id=app_id, msg_id=msg_id)
    await o.call("GET", MSG + "/endpoint/{endpoint_id}/attempt", app_id=app_id, msg_id=msg_id, endpoint_id=ep_id)
    await o.call("GET", MSG + "/attempt/{attempt_id}", app_id=app_id, msg_id=msg_id, attempt_id=attempt_id)
    await o.call("GET", MSG + "/endpoint", query={"limit": 5}, app_id=app_id, msg_id=msg_id)
    await o.call("GET", EP + "/msg", query={"limit": 5, "channel": "c1", "status": 0, "with_content": "true",
                 "event_types": "user.signup", **window}, app_id=app_id, endpoint_id=ep_id)  # fmt: skip
    await o.call("GET", EP + "/stats", query={"since": since}, app_id=app_id, endpoint_id=ep_id)
    await o.call("POST", MSG + "/endpoint/{endpoint_id}/resend", app_id=app_id, msg_id=msg_id, endpoint_id=ep_id)
    recovery = await o.call("POST", EP + "/recover", body={"since": since, "until": None}, app_id=app_id,
                            endpoint_id=ep_id)  # fmt: skip
    assert recovery.status_code == 202, recovery.text
    replay = await o.call("POST", EP + "/replay-missing", body={"since": since, "until": None}, app_id=app_id,
                          endpoint_id=ep_id)  # fmt: skip
    assert replay.status_code == 202 and replay.json()["task"] == "endpoint.replay", replay.text
    task = "/api/v1/background-task"
    listed = await o.call("GET", task, query={"task": "endpoint.recover", "limit": 5, "order": "descending"})
    assert [t["id"] for t in listed.json()["data"]] == [recovery.json()["id"]]
    assert (await o.call("GET", task, query={"status": "failed"})).json()["data"] == []
    assert (await o.call("GET", task + "/{task_id}", task_id=recovery.json()["id"])).status_code == 200
    unknown = to_svix(IdKind.BACKGROUND_TASK, generate_id())
    assert (await o.call("GET", task + "/{task_id}", task_id=unknown)).status_code == 404
    await o.call("DELETE", MSG + "/attempt/{attempt_id}/content", app_id=app_id, msg_id=msg_id, attempt_id=attempt_id)
    await o.call("DELETE", MSG + "/content", app_id=app_id, msg_id=msg_id)
    # Tokens
    portal = {"featureFlags": [], "application": None}
    access = await o.call("POST", "/api/v1/auth/app-portal-access/{app_id}", body=portal, app_id=app_id)
    as_app = {"Authorization": "Bearer " + access.json()["token"]}
    assert (await o.call("GET", A, app_id=app_id, headers=as_app)).status_code == 200
    assert (await o.call("POST", "/api/v1/auth/logout", headers=as_app)).status_code == 204
    after_logout = await o.call("GET", A + "/endpoint", app_id=app_id, headers=as_app)
    assert after_logout.status_code == 401, "logout revoked it"
    narrowed = {"capabilities": ["ViewBase", "CreateAttempts"], "readOnly": None, "expiry": 3600,
                "featureFlags": ["beta"], "sessionId": "s1", "application": None}  # fmt: skip
    viewer = await o.call("POST", "/api/v1/auth/app-portal-access/{app_id}", body=narrowed, app_id=app_id)
    as_viewer = {"Authorization": "Bearer " + viewer.json()["token"]}
    assert (await o.call("GET", EP + "/secret", app_id=app_id, endpoint_id=ep_id, headers=as_viewer)).status_code == 403
    expire_all = "/api/v1/auth/app/{app_id}/expire-all"
    assert (await o.call("POST", expire_all, body={"expiry": 0, "sessionIds": []}, app_id=app_id)).status_code == 204
    await o.call("POST", expire_all, body={"expiry": None, "sessionIds": ["s1"]}, app_id=app_id)  # 422
    assert o.differs("POST /api/v1/auth/app/{app_id}/expire-all", "request sessionIds")
    still = await o.call("GET", A + "/endpoint", app_id=app_id, headers=as_viewer)
    assert still.status_code == 401, "expire-all revoked it"
    await o.call("POST", "/api/v1/auth/dashboard-access/{app_id}", app_id=app_id)
    # Operational webhooks
    op_in = {"url": url, "description": "ops", "throttleRate": None, "uid": "ops-ep", "disabled": False,
             "eventTypes": ["endpoint.disabled"], "secret": None, "metadata": {},
             "headers": {"x-ops": "1"}}  # fmt: skip
    made = await o.call("POST", OPS, body=op_in)
    assert made.status_code == 201, made.text
    op_id = made.json()["id"]
    await o.call("GET", OPS, query={"limit": 5, "order": "ascending"})
    await o.call("GET", OPS + "/{endpoint_id}", endpoint_id=op_id)
    op_update = {k: v for k, v in op_in.items() if k not in ("secret", "headers")}
    await o.call("PUT", OPS + "/{endpoint_id}", body=op_update, endpoint_id=op_id)
    await o.call("PUT", OPS + "/{endpoint_id}/headers", body={"headers": {"x-ops": "2"}}, endpoint_id=op_id)
    await o.call("GET", OPS + "/{endpoint_id}/headers", endpoint_id=op_id)
    await o.call("GET", OPS + "/{endpoint_id}/secret", endpoint_id=op_id)
    await o.call("POST", OPS + "/{endpoint_id}/secret/rotate", body={"key": None, "gracePeriodSeconds": None},
                 endpoint_id=op_id)  # fmt: skip
    await o.call("DELETE", OPS + "/{endpoint_id}", endpoint_id=op_id)
    # Errors every operation may answer
    await o.call("GET", "/api/v1/app", headers={"Authorization": "Bearer wrong"})  # 401
    await o.call("DELETE", EP, app_id=app_id, endpoint_id=ep_id)
    await o.call("DELETE", A, app_id=app_id)
    await o.call("POST", "/api/v1/auth/logout")
    await asyncio.sleep(0)


def readme_rows() -> list[str]:
    """The README's table of deliberate differences, one row per ``DIFFERENCES`` entry."""
    return [f"| `{d.operation}` | {d.field} | {d.why} |" for d in DIFFERENCES]


def test_the_readme_lists_every_deliberate_difference() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [row for row in readme_rows() if row not in readme]
    assert not missing, "README's Svix differences table lacks:\n" + "\n".join(missing)
