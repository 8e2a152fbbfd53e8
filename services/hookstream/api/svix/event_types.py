"""Svix event types: list, create (or un-archive), get, upsert (PUT), patch, archive or expunge (DELETE).

Event types are deployment-wide and identified by name. A write is one
event on ``config`` keyed by the name, carrying the whole new state:
EventTypeUpserted for create, change, archive and un-archive, and
EventTypeDeleted for ``DELETE ?expunge=true``; the answer is built from that
record once the API's config view holds it (read your writes).

Archiving (a plain DELETE) hides a type from lists unless
``include_archived`` and keeps it; POST with its name, or a PATCH or PUT with
``archived: false``, brings it back. Messages of an archived type, or of a
type never declared, are still accepted, as Svix accepts them: event types
describe and document, they do not gate message intake. Event-type writes
are operator work; which tokens may make them is the authentication layer's
decision, not this module's.

``POST /event-type/import/openapi`` reads the webhooks of an OpenAPI
document (``domain.event_type_import``: what each becomes and what changes)
and writes each change as the routes above do, one upsert per type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiohttp import web

from hookstream.api.commands import EVENT_TYPE, Record
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.fresh import get_fresh
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import params
from hookstream.api.svix.auth import for_app_tokens
from hookstream.api.svix.errors import Invalid, SvixError, conflict, not_found
from hookstream.api.svix.pagination import descending, keyset_page, list_response
from hookstream.api.svix.params import EVENT_TYPE_NAME, IDEMPOTENCY_KEY, ORDER, PAGE, flag, with_content
from hookstream.api.svix.schemas import EVENT_TYPE_IMPORT_IN, event_type_in, list_of, ref
from hookstream.api.svix.shapes import event_type_out
from hookstream.domain.directory import event_type_flags
from hookstream.domain.event_type_import import Change, InvalidSpec, changes, read_spec, webhook_event_types

# Request field -> record field, for PATCH (only what the body names changes).
_FIELDS = {"description": "description", "archived": "archived", "deprecated": "deprecated", "schemas": "schemas",
           "groupName": "group_name", "featureFlags": "feature_flags"}  # fmt: skip
# A forward iterator for a name that starts with '-' (which would read as a backward one); not a name character.
_FORWARD = "~"


def _schemas(body: Mapping[str, Any]) -> str | None:
    """JSON Schemas by version (``{"1": {...}}``), kept as JSON text; each version must be a schema object."""
    value = body.get("schemas")
    if value is None:
        return None
    for version, schema in value.items():
        if not isinstance(schema, dict):
            reason = f"schemas[{version!r}] must be a JSON Schema object, got {type(schema).__name__}"
            raise Invalid(["body", "schemas"], reason, "type_error.dict")
    return json.dumps(value, separators=(",", ":"))


def _fields(body: Mapping[str, Any], *, partial: bool) -> dict[str, Any]:
    """The record fields a body sets: all of them (POST, PUT) or only those it names (PATCH).

    The body has passed ``schemas.event_type_in``: types, name patterns, and no nulls where a PATCH names
    ``description``, ``archived`` or ``deprecated``.
    """
    values = {
        "description": body.get("description"),
        "archived": bool(body.get("archived")),
        "deprecated": bool(body.get("deprecated")),
        "schemas": _schemas(body),
        "group_name": body.get("groupName"),
        "feature_flags": body.get("featureFlags") or [],
    }
    if not partial:
        return values
    return {field: values[field] for key, field in _FIELDS.items() if key in body}


def _replacing(name: str, fields: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """A whole new state of the type (``Commands.upsert`` adds the version and times; a re-creation keeps
    the first creation time)."""
    created = {"created_at": _created_at(current)} if current is not None else {}
    return {"name": name, **fields, "feature_flag": None, **created}


def _kept(current: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``current`` a partial change starts from (an old single flag moves to ``feature_flags``)."""
    return {field: current[field] for field in _FIELDS.values()} | {"feature_flags": event_type_flags(current)}


def _created_at(record: Mapping[str, Any]) -> datetime:
    return record.get("created_at") or record["updated_at"]


async def _current(ctx: ApiContext, name: str) -> dict[str, Any] | None:
    """The event type as the end of ``config`` has it, archived or not (a create or PUT decides on it)."""
    await ctx.cache.catch_up()
    return ctx.records.event_type(name)


