"""The Outpost dialect through the official outpost-sdk, over the whole pipeline: real broker, chDB,
router, delivery worker, projector and real receivers on 127.0.0.1. Tenants and destinations, publish
with idempotency, events, attempts with every include and cursors both ways, retry, tenant-token
isolation, and the Attempt of seed 000 field for field.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import httpx
import pytest
from outpost_sdk import Outpost, errors
from standardwebhooks import Webhook

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.openapi import OpenApiDocument
from tests.support.receivers import Reply
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e
T = TypeVar("T")
# A copy of ../shared/seeds/000_*, kept with the tests so CI reads the same text.
SEED_000 = Path(__file__).resolve().parents[1] / "support" / "seeds" / "000_adc269a3adfb7818.txt"


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def outpost(api: ServedApi, token: str | None = None) -> Outpost:
    return Outpost(server_url=f"{api.url}/api/v1", api_key=token or api.token, async_client=api.recording_client())


async def test_tenants_and_destinations_through_the_sdk(api: ServedApi, receivers: ReceiverFactory) -> None:
    sdk = outpost(api)
    created = await sdk.tenants.upsert_async(tenant_id="acme", body={"metadata": {"plan": "pro"}})
    assert (created.id, created.destinations_count, created.metadata) == ("acme", 0, {"plan": "pro"})
    updated = await sdk.tenants.upsert_async(tenant_id="acme", body={"metadata": {"plan": "team"}})
    assert updated.metadata == {"plan": "team"} and updated.created_at == created.created_at
    await sdk.tenants.upsert_async(tenant_id="globex")
    # The tenant is the application the Svix dialect sees under that uid.
    assert (await api.svix.application.get("acme")).uid == "acme"

    receiver = await receivers.plain()
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    dest = await sdk.destinations.create_async(tenant_id="acme", body={
        "type": "webhook", "id": "orders", "topics": ["order.created"], "config": {"url": receiver.url},
        "filter": {"data": {"amount": {"$gte": 10}}}, "credentials": {"secret": secret}, "metadata": {"team": "a"},
    })  # fmt: skip
    assert (dest.id, dest.type, dest.topics, dest.config.url) == ("orders", "webhook", ["order.created"], receiver.url)
    assert dest.filter_ == {"data": {"amount": {"$gte": 10}}} and dest.credentials.secret == secret
    assert dest.disabled_at is None and dest.metadata == {"team": "a"}
    every = await sdk.destinations.create_async(
        tenant_id="acme", body={"type": "webhook", "topics": "*", "config": {"url": receiver.url}}
    )
    assert every.topics == "*" and every.id.startswith("ep_") and every.credentials.secret.startswith("whsec_")
    assert [d.id for d in await sdk.destinations.list_async(tenant_id="acme")] == ["orders", every.id]
    assert [d.id for d in await sdk.destinations.list_async(tenant_id="acme", topics=["order.created"])] == [
        "orders", every.id]  # fmt: skip

    disabled = await sdk.destinations.disable_async(tenant_id="acme", destination_id="orders")
    assert disabled.disabled_at is not None
    enabled = await sdk.destinations.enable_async(tenant_id="acme", destination_id="orders")
    assert enabled.disabled_at is None
    changed = await sdk.destinations.update_async(tenant_id="acme", destination_id="orders", body={
        "type": "webhook", "topics": ["order.created", "order.paid"], "filter": None,
        "credentials": {"rotate_secret": True}, "metadata": {"team": None, "tier": "1"},
    })  # fmt: skip
    assert changed.topics == ["order.created", "order.paid"] and changed.filter_ is None
    assert changed.credentials.previous_secret == secret and changed.credentials.secret != secret
    assert changed.metadata == {"tier": "1"}
    assert (await sdk.destinations.get_async(tenant_id="acme", destination_id="orders")).topics == changed.topics
    tenant = await sdk.tenants.get_async(tenant_id="acme")
    assert tenant.destinations_count == 2 and tenant.topics == ["*", "order.created", "order.paid"]

    page = await sdk.tenants.list_async(request={"limit": 1})
    assert [t.id for t in page.models] == ["globex"] and page.count == 2 and page.pagination.prev_cursor is None
    older = await sdk.tenants.list_async(request={"limit": 1, "next_cursor": page.pagination.next_cursor})
    assert [t.id for t in older.models] == ["acme"] and older.pagination.next_cursor is None
    back = await sdk.tenants.list_async(request={"limit": 1, "prev_cursor": older.pagination.prev_cursor})
    assert [t.id for t in back.models] == ["globex"] and back.pagination.prev_cursor is None

    # Validation: Outpost's 422 naming the field; a bad query parameter is a 400.
    with pytest.raises(errors.APIErrorResponse) as caught:
        await sdk.destinations.create_async(tenant_id="acme", body={
            "type": "webhook", "topics": "*", "config": {"url": "ftp://example"}})  # fmt: skip
    assert caught.value.data.status == 422 and "config.url" in caught.value.data.data[0]
    with pytest.raises(errors.APIErrorResponse) as caught:
        bad_filter = {"type": "webhook", "topics": "*", "config": {"url": receiver.url}, "filter": {"a": {"$gtt": 1}}}
        await sdk.destinations.create_async(tenant_id="acme", body=bad_filter)
    assert caught.value.data.status == 422 and "filter" in caught.value.data.data[0]
    with pytest.raises(errors.BadRequestError):
        await sdk.tenants.list_async(request={"limit": 101})
    with pytest.raises(errors.UnauthorizedError):
        await outpost(api, "wrong-token").tenants.get_async(tenant_id="acme")

    # A tenant token sees its own tenant only: another tenant's ids answer 404.
    token = await sdk.tenants.get_token_async(tenant_id="globex")
    assert token.tenant_id == "globex"
    scoped = outpost(api, token.token)
    assert (await scoped.tenants.get_async(tenant_id="globex")).id == "globex"
    assert [t.id for t in (await scoped.tenants.list_async(request={})).models] == ["globex"]
    with pytest.raises(errors.NotFoundError):
        await scoped.tenants.get_async(tenant_id="acme")
    with pytest.raises(errors.NotFoundError):
        await scoped.destinations.get_async(tenant_id="acme", destination_id="orders")
    with pytest.raises(errors.NotFoundError):
        await scoped.destinations.list_async(tenant_id="acme")

    assert (await sdk.destinations.delete_async(tenant_id="acme", destination_id=every.id)).success
    with pytest.raises(errors.NotFoundError):
        await sdk.destinations.get_async(tenant_id="acme", destination_id=every.id)
    assert (await sdk.tenants.delete_async(tenant_id="globex")).success
    with pytest.raises(errors.NotFoundError):
        await sdk.tenants.get_async(tenant_id="globex")
    assert await responses_match_the_document(api) >= 20


async def responses_match_the_document(api: ServedApi) -> int:
    """Every answer the SDK got (errors included) against /openapi.json; how many were checked."""
    async with aiohttp.ClientSession() as session:
        return api.check_responses(await OpenApiDocument.fetch(session, api.url))


def seed_000_fields() -> list[str]:
    """The field names of seed 000's table: the Attempt every answer must carry."""
    return re.findall(r"^\| `(\w+)`", SEED_000.read_text(), re.MULTILINE)


