"""Hookdeck Outpost's own OpenAPI document as the oracle for hookstream's Outpost dialect.

Every operation the dialect serves is called over real HTTP with plain httpx
(an SDK would hide the wire names), with bodies that name every field of
Outpost's request schema by its Outpost name and validate against it; every
answer's status must be one Outpost declares and its body must match
Outpost's schema for that status (names, types, required fields,
nullability, enum values, error bodies), and every field it holds must be one
Outpost's schema names. The document is the copy in
``tests/support/outpost_openapi`` (README there: repository, tag, path,
sha256). ``DIFFERENCES`` is the whole list of where hookstream deliberately
differs; the README's Outpost section shows the same list, and
``NOT_SERVED`` the operations of the document hookstream does not serve.
The test prints how many operations and fields it checked.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from svix.api import EventTypeIn

from hookstream.api.openapi import template
from hookstream.api.outpost import OPERATIONS, PREFIX
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.outpost_oracle import Difference, Oracle, document
from tests.support.peer_oracle import operations
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.integration

T = "/tenants/{tenant_id}"
D = T + "/destinations/{destination_id}"
SERVER = "as Outpost's server answers it"
# (operation, field, why): the README's "Deliberate differences from Outpost's document" lists the same rows.
DIFFERENCES = (
    Difference("POST " + T + "/destinations", "status 400",
               "a destination id the tenant already has is refused with 400 {status, message}, " + SERVER
               + " (tenantstore.ErrDuplicateDestination); the document declares no status for it"),
    Difference("POST /publish", "status 403",
               "a tenant token may not publish: 403, " + SERVER + " for an admin-only route (auth_middleware.go); "
               "the document declares 401 only"),
    Difference("GET /tenants/{tenant_id}/token", "status 403",
               "a tenant token may not mint tenant tokens: 403, " + SERVER + " for an admin-only route"),
    Difference("GET /tenants/{tenant_id}/portal", "status 403",
               "a tenant token may not open portals (each carries a fresh tenant token): 403, " + SERVER
               + " for an admin-only route"),
    Difference("POST /publish", "status 422 body",
               "the document declares no body; the error body {status, message, data} names the topic problem, "
               + SERVER + " (publish_handlers.go)"),
    Difference("POST /retry", "status 400 body",
               "the document declares no body; the error body says why, " + SERVER + " (a disabled destination in "
               "Outpost's words); where Outpost refuses a destination the event does not match, hookstream refuses "
               "one that had no attempt of the event"),
    Difference("POST /publish", "behaviour",
               "an id already published for the tenant within HOOKSTREAM_DEDUPE_WINDOW answers 202 with "
               "duplicate: true, as Outpost's server does once the first publish is processed; the document's 409 "
               "(Outpost's: the first publish of that id still in flight) is never answered"),
    Difference("POST " + T + "/destinations", "request updated_at",
               "accepted and ignored: updated_at is the time of the destination's last write on the config log"),
    Difference("POST " + T + "/destinations", "behaviour",
               "disabled_at given on create or update disables the destination; the disabled_at answered is the "
               "time of the write (hookstream keeps a disabled flag, not a time)"),
    *(Difference(op, "undeclared latency_ms" if "{attempt_id}" in op else "undeclared models.*.latency_ms",
                 "the attempt's total time in milliseconds: outpost-sdk 1.7.0's Attempt model reads it")
      for op in ("GET /attempts", "GET /attempts/{attempt_id}", "GET " + D + "/attempts",
                 "GET " + D + "/attempts/{attempt_id}")),
    *(Difference(op, f"undeclared {where}",
                 "the destination's tenant, " + SERVER + " (models.Destination's tenant_id); the document's "
                 "Destination does not name it")
      for op, where in (("POST " + T + "/destinations", "tenant_id"), ("GET " + T + "/destinations", "*.tenant_id"),
                        ("GET " + D, "tenant_id"), ("PATCH " + D, "tenant_id"), ("PUT " + D + "/enable", "tenant_id"),
                        ("PUT " + D + "/disable", "tenant_id"), ("GET /attempts", "models.*.destination.tenant_id"),
                        ("GET /attempts/{attempt_id}", "destination.tenant_id"),
                        ("GET " + D + "/attempts", "models.*.destination.tenant_id"),
                        ("GET " + D + "/attempts/{attempt_id}", "destination.tenant_id"))),
    Difference("GET /events", "undeclared models.*.eligible_for_retry",
               "whether a failed delivery is retried automatically (publish's eligible_for_retry), " + SERVER
               + " (log_handlers.go APIEvent); Event does not name it, EventSummary does"),
    Difference("GET /events/{event_id}", "undeclared eligible_for_retry",
               "whether a failed delivery is retried automatically (publish's eligible_for_retry), " + SERVER
               + " (log_handlers.go APIEvent); Event does not name it, EventSummary does"),
    Difference("GET /attempts", "behaviour",
               "include=destination answers the destination with credentials: {} (its signing secret is shown "
               "by the destination routes only); Outpost's server shows the secret there too"),
)  # fmt: skip
NOT_SERVED = {
    ("GET", "/config"): "Outpost's managed configuration (TOPICS, ...): hookstream's configuration is its settings "
    "and the config log, topics are Svix event types",
    ("PATCH", "/config"): "as GET /config",
    ("GET", "/destination-types"): "hookstream delivers to webhook destinations only",
    ("GET", "/destination-types/{type}"): "hookstream delivers to webhook destinations only",
    ("GET", "/metrics/events"): "hookstream's figures are on /metrics (Prometheus) and the v1 latency routes",
    ("GET", "/metrics/attempts"): "hookstream's figures are on /metrics (Prometheus) and the v1 latency routes",
}


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def _served() -> set[tuple[str, str]]:
    return {(op.method, template(op.path)) for op in OPERATIONS}


def test_every_outpost_operation_is_served_or_listed_as_not_served() -> None:
    documented = operations(document())
    assert documented - _served() == set(NOT_SERVED), "update NOT_SERVED (and the README's Outpost section)"
    assert not _served() - documented, f"served but not in Outpost's document: {sorted(_served() - documented)}"


async def test_every_outpost_operation_hookstream_serves_matches_outposts_document(
    api: ServedApi, receivers: ReceiverFactory
) -> None:
    receiver = await receivers.plain()
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api.token}"}, timeout=30) as http:
        oracle = Oracle(http, api.url + PREFIX, (document(),), DIFFERENCES)
        await _scenario(oracle, api, receiver.url)
    assert not oracle.failures, "\n".join(oracle.failures)
    missed = _served() - oracle.operations
    assert not missed, f"served but not checked: {sorted(missed)}"
    unused = set(DIFFERENCES) - oracle.used_differences
    assert not unused, f"listed as differences but no longer different: {unused}"
    print(f"\nOutpost oracle: {len(oracle.operations)} operations, {len(oracle.checked_fields)} fields checked, "
          f"{len(DIFFERENCES)} deliberate differences, {len(NOT_SERVED)} operations not served")  # fmt: skip


async def _scenario(o: Oracle, api: ServedApi, url: str) -> None:
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await o.call("GET", "/healthz")).status_code in (200, 503)
    # No topics configured: any topic is accepted (Outpost's default), on destinations and on publish.
    assert (await o.call("GET", "/topics")).json() == []
    # Tenants
    made = await o.call("PUT", T, body={"metadata": {"plan": "pro"}}, tenant_id="acme")
    assert made.status_code == 201, made.text
    assert (await o.call("PUT", T, body={"metadata": {"plan": "team"}}, tenant_id="acme")).status_code == 200
    assert (await o.call("PUT", T, body={"metadata": None}, tenant_id="globex")).status_code == 201
    assert (await o.call("PUT", T, body={"metadata": {"n": 1}}, tenant_id="acme", invalid=True)).status_code == 422
    page = await o.call("GET", "/tenants", query={"limit": 1, "dir": "asc"})
    following = {"limit": 1, "dir": "asc", "next": page.json()["pagination"]["next"]}
    assert [t["id"] for t in (await o.call("GET", "/tenants", query=following)).json()["models"]] == ["globex"]
    assert (await o.call("GET", "/tenants", query={"id": "acme", "dir": "desc"})).status_code == 200
    assert (await o.call("GET", "/tenants", query={"next": "not a cursor"})).status_code == 400
    assert (await o.call("GET", T, tenant_id="acme")).json()["metadata"] == {"plan": "team"}
    assert (await o.call("GET", T, tenant_id="nobody")).status_code == 404
    token = (await o.call("GET", T + "/token", tenant_id="acme")).json()["token"]
    as_tenant = {"Authorization": f"Bearer {token}"}
    assert (await o.call("GET", T + "/token", tenant_id="nobody")).status_code == 404
    assert (await o.call("GET", T + "/token", tenant_id="acme", headers=as_tenant)).status_code == 403
    portal = (await o.call("GET", T + "/portal", query={"theme": "dark"}, tenant_id="acme")).json()
    assert portal["tenant_id"] == "acme" and "/console/portal#key=hs_app_" in portal["redirect_url"]
    assert (await o.call("GET", T + "/portal", tenant_id="nobody")).status_code == 404
    assert (await o.call("GET", T + "/portal", tenant_id="acme", headers=as_tenant)).status_code == 403
    # Destinations: every field of DestinationCreateWebhook, by Outpost's names
    now = datetime.now(UTC).replace(microsecond=0)
    dest_in = {
        "id": "orders", "type": "webhook", "topics": ["order.created"], "filter": {"data": {"amount": {"$gte": 10}}},
        "config": {"url": url, "custom_headers": '{"x-team":"a"}'},
        "credentials": {"secret": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        "delivery_metadata": {"app-id": "shop"}, "metadata": {"team": "a"},
        "created_at": (now - timedelta(days=1)).isoformat(), "updated_at": (now - timedelta(days=1)).isoformat(),
        "disabled_at": None,
    }  # fmt: skip
    made = await o.call("POST", T + "/destinations", body=dest_in, tenant_id="acme")
    assert made.status_code == 201, made.text
    assert made.json()["created_at"].startswith((now - timedelta(days=1)).date().isoformat())
    assert o.differs("POST " + T + "/destinations", "request updated_at")
    every = {"type": "webhook", "topics": "*", "config": {"url": url}}
    every_id = (await o.call("POST", T + "/destinations", body=every, tenant_id="acme", partial=True)).json()["id"]
    off = {**dest_in, "id": "off", "topics": ["anything.at.all"], "disabled_at": now.isoformat()}
    off_made = await o.call("POST", T + "/destinations", body=off, tenant_id="acme")
    assert off_made.json()["disabled_at"] is not None and o.differs("POST " + T + "/destinations", "behaviour")
    assert (await o.call("POST", T + "/destinations", body=dest_in, tenant_id="acme")).status_code == 400
    bad = {**dest_in, "id": "bad", "config": {"url": "ftp://x"}}
    assert (await o.call("POST", T + "/destinations", body=bad, tenant_id="acme")).status_code == 422
    assert (await o.call("POST", T + "/destinations", body=every, tenant_id="nobody", partial=True)).status_code == 404
    listed = await o.call("GET", T + "/destinations", query={"type": "webhook", "topics": "order.created"},
                          tenant_id="acme")  # fmt: skip
    assert [d["id"] for d in listed.json()] == ["orders", every_id], listed.text
    assert (await o.call("GET", T + "/destinations", tenant_id="nobody")).status_code == 404
    assert (await o.call("GET", D, tenant_id="acme", destination_id="orders")).status_code == 200
    assert (await o.call("GET", D, tenant_id="acme", destination_id="none")).status_code == 404
    # Every field of DestinationUpdateWebhook
    patch = {
        "type": "webhook", "topics": ["order.created", "order.paid"], "filter": {"data": {"amount": {"$gte": 5}}},
        "config": {"url": url, "custom_headers": '{"x-team":"b"}'}, "credentials": {"rotate_secret": True},
        "delivery_metadata": {"app-id": "shop", "gone": None}, "metadata": {"team": "b", "old": None},
        "disabled_at": None,
    }  # fmt: skip
    patched = await o.call("PATCH", D, body=patch, tenant_id="acme", destination_id="orders")
    assert "previous_secret" in patched.json()["credentials"], patched.text
    assert (await o.call("PATCH", D, body={"type": "webhook", "topics": []}, tenant_id="acme",
                         destination_id="orders", invalid=True)).status_code == 422  # fmt: skip
    nowhere = await o.call("PATCH", D, body={"type": "webhook"}, tenant_id="acme", destination_id="none", partial=True)
    assert nowhere.status_code == 404
    assert (await o.call("PUT", D + "/disable", tenant_id="acme", destination_id="off")).json()["disabled_at"]
    assert (await o.call("PUT", D + "/enable", tenant_id="acme", destination_id="orders")).status_code == 200
    assert (await o.call("PUT", D + "/enable", tenant_id="acme", destination_id="none")).status_code == 404
    assert (await o.call("PUT", D + "/disable", tenant_id="acme", destination_id="none")).status_code == 404
    # Publish: every field of PublishRequest; a topic nobody configured is accepted
    event_in = {
        "id": "evt-oracle-1", "tenant_id": "acme", "destination_id": "orders", "topic": "order.created",
        "eligible_for_retry": True, "time": datetime.now(UTC).isoformat(), "metadata": {"source": "crm"},
        "data": {"amount": 12},
    }  # fmt: skip
    sent = await o.call("POST", "/publish", body=event_in)
    assert (sent.status_code, sent.json()["destination_ids"]) == (202, ["orders"]), sent.text
    again = await o.call("POST", "/publish", body=event_in)
    assert again.json()["duplicate"] is True and o.differs("POST /publish", "behaviour")
    free = {**event_in, "id": "evt-free", "topic": "never.configured", "destination_id": every_id}
    assert (await o.call("POST", "/publish", body=free)).json()["destination_ids"] == [every_id]
    assert (await o.call("POST", "/publish", body={"tenant_id": "acme"}, invalid=True)).status_code == 422
    assert (await o.call("POST", "/publish", body=free, headers=as_tenant)).status_code == 403
    # Events and attempts
    listed_attempts = await eventually(
        lambda: o.call("GET", "/attempts", query={"tenant_id": "acme", "event_id": "evt-oracle-1"}),
        lambda r: len(r.json()["models"]) >= 1,
    )
    attempt_id = listed_attempts.json()["models"][0]["id"]
    window = {"time[gte]": since, "time[lte]": datetime.now(UTC).isoformat()}
    events = await o.call("GET", "/events", query={"tenant_id": "acme", "id": "evt-oracle-1",
                          "destination_id": "orders", "topic": "order.created", "limit": 5, "order_by": "time",
                          "dir": "desc", **window})  # fmt: skip
    assert [e["id"] for e in events.json()["models"]] == ["evt-oracle-1"], events.text
    assert (await o.call("GET", "/events", query={"tenant_id": "acme", "dir": "asc", "limit": 1})).status_code == 200
    await o.call("GET", "/events/{event_id}", query={"tenant_id": "acme"}, event_id="evt-oracle-1")
    assert (await o.call("GET", "/events/{event_id}", query={"tenant_id": "acme"}, event_id="none")).status_code \
        == 404  # fmt: skip
    everything = ["event.data", "response_data", "destination"]
    full = await o.call("GET", "/attempts", query={"tenant_id": "acme", "event_id": "evt-oracle-1",
                        "destination_id": "orders", "destination_type": "webhook", "status": "success",
                        "topic": "order.created", "limit": 5, "include": everything, "order_by": "time",
                        "dir": "desc", **window})  # fmt: skip
    assert full.json()["models"][0]["destination"]["credentials"] == {} and o.differs("GET /attempts", "behaviour")
    await o.call("GET", "/attempts", query={"tenant_id": "acme", "include": "event"})
    one = "/attempts/{attempt_id}"
    await o.call("GET", one, query={"tenant_id": "acme", "include": everything}, attempt_id=attempt_id)
    await o.call("GET", one, query={"tenant_id": "acme", "include": "event"}, attempt_id=attempt_id)
    assert (await o.call("GET", one, query={"tenant_id": "acme"}, attempt_id="atmpt_none")).status_code == 404
    await o.call("GET", D + "/attempts", query={"event_id": "evt-oracle-1", "status": "success",
                 "topic": "order.created", "limit": 5, "include": everything, "order_by": "time", "dir": "asc",
                 **window}, tenant_id="acme", destination_id="orders")  # fmt: skip
    await o.call("GET", D + "/attempts", tenant_id="acme", destination_id="none")
    await o.call("GET", D + "/attempts/{attempt_id}", query={"include": everything}, tenant_id="acme",
                 destination_id="orders", attempt_id=attempt_id)  # fmt: skip
    await o.call("GET", D + "/attempts/{attempt_id}", tenant_id="acme", destination_id=every_id, attempt_id=attempt_id)
    # Retry
    retry_in = {"event_id": "evt-oracle-1", "destination_id": "orders"}
    assert (await o.call("POST", "/retry", body=retry_in)).status_code == 202
    disabled = await o.call("POST", "/retry", body={**retry_in, "destination_id": "off"})
    assert disabled.json() == {
        "status": 400,
        "message": "Destination is disabled",
        "data": {"error": "destination_disabled"},
    }
    assert (await o.call("POST", "/retry", body={**retry_in, "event_id": "none"})).status_code == 404
    # Topics configured: publish needs one of them (Outpost: "Required if Outpost has been configured with topics")
    await api.svix.event_type.create(EventTypeIn(name="order.created", description="an order"))
    assert await eventually(lambda: o.call("GET", "/topics"), lambda r: r.json() == ["order.created"])
    assert (await o.call("POST", "/publish", body={**free, "id": "evt-unknown"})).status_code == 422
    no_topic = {k: v for k, v in free.items() if k != "topic"} | {"id": "evt-none"}
    assert (await o.call("POST", "/publish", body=no_topic, partial=True)).status_code == 422
    # Errors every operation may answer, and the deletes
    assert (await o.call("GET", "/tenants", headers={"Authorization": "Bearer wrong"})).status_code == 401
    assert (await o.call("DELETE", D, tenant_id="acme", destination_id="off")).json() == {"success": True}
    assert (await o.call("DELETE", D, tenant_id="acme", destination_id="off")).status_code == 404
    assert (await o.call("DELETE", T, tenant_id="globex")).json() == {"success": True}
    assert (await o.call("DELETE", T, tenant_id="globex")).status_code == 404


def readme_rows() -> list[str]:
    """The README's tables: one row per ``DIFFERENCES`` entry, one per operation not served."""
    return [f"| `{d.operation}` | {d.field} | {d.why} |" for d in DIFFERENCES] + [
        f"| `{method} {path}` | not served | {why} |" for (method, path), why in sorted(NOT_SERVED.items())
    ]


def test_the_readme_lists_every_deliberate_difference() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [row for row in readme_rows() if row not in readme]
    assert not missing, "README's Outpost differences table lacks:\n" + "\n".join(missing)
