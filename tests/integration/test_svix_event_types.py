"""Event types through the official svix SDK against the real API: CRUD, archive, expunge, paging, errors.

Real broker and chDB; every read is of the API's own config view, and the
last test starts a second API that rebuilds that view from the log alone.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml
from svix.api import (
    ApplicationIn,
    EventTypeDeleteOptions,
    EventTypeImportOpenApiIn,
    EventTypeIn,
    EventTypeListOptions,
    EventTypeOut,
    EventTypePatch,
    EventTypeUpsertIn,
    MessageIn,
    Ordering,
)
from svix.exceptions import HttpError

from hookstream.foundation.settings import Settings
from hookstream.log.topics import CONFIG, TopicNames
from tests.support.svix_api import ServedApi, events_on_log, served_api, status_of

pytestmark = pytest.mark.integration

SCHEMA = {"1": {"type": "object", "properties": {"amount": {"type": "integer"}}, "required": ["amount"]}}


async def _names(api: ServedApi, **options: Any) -> list[str]:
    listed = await api.svix.event_type.list(EventTypeListOptions(limit=250, **options))
    assert listed.done
    return [event_type.name for event_type in listed.data]


async def test_create_get_update_and_patch(api: ServedApi) -> None:
    types = api.svix.event_type
    created = await types.create(EventTypeIn(name="invoice.paid", description="An invoice was paid", schemas=SCHEMA,
                                             group_name="billing", feature_flags=["beta"]))  # fmt: skip
    assert (created.name, created.description, created.archived, created.deprecated) == (
        "invoice.paid", "An invoice was paid", False, False,
    )  # fmt: skip
    assert (created.schemas, created.group_name, created.feature_flags, created.feature_flag) == (
        SCHEMA, "billing", ["beta"], "beta",
    )  # fmt: skip
    assert created.created_at == created.updated_at
    assert await types.get("invoice.paid") == created

    replaced = await types.upsert("invoice.paid", EventTypeUpsertIn(description="Paid in full", deprecated=True))
    assert (replaced.description, replaced.deprecated, replaced.schemas, replaced.group_name) == (
        "Paid in full", True, None, None,
    ), "PUT replaces every field"  # fmt: skip
    assert replaced.created_at == created.created_at < replaced.updated_at

    patched = await types.patch("invoice.paid", EventTypePatch(schemas=SCHEMA, feature_flags=["a", "b"]))
    assert (patched.description, patched.deprecated, patched.schemas, patched.feature_flags) == (
        "Paid in full", True, SCHEMA, ["a", "b"],
    ), "PATCH changes only what it names"  # fmt: skip
    cleared = await types.patch("invoice.paid", EventTypePatch(schemas=None, group_name="g", deprecated=False))
    assert (cleared.schemas, cleared.group_name, cleared.deprecated, cleared.feature_flags) == (None, "g", False,
                                                                                                ["a", "b"])  # fmt: skip
    assert await types.get("invoice.paid") == cleared

    made = await types.upsert("invoice.voided", EventTypeUpsertIn(description="made by PUT"))
    assert (made.name, made.description, made.archived) == ("invoice.voided", "made by PUT", False)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api.token}"}) as raw:
        answer = await raw.put(f"{api.url}/api/v1/event-type/made.by.put/", json={"description": "new"})
        assert answer.status_code == 201, "PUT of a new name creates it"
        answer = await raw.put(f"{api.url}/api/v1/event-type/made.by.put", json={"description": "again"})
        assert answer.status_code == 200 and answer.json()["description"] == "again"


async def test_list_filters_and_pages_both_ways(api: ServedApi) -> None:
    names = [f"type.{n:02d}" for n in range(7)]
    for name in reversed(names):
        await api.svix.event_type.create(EventTypeIn(name=name, description=name, schemas=SCHEMA))
    await api.svix.event_type.delete("type.03")

    assert await _names(api) == [n for n in names if n != "type.03"], "archived types are left out by default"
    assert await _names(api, include_archived=True) == names
    assert await _names(api, include_archived=True, order=Ordering.DESCENDING) == names[::-1]
    listed = await api.svix.event_type.list(EventTypeListOptions(include_archived=True))
    assert all(t.schemas is None for t in listed.data), "lists leave schemas out unless with_content"
    listed = await api.svix.event_type.list(EventTypeListOptions(include_archived=True, with_content=True))
    assert all(t.schemas == SCHEMA for t in listed.data)

    pages: list[list[str]] = []
    listed = await api.svix.event_type.list(EventTypeListOptions(limit=3, include_archived=True))
    pages.append([t.name for t in listed.data])
    while not listed.done:
        listed = await api.svix.event_type.list(
            EventTypeListOptions(limit=3, include_archived=True, iterator=listed.iterator)
        )
        pages.append([t.name for t in listed.data])
    assert pages == [names[0:3], names[3:6], names[6:7]]

    back: list[list[str]] = []
    prev = listed.prev_iterator
    while True:
        listed = await api.svix.event_type.list(EventTypeListOptions(limit=3, include_archived=True, iterator=prev))
        back.append([t.name for t in listed.data])
        prev = listed.prev_iterator
        if listed.done:
            break
    assert back == [names[3:6], names[0:3]], "backwards pages come in list order, and end done"

    descending = await api.svix.event_type.list(EventTypeListOptions(limit=4, order=Ordering.DESCENDING))
    more = await api.svix.event_type.list(
        EventTypeListOptions(limit=4, order=Ordering.DESCENDING, iterator=descending.iterator)
    )
    live = [n for n in names if n != "type.03"]
    assert [t.name for t in descending.data + more.data] == live[::-1] and more.done


async def test_a_name_starting_with_a_dash_pages_forwards(api: ServedApi) -> None:
    for name in ("-a", "-b", "c"):
        await api.svix.event_type.create(EventTypeIn(name=name, description=""))
    first = await api.svix.event_type.list(EventTypeListOptions(limit=1))
    second = await api.svix.event_type.list(EventTypeListOptions(limit=1, iterator=first.iterator))
    third = await api.svix.event_type.list(EventTypeListOptions(limit=1, iterator=second.iterator))
    assert [p.data[0].name for p in (first, second, third)] == ["-a", "-b", "c"]
    back = await api.svix.event_type.list(EventTypeListOptions(limit=5, iterator=third.prev_iterator))
    assert [t.name for t in back.data] == ["-a", "-b"] and back.done


async def test_archive_unarchive_and_expunge(api: ServedApi, topics: TopicNames) -> None:
    types = api.svix.event_type
    created = await types.create(EventTypeIn(name="user.created", description="v1", schemas=SCHEMA))
    with pytest.raises(HttpError) as duplicate:
        await types.create(EventTypeIn(name="user.created", description="dup"))
    assert duplicate.value.status_code == 409 and duplicate.value.code == "conflict"

    await types.delete("user.created")
    archived = await types.get("user.created")
    assert archived.archived and archived.description == "v1", "archiving keeps the event type"
    await types.delete("user.created")  # archiving an archived type changes nothing
    assert await types.get("user.created") == archived

    app = await api.svix.application.create(ApplicationIn(name="sender"))
    accepted = await api.svix.message.create(app.id, MessageIn(event_type="user.created", payload={"id": 1}))
    assert accepted.event_type == "user.created", "messages of an archived type are still accepted"
    unknown = await api.svix.message.create(app.id, MessageIn(event_type="never.declared", payload={}))
    assert unknown.event_type == "never.declared", "and so are messages of an undeclared type"

    unarchived = await types.patch("user.created", EventTypePatch(archived=False))
    assert not unarchived.archived and unarchived.schemas == SCHEMA
    await types.delete("user.created")
    revived = await types.create(EventTypeIn(name="user.created", description="v2"))
    assert (revived.archived, revived.description, revived.schemas) == (False, "v2", None), (
        "POST brings an archived type back with the body's fields"
    )
    assert revived.created_at == created.created_at

    await types.delete("user.created", EventTypeDeleteOptions(expunge=True))
    assert await status_of(types.get("user.created")) == 404
    assert "user.created" not in await _names(api, include_archived=True)
    again = await types.create(EventTypeIn(name="user.created", description="v3"))
    assert again.created_at > created.created_at, "an expunged name is free for a new event type"
    assert await types.get("user.created") == again
    written = [(name, r["name"], r["version"]) for name, r in await events_on_log(api.ctx.settings, topics(CONFIG))
               if r.get("name") == "user.created"]  # fmt: skip
    assert [(name, version) for name, _, version in written] == [
        ("EventTypeUpserted", 1), ("EventTypeUpserted", 2), ("EventTypeUpserted", 3), ("EventTypeUpserted", 4),
        ("EventTypeUpserted", 5), ("EventTypeDeleted", 6), ("EventTypeUpserted", 7),
    ], "create, archive, (no-op archive), un-archive, archive, re-create, expunge, create: one event each"  # fmt: skip


async def test_unknown_event_types_are_404(api: ServedApi) -> None:
    types = api.svix.event_type
    assert await status_of(types.get("no.such.type")) == 404
    assert await status_of(types.patch("no.such.type", EventTypePatch(description="x"))) == 404
    assert await status_of(types.delete("no.such.type")) == 404
    assert await status_of(types.delete("no.such.type", EventTypeDeleteOptions(expunge=True))) == 404
    with pytest.raises(HttpError) as missing:
        await types.get("no.such.type")
    assert missing.value.code == "not_found"


async def test_every_invalid_field_is_a_422_naming_it(api: ServedApi, topics: TopicNames) -> None:
    await api.svix.event_type.create(EventTypeIn(name="exists", description=""))
    base = f"{api.url}/api/v1/event-type"
    good = {"name": "fine.name", "description": "d"}
    bodies = [
        ({"description": "d"}, "name"),
        ({**good, "name": ""}, "name"),
        ({**good, "name": "has space"}, "name"),
        ({**good, "name": "x" * 257}, "name"),
        ({**good, "name": 7}, "name"),
        ({"name": "fine.name"}, "description"),
        ({**good, "description": 1}, "description"),
        ({**good, "archived": "yes"}, "archived"),
        ({**good, "deprecated": 1}, "deprecated"),
        ({**good, "schemas": "{}"}, "schemas"),
        ({**good, "schemas": {"1": "not a schema"}}, "schemas"),
        ({**good, "groupName": "a group"}, "groupName"),
        ({**good, "groupName": 3}, "groupName"),
        ({**good, "featureFlags": "beta"}, "featureFlags"),
        ({**good, "featureFlags": ["ok", "not ok"]}, "featureFlags"),
    ]
    patches = [
        ({"description": None}, "description"),
        ({"archived": None}, "archived"),
        ({"deprecated": "no"}, "deprecated"),
        ({"schemas": []}, "schemas"),
        ({"featureFlags": [1]}, "featureFlags"),
    ]
    queries = [
        ("limit=0", "limit"),
        ("limit=251", "limit"),
        ("iterator=has%20space", "iterator"),
        ("order=sideways", "order"),
        ("include_archived=maybe", "include_archived"),
        ("with_content=2", "with_content"),
    ]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api.token}"}) as raw:

        async def loc(answer: httpx.Response) -> list[str]:
            assert answer.status_code == 422, answer.text
            return answer.json()["detail"][0]["loc"]

        for body, field in bodies:
            assert await loc(await raw.post(base, json=body)) == ["body", field], body
            put = {k: v for k, v in body.items() if k != "name"}
            if field != "name":
                assert await loc(await raw.put(f"{base}/fine.name", json=put)) == ["body", field], body
        for body, field in patches:
            assert await loc(await raw.patch(f"{base}/exists", json=body)) == ["body", field], body
        for query, field in queries:
            assert await loc(await raw.get(f"{base}?{query}")) == ["query", field], query
        assert await loc(await raw.delete(f"{base}/exists?expunge=perhaps")) == ["query", "expunge"]
        assert await loc(await raw.post(base, content=b"[1]")) == ["body"]
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            answer = await raw.request(method, f"{base}/bad%20name", json={"description": "d"})
            assert await loc(answer) == ["path", "event_type_name"], method
    written = [name for name, _ in await events_on_log(api.ctx.settings, topics(CONFIG))]
    assert written == ["EventTypeUpserted"], "no rejected request wrote anything"


async def test_a_restarted_api_rebuilds_event_types_from_the_log(api: ServedApi, api_settings: Settings) -> None:
    types = api.svix.event_type
    await types.create(EventTypeIn(name="kept", description="live", schemas=SCHEMA, feature_flags=["f"]))
    await types.create(EventTypeIn(name="archived", description="old"))
    await types.delete("archived")
    await types.create(EventTypeIn(name="expunged", description="gone"))
    await types.delete("expunged", EventTypeDeleteOptions(expunge=True))
    await types.create(EventTypeIn(name="recreated", description="first"))
    await types.delete("recreated", EventTypeDeleteOptions(expunge=True))
    await types.create(EventTypeIn(name="recreated", description="second"))
    before = await types.list(EventTypeListOptions(include_archived=True, with_content=True))

    async with served_api(api_settings) as restarted:
        after = await restarted.svix.event_type.list(EventTypeListOptions(include_archived=True, with_content=True))
        assert after.data == before.data
        assert [t.name for t in after.data] == ["archived", "kept", "recreated"]
        got: EventTypeOut = await restarted.svix.event_type.get("recreated")
        assert got.description == "second", "the re-creation after an expunge outlives a replay"
        assert await status_of(restarted.svix.event_type.get("expunged")) == 404
        patched = await restarted.svix.event_type.patch("recreated", EventTypePatch(description="third"))
        assert patched.description == "third", "the restarted API continues the version sequence"
    assert (await types.get("recreated")).description == "third", "and the first API sees its write"


OPENAPI = """
openapi: 3.1.0
info: {title: Shop, version: 1.0.0}
webhooks:
  order.paid:
    post:
      description: An order was paid
      requestBody:
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Order"}
x-webhooks:
  order.legacy:
    post: {summary: The old order event, deprecated: true}