async def test_publish_events_attempts_includes_cursors_and_retry(api: ServedApi, receivers: ReceiverFactory) -> None:
    sdk = outpost(api)
    ok = await receivers.plain(lambda _: Reply(200, b'{"status":"ok"}', {"content-type": "application/json"}))
    failing = await receivers.plain(lambda _: Reply(500, b"boom"))
    await sdk.tenants.upsert_async(tenant_id="acme")
    await sdk.tenants.upsert_async(tenant_id="globex")
    good = await sdk.destinations.create_async(tenant_id="acme", body={
        "type": "webhook", "id": "good", "topics": "*", "config": {"url": ok.url}})  # fmt: skip
    await sdk.destinations.create_async(tenant_id="acme", body={
        "type": "webhook", "id": "bad", "topics": ["order.created"], "config": {"url": failing.url},
        "filter": {"data": {"amount": {"$gte": 10}}}})  # fmt: skip

    first = await sdk.publish_async(request={"tenant_id": "acme", "id": "evt-1", "topic": "order.created",
                                             "data": {"amount": 42}, "metadata": {"source": "shop"}})  # fmt: skip
    assert (first.id, first.duplicate, sorted(first.destination_ids)) == ("evt-1", False, ["bad", "good"])
    again = await sdk.publish_async(request={"tenant_id": "acme", "id": "evt-1", "topic": "order.created",
                                             "data": {"amount": 42}})  # fmt: skip
    assert again.duplicate and again.id == "evt-1"
    small = await sdk.publish_async(request={"tenant_id": "acme", "topic": "order.created", "data": {"amount": 1}})
    assert small.destination_ids == ["good"] and small.id.startswith("msg_")
    for n in range(3):
        await sdk.publish_async(request={"tenant_id": "acme", "topic": "order.paid", "data": {"n": n}})

    [delivered] = [r for r in await ok.wait_for(5) if r.headers["webhook-id"] and b"42" in r.body]
    Webhook(good.credentials.secret).verify(delivered.body, delivered.headers)
    await failing.wait_for(1)
    await asyncio.sleep(1)
    assert len(ok.received) == 5, "the duplicate publish was not delivered again"

    event = await sdk.events.get_async(event_id="evt-1", tenant_id="acme")
    assert (event.id, event.topic, event.data, event.tenant_id) == ("evt-1", "order.created", {"amount": 42}, "acme")
    events = await eventually(lambda: sdk.events.list_async(request={"tenant_id": "acme", "limit": 10}),
                              lambda page: len(page.models) == 5)  # fmt: skip
    oldest = events.models[-1]
    assert oldest.id == "evt-1" and sorted(oldest.matched_destination_ids) == ["bad", "good"]
    topic_page = await sdk.events.list_async(request={"tenant_id": "acme", "topic": ["order.paid"]})
    assert len(topic_page.models) == 3

    await eventually(
        lambda: sdk.attempts.list_async(request={"tenant_id": "acme", "destination_id": ["bad"]}),
        lambda page: len(page.models) >= 1,
    )
    # Cursors both ways over the good destination's five attempts (the bad one's retries keep coming):
    # pages of 2 cover each attempt once, in order, and walking back retraces them.
    good_only = {"tenant_id": "acme", "destination_id": ["good"]}
    attempts = await eventually(lambda: sdk.attempts.list_async(request=good_only), lambda p: len(p.models) == 5)
    everything = [a.id for a in attempts.models]
    pages, cursor = [], None
    while True:
        request: dict[str, Any] = {**good_only, "limit": 2, **({"next_cursor": cursor} if cursor else {})}
        page = await sdk.attempts.list_async(request=request)
        pages.append(page)
        cursor = page.pagination.next_cursor
        if cursor is None:
            break
    walked = [a.id for p in pages for a in p.models]
    assert walked == everything and [len(p.models) for p in pages] == [2, 2, 1]
    assert pages[0].pagination.prev_cursor is None and pages[1].pagination.prev_cursor is not None
    two = {**good_only, "limit": 2}
    back = await sdk.attempts.list_async(request={**two, "prev_cursor": pages[2].pagination.prev_cursor})
    assert [a.id for a in back.models] == [a.id for a in pages[1].models] and back.pagination.next_cursor
    first = await sdk.attempts.list_async(request={**two, "prev_cursor": back.pagination.prev_cursor})
    assert [a.id for a in first.models] == [a.id for a in pages[0].models] and first.pagination.prev_cursor is None
    ascending = await sdk.attempts.list_async(request={**good_only, "direction": "asc", "limit": 3})
    assert [a.id for a in ascending.models] == everything[::-1][:3]
    rest = await sdk.attempts.list_async(
        request={**good_only, "direction": "asc", "limit": 3, "next_cursor": ascending.pagination.next_cursor}
    )
    assert [a.id for a in rest.models] == everything[::-1][3:] and rest.pagination.next_cursor is None
    with pytest.raises(errors.BadRequestError):
        await sdk.attempts.list_async(request={**good_only, "next_cursor": "not-a-cursor"})

    include = ["event.data", "response_data", "destination"]
    failed = await sdk.attempts.list_async(
        request={"tenant_id": "acme", "status": "failed", "event_id": ["evt-1"], "include": include}
    )
    attempt = failed.models[-1]  # the first attempt; its retries are newer
    numbers = [a.attempt_number for a in failed.models]
    assert numbers == list(range(len(numbers), 0, -1)), "retries count up from 1, newest first"
    assert {a.destination_id for a in failed.models} == {"bad"} and attempt.status == "failed"
    assert (attempt.code, attempt.manual, attempt.attempt_number, attempt.event_id) == ("500", False, 1, "evt-1")
    assert attempt.response_data["status_code"] == 500 and attempt.response_data["body"] == "boom"
    assert attempt.event.data == {"amount": 42} and attempt.event.topic == "order.created"
    assert attempt.destination.id == "bad" and attempt.destination.target == failing.url
    summary = await sdk.attempts.get_async(attempt_id=attempt.id, tenant_id="acme", include=["event"])
    assert summary.event.id == "evt-1" and summary.event.topic == "order.created"
    plain = await sdk.attempts.get_async(attempt_id=attempt.id, tenant_id="acme")
    assert "response_data" not in plain.model_fields_set and "event" not in plain.model_fields_set

    # Seed 000, field for field, in the raw answer (with include=event and include=response_data).
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as raw:
        answer = await raw.get(f"/api/v1/attempts/{attempt.id}?tenant_id=acme&include=event&include=response_data")
        fields = answer.json()
        assert set(seed_000_fields()) <= set(fields), set(seed_000_fields()) - set(fields)
        assert "data" not in fields["event"] and fields["event"]["id"] == "evt-1", "include=event is the summary"
        bare = (await raw.get(f"/api/v1/attempts/{attempt.id}?tenant_id=acme")).json()
        assert "response_data" not in bare and "event" not in bare
        assert datetime.fromisoformat(bare["time"]) <= datetime.now(UTC)

    by_destination = await sdk.destinations.list_attempts_async(request={
        "tenant_id": "acme", "destination_id": "good", "event_id": ["evt-1"]})  # fmt: skip
    [good_attempt] = by_destination.models
    assert good_attempt.status == "success" and good_attempt.code == "200"
    one = await sdk.destinations.get_attempt_async(tenant_id="acme", destination_id="good",
                                                   attempt_id=good_attempt.id, include=["response_data"])  # fmt: skip
    assert one.response_data["body"] == '{"status":"ok"}'
    with pytest.raises(errors.NotFoundError):
        await sdk.destinations.get_attempt_async(tenant_id="acme", destination_id="bad", attempt_id=good_attempt.id)

    # Retry: a manual attempt, delivered, listed with manual: true.
    assert (await sdk.retry_async(request={"event_id": "evt-1", "destination_id": "good"})).success
    await ok.wait_for(6)
    retried = await eventually(
        lambda: sdk.destinations.list_attempts_async(
            request={"tenant_id": "acme", "destination_id": "good", "event_id": ["evt-1"]}
        ),
        lambda page: len(page.models) == 2,
    )
    assert [a.manual for a in retried.models] == [True, False]
    with pytest.raises(errors.NotFoundError):
        await sdk.retry_async(request={"event_id": "no-such-event", "destination_id": "good"})

    # Tenant tokens: another tenant's ids answer 404, and lists show only the token's tenant.
    globex = outpost(api, (await sdk.tenants.get_token_async(tenant_id="globex")).token)
    with pytest.raises(errors.NotFoundError):
        await globex.events.get_async(event_id="evt-1", tenant_id="acme")
    with pytest.raises(errors.NotFoundError):
        await globex.attempts.get_async(attempt_id=attempt.id, tenant_id="acme")
    with pytest.raises(errors.NotFoundError):
        await globex.retry_async(request={"event_id": "evt-1", "destination_id": "good"})
    assert (await globex.attempts.list_async(request={"tenant_id": "acme"})).models == []
    assert (await globex.events.list_async(request={})).models == []
    acme = outpost(api, (await sdk.tenants.get_token_async(tenant_id="acme")).token)
    assert (await acme.attempts.get_async(attempt_id=attempt.id)).id == attempt.id
    with pytest.raises(errors.UnauthorizedError):
        await acme.publish_async(request={"tenant_id": "acme", "topic": "x", "data": {}})
    assert await responses_match_the_document(api) >= 30