async def _find(ctx: ApiContext, name: str) -> dict[str, Any]:
    """The event type, archived or not; a miss waits once for the view to reach the end of ``config``."""
    return await get_fresh(ctx.cache, lambda: ctx.records.event_type(name), lambda: not_found("Event type"))


def _iterator(raw: str) -> tuple[bool, str | None]:
    """(backwards, the name to continue after) from an iterator this API returned."""
    if not raw:
        return False, None
    backwards = raw.startswith("-")
    name = raw[1:] if backwards or raw.startswith(_FORWARD) else raw
    if not params.NAME.match(name):
        raise Invalid(["query", "iterator"], f"{raw!r} is not an iterator this API returned")
    return backwards, name


@for_app_tokens  # an application's portal shows the event types it can subscribe to
async def list_event_types(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST)
    backwards, after = _iterator(query["iterator"] or "")
    records = [r for r in ctx.records.event_types() if query["include_archived"] or not r["archived"]]
    items, page = keyset_page(records, lambda r: r["name"], after, backwards=backwards, descending=descending(query),
                              limit=query["limit"])  # fmt: skip
    data = [event_type_out(r, with_content=query["with_content"]) for r in items]
    first = items[0]["name"] if items else None
    last = items[-1]["name"] if items else None
    if last is not None and last.startswith("-"):
        last = _FORWARD + last
    return web.json_response(list_response(data, page, first, last))


async def create(request: web.Request) -> web.Response:
    """A new event type, or an archived one brought back with the body's fields (Svix); a live one is a 409."""
    ctx = request.app[API_CONTEXT]
    body = await read_body(request, CREATE)
    name = body["name"]
    fields = _fields(body, partial=False)

    def change(current: Record | None) -> Record:
        if current is not None and not current["archived"]:
            raise conflict(f"an event type named {name!r} already exists")
        return _replacing(name, fields, current)

    record = (await ctx.commands.upsert(EVENT_TYPE, lambda: _current(ctx, name), change)).record
    return web.json_response(event_type_out(record), status=201)


@for_app_tokens
async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    return web.json_response(event_type_out(await _find(ctx, read_params(request, GET)["event_type_name"])))


async def update(request: web.Request) -> web.Response:
    """PUT: replace the event type (un-archiving it unless the body archives it), or create it: 201."""
    ctx = request.app[API_CONTEXT]
    name = read_params(request, UPDATE)["event_type_name"]
    fields = _fields(await read_body(request, UPDATE), partial=False)

    def change(current: Record | None) -> Record:
        return _replacing(name, fields, current)

    written = await ctx.commands.upsert(EVENT_TYPE, lambda: _current(ctx, name), change)
    return web.json_response(event_type_out(written.record), status=201 if written.created else 200)