components:
  schemas:
    Order: {type: object, properties: {amount: {type: integer}}, required: [amount]}
"""


async def test_import_openapi_dry_run_then_import_then_replace_all(api: ServedApi) -> None:
    types = api.svix.event_type
    await types.create(EventTypeIn(name="stale.type", description="not in the document"))
    await types.create(EventTypeIn(name="order.paid", description="old text"))
    await types.delete("order.paid")  # archived: the import brings it back
    dry = await types.import_openapi(EventTypeImportOpenApiIn(spec_raw=OPENAPI, dry_run=True))
    assert dry.data.modified == ["order.paid", "order.legacy"]
    assert [(t.name, t.description, t.deprecated, t.schemas) for t in dry.data.to_modify or []] == [
        ("order.paid", "An order was paid", False, SCHEMA),
        ("order.legacy", "The old order event", True, None),
    ]
    assert await _names(api) == ["stale.type"], "a dry run changes nothing"

    done = await types.import_openapi(EventTypeImportOpenApiIn(spec_raw=OPENAPI))
    assert (done.data.modified, done.data.to_modify) == (["order.paid", "order.legacy"], None)
    paid = await types.get("order.paid")
    assert (paid.description, paid.schemas, paid.archived) == ("An order was paid", SCHEMA, False)
    assert (await types.get("order.legacy")).deprecated is True
    again = await types.import_openapi(EventTypeImportOpenApiIn(spec_raw=OPENAPI))
    assert again.data.modified == [], "the same document twice writes nothing the second time"

    parsed = yaml.safe_load(OPENAPI)
    replaced = await types.import_openapi(EventTypeImportOpenApiIn(spec=parsed, replace_all=True))
    assert replaced.data.modified == ["stale.type"]
    assert await _names(api) == ["order.legacy", "order.paid"]
    assert (await types.get("stale.type")).archived is True


async def test_import_openapi_refusals(api: ServedApi) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api.token}"}) as http:
        url = api.url + "/api/v1/event-type/import/openapi"
        neither = await http.post(url, json={"dryRun": True})
        assert (neither.status_code, neither.json()["code"]) == (400, "bad_request")
        both = await http.post(url, json={"spec": {}, "specRaw": "{}"})
        assert both.status_code == 400
        bad = await http.post(url, json={"specRaw": "webhooks: {'no spaces allowed': {post: {}}}"})
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "specRaw"], bad.text
    assert await status_of(api.svix.event_type.import_openapi(EventTypeImportOpenApiIn(spec={"webhooks": {}}))) == 200