async def test_publish_to_one_destination_without_retries_and_healthz_over_plain_http(
    api: ServedApi, receivers: ReceiverFactory
) -> None:
    """Outpost's field names over plain HTTP: ``destination_id`` routes to that destination alone (if it
    matches), ``eligible_for_retry: false`` gets one attempt and no automatic retry, a destination's
    ``delivery_metadata`` goes with every attempt, ``/healthz`` needs no token."""
    failing = await receivers.plain(lambda _: Reply(500, b"boom"))
    other = await receivers.plain()
    async with httpx.AsyncClient(base_url=f"{api.url}/api/v1", headers={"Authorization": f"Bearer {api.token}"}) as raw:
        assert (await raw.put("/tenants/acme", json={})).status_code in (200, 201)
        for body in (
            {
                "type": "webhook",
                "id": "flaky",
                "topics": "*",
                "config": {"url": failing.url},
                "delivery_metadata": {"app-id": "shop", "region": "eu"},
            },
            {"type": "webhook", "id": "other", "topics": "*", "config": {"url": other.url}},
            {"type": "webhook", "id": "orders", "topics": ["order.created"], "config": {"url": other.url}},
        ):
            assert (await raw.post("/tenants/acme/destinations", json=body)).status_code == 201

        async def publish(**fields: Any) -> dict[str, Any]:
            answer = await raw.post("/publish", json={"tenant_id": "acme", "topic": "order.paid", "data": {}, **fields})
            assert answer.status_code == 202, answer.text
            return answer.json()

        once = await publish(id="evt-once", destination_id="flaky", eligible_for_retry=False)
        assert once["destination_ids"] == ["flaky"]
        retried = await publish(id="evt-retried", destination_id="flaky")
        assert retried["destination_ids"] == ["flaky"]
        assert (await publish(destination_id="orders"))["destination_ids"] == [], "named, but not subscribed"
        assert (await publish(destination_id="no-such"))["destination_ids"] == []

        # The tests' schedule is 0s,1s,2s, three attempts: the eligible event gets all three, the other one.
        await failing.wait_for(4, timeout_s=30)
        await asyncio.sleep(2)
        bodies = Counter(r.headers["webhook-id"] for r in failing.received)
        assert sorted(bodies.values()) == [1, 3], bodies
        assert other.received == [], "routed to the named destination alone"
        # delivery_metadata rides on every attempt as x-outpost-<key> headers; PATCH merges it (null drops a key).
        assert all(r.headers.get("x-outpost-app-id") == "shop" and r.headers.get("x-outpost-region") == "eu"
                   for r in failing.received)  # fmt: skip
        change = {"type": "webhook", "delivery_metadata": {"region": None, "tier": "gold"}}
        patched = await raw.patch("/tenants/acme/destinations/flaky", json=change)
        assert patched.status_code == 200, patched.text
        assert patched.json()["delivery_metadata"] == {"app-id": "shop", "tier": "gold"}
        shown = (await raw.get("/tenants/acme/destinations/flaky")).json()
        assert shown["delivery_metadata"] == {"app-id": "shop", "tier": "gold"}
        unsendable = {"type": "webhook", "topics": "*", "config": {"url": other.url}, "delivery_metadata": {"a b": "x"}}
        bad = await raw.post("/tenants/acme/destinations", json=unsendable)
        assert bad.status_code == 422 and "delivery_metadata" in bad.text, bad.text
        event = (await raw.get("/events/evt-once", params={"tenant_id": "acme"})).json()
        assert event["eligible_for_retry"] is False
        assert (await raw.get("/events/evt-retried", params={"tenant_id": "acme"})).json()["eligible_for_retry"]

        # A manual retry still goes for the event not eligible for automatic ones.
        manual = await raw.post("/retry", json={"event_id": "evt-once", "destination_id": "flaky"})
        assert manual.status_code == 202, manual.text
        [*_, last] = await failing.wait_for(5)
        assert last.headers.get("x-outpost-tier") == "gold" and "x-outpost-region" not in last.headers

    async with httpx.AsyncClient(base_url=api.url) as anonymous:
        for path in ("/api/v1/healthz", "/healthz"):
            health = await anonymous.get(path)
            assert health.status_code == 200, health.text
            body = health.json()
            assert body["status"] == "healthy" and datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))
            assert body["workers"] and all(w == {"status": "healthy"} for w in body["workers"].values())