async def patch(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    name = read_params(request, PATCH)["event_type_name"]
    changes = _fields(await read_body(request, PATCH), partial=True)

    def change(current: Record | None) -> Record:
        assert current is not None
        return _replacing(name, _kept(current) | changes, current)

    record = (await ctx.commands.upsert(EVENT_TYPE, lambda: _find(ctx, name), change)).record
    return web.json_response(event_type_out(record))


async def delete(request: web.Request) -> web.Response:
    """Archive (Svix's default), or with ``expunge=true`` delete for good, freeing the name."""
    ctx = request.app[API_CONTEXT]
    query = read_params(request, DELETE)
    name, expunge = query["event_type_name"], query["expunge"]
    if expunge:
        await ctx.commands.delete(EVENT_TYPE, lambda: _find(ctx, name))
    else:

        def archive(current: Record | None) -> Record | None:
            assert current is not None
            return None if current["archived"] else _replacing(name, _kept(current) | {"archived": True}, current)

        await ctx.commands.upsert(EVENT_TYPE, lambda: _find(ctx, name), archive)
    return web.Response(status=204)


async def import_openapi(request: web.Request) -> web.Response:
    """Create or change the event types an OpenAPI document's webhooks describe (``dryRun``: only say which)."""
    ctx = request.app[API_CONTEXT]
    body = await read_body(request, IMPORT_OPENAPI)
    spec, raw = body.get("spec"), body.get("specRaw")
    if (spec is None) == (raw is None):
        raise SvixError(400, "bad_request", "send exactly one of spec and specRaw")
    try:
        imported = webhook_event_types(read_spec(spec, raw))
    except InvalidSpec as error:
        raise Invalid(["body", "specRaw" if raw is not None else "spec"], error.reason) from None
    await ctx.cache.catch_up()
    current = {record["name"]: record for record in ctx.records.event_types()}
    planned = changes(imported, current, replace_all=bool(body.get("replaceAll")))
    modified = [change.name for change in planned]
    if body.get("dryRun"):
        to_modify = [change.imported.out() for change in planned if change.imported is not None]
        return web.json_response({"data": {"modified": modified, "to_modify": to_modify}})
    for change in planned:
        await ctx.commands.upsert(EVENT_TYPE, lambda name=change.name: _current(ctx, name), _imported(change))
    return web.json_response({"data": {"modified": modified}})


def _imported(change: Change) -> Any:
    """The upsert's change for one planned change: the webhook's fields (un-archived), or archived."""

    def write(current: Record | None) -> Record | None:
        kept = _kept(current) if current is not None else {"group_name": None, "feature_flags": []}
        if change.imported is None:
            archived = current is None or current["archived"]
            return None if archived else _replacing(change.name, kept | {"archived": True}, current)
        new = change.imported
        fields = {"description": new.description, "schemas": _schemas({"schemas": new.schemas}),
                  "deprecated": new.deprecated, "archived": False}  # fmt: skip
        return _replacing(change.name, kept | fields, current)

    return write


_OUT = ref("EventTypeOut")
_MISSING = {404: Response("no such event type", ref("HttpError"))}
_ONE = "/event-type/{event_type_name}"
LIST = Operation(
    "GET", "/event-type", list_event_types, "v1.event-type.list", "List event types by name",
    params=(*PAGE, ORDER, flag("include_archived", "list archived event types too"), with_content(False)),
    responses={200: Response("a page of event types", list_of("EventTypeOut"))},
)  # fmt: skip
CREATE = Operation(
    "POST", "/event-type", create, "v1.event-type.create", "Create an event type (or bring an archived one back)",
    params=(IDEMPOTENCY_KEY,), body=event_type_in(with_name=True),
    responses={201: Response("created", _OUT), 409: Response("a live event type has the name", ref("HttpError"))},
)  # fmt: skip
GET = Operation("GET", _ONE, get, "v1.event-type.get", "Get an event type", params=(EVENT_TYPE_NAME,),
                responses={200: Response("the event type", _OUT), **_MISSING})  # fmt: skip
UPDATE = Operation(
    "PUT", _ONE, update, "v1.event-type.update", "Replace an event type (or create it)", params=(EVENT_TYPE_NAME,),
    body=event_type_in(with_name=False), responses={200: Response("replaced", _OUT), 201: Response("created", _OUT)},
)  # fmt: skip
PATCH = Operation(
    "PATCH", _ONE, patch, "v1.event-type.patch", "Change some of an event type", params=(EVENT_TYPE_NAME,),
    body=event_type_in(with_name=False, partial=True), responses={200: Response("changed", _OUT), **_MISSING},
)  # fmt: skip
DELETE = Operation(
    "DELETE", _ONE, delete, "v1.event-type.delete", "Archive an event type (expunge=true: delete it for good)",
    params=(EVENT_TYPE_NAME, flag("expunge", "delete for good, freeing the name")),
    responses={204: Response("archived or deleted"), **_MISSING},
)  # fmt: skip
IMPORT_OPENAPI = Operation(
    "POST", "/event-type/import/openapi", import_openapi, "v1.event-type.import-openapi",
    "Create or update event types from the webhooks of an OpenAPI document (webhooks or x-webhooks)",
    params=(IDEMPOTENCY_KEY,), body=EVENT_TYPE_IMPORT_IN,
    responses={200: Response("the event types changed (or, dryRun, that would be)", ref("EventTypeImportOpenApiOut")),
               400: Response("neither or both of spec and specRaw", ref("HttpError"))},
)  # fmt: skip
OPERATIONS = (LIST, CREATE, IMPORT_OPENAPI, GET, UPDATE, PATCH, DELETE)
