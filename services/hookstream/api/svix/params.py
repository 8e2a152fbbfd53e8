"""The Svix dialect's parameters (``spec.Param``) and the input checks JSON Schema cannot express.

Handlers read their input with ``spec.read_params`` / ``spec.read_body``
against these declarations; what is left here is domain checking (an id's
encoding, custom-header rules, metadata bounds per entry), raising the same
422 (``Invalid``) naming the input and the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from hookstream.api.spec import JsonSchema, Param
from hookstream.api.svix.errors import Invalid, not_found
from hookstream.domain.custom_headers import headers_problem
from hookstream.domain.ids import IdKind, InvalidId, parse_id
from hookstream.domain.message_in import (  # noqa: F401 (the dialect's parameters are declared with these)
    CHANNEL,
    MAX_CHANNEL_CHARS,
    MAX_MESSAGE_CHANNELS,
    MAX_MESSAGE_TAGS,
    MAX_TAG_CHARS,
    NAME,
    NAME_RULE,
    TAG,
    channel_schema,
    name_schema,
    tag_schema,
)
from hookstream.query.common import DEFAULT_LIMIT, MAX_LIMIT

MAX_MAP_ENTRIES = 50
MAX_MAP_KEY_CHARS = 256
MAX_MAP_VALUE_CHARS = 1024

STATUS_NAMES = {0: "success", 1: "pending", 2: "fail", 3: "sending", 4: "canceled"}
STATUS_CODE_CLASSES = (0, 100, 200, 300, 400, 500)
_PART = r"[a-zA-Z0-9\-_.]{1,256}"
_NAME_LIST = rf"^(,*{_PART}(,+{_PART})*,*)?$"  # deterministic: each part ends at a comma or the end


def _query(name: str, schema: JsonSchema, description: str = "") -> Param:
    return Param(name, "query", schema, description=description)


def _path(name: str, description: str, schema: JsonSchema | None = None) -> Param:
    return Param(name, "path", schema or {"type": "string"}, True, description)


APP_ID = _path("app_id", "the application's id (app_...) or uid")
ENDPOINT_ID = _path("endpoint_id", "the endpoint's id (ep_...) or uid")
MSG_ID = _path("msg_id", "the message's id (msg_...) or eventId")
ATTEMPT_ID = _path("attempt_id", "the attempt's id (atmpt_...)")
EVENT_TYPE_NAME = _path("event_type_name", "the event type's name", name_schema("a valid event type name"))
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT})
ITERATOR = _query("iterator", {"type": "string"}, "a previous page's iterator (or prevIterator, to go back)")
ORDER = _query("order", {"type": "string", "enum": ["ascending", "descending"], "default": "ascending"})
STATUS = _query("status", {"type": "integer", "enum": list(STATUS_NAMES)},
                "0 success, 1 pending, 2 fail, 3 sending, 4 canceled")  # fmt: skip
STATUS_CODE_CLASS = _query("status_code_class", {"type": "integer", "enum": list(STATUS_CODE_CLASSES)},
                           "0: no response; 100..500: the response status class")  # fmt: skip
EVENT_TYPES = _query("event_types", {"type": "array", "items": {
    "type": "string", "pattern": _NAME_LIST, "description": f"a list of valid names (each {NAME_RULE})"}},
    "repeated (event_types=a&event_types=b) or comma-separated (event_types=a,b)")  # fmt: skip
CHANNEL_FILTER = _query("channel", channel_schema())
TAG_FILTER = _query("tag", tag_schema())
BEFORE = _query("before", {"type": "string", "format": "date-time"})
AFTER = _query("after", {"type": "string", "format": "date-time"})
SINCE = _query("since", {"type": "string", "format": "date-time"})
UNTIL = _query("until", {"type": "string", "format": "date-time"})
IDEMPOTENCY_KEY = Param("idempotency-key", "header", {"type": "string"},
                        description="a repeat with the same key answers the first answer again")  # fmt: skip
PAGE = (LIMIT, ITERATOR)
FILTERS = (EVENT_TYPES, CHANNEL_FILTER, TAG_FILTER, BEFORE, AFTER)


def with_content(default: bool) -> Param:
    return _query("with_content", {"type": "boolean", "default": default}, "false: leave payloads out")


def flag(name: str, description: str) -> Param:
    return _query(name, {"type": "boolean", "default": False}, description)


def split_names(values: Sequence[str] | None) -> tuple[str, ...]:
    """A repeatable name list as declared by ``NAMES_QUERY``: ``a=x&a=y`` (generated clients) or ``a=x,y``
    (the svix SDK), or both; the schema has already checked every part."""
    return tuple(part for raw in values or () for part in raw.split(",") if part)


def status_name(number: int | None) -> str | None:
    """The status filter as a name (success, pending, fail, sending, canceled)."""
    return None if number is None else STATUS_NAMES[number]


def path_id(request: web.Request, name: str, kind: IdKind) -> uuid.UUID:
    """A path id that must be an id (no uid form): malformed is a 422."""
    try:
        return parse_id(request.match_info[name], kind)
    except InvalidId as error:
        raise Invalid(["path", name], str(error)) from None


def id_or_ref(value: str, kind: IdKind) -> uuid.UUID | None:
    """The id when ``value`` is one; ``None`` when it can only be a uid or eventId; 404 when it is neither."""
    if value.startswith(kind.prefix):
        try:
            return parse_id(value, kind)
        except InvalidId:
            pass
    if not NAME.match(value):
        raise not_found()
    return None


def string_map(body: Mapping[str, Any], name: str) -> dict[str, str] | None:
    """A metadata-like object of strings (the schema checked its type and count), bounded per key and value
    so one record cannot carry megabytes of labels."""
    value = body.get(name)
    if value is None:
        return None
    for key, item in value.items():
        if len(key) > MAX_MAP_KEY_CHARS or len(item) > MAX_MAP_VALUE_CHARS:
            reason = f"keys hold at most {MAX_MAP_KEY_CHARS} characters and values {MAX_MAP_VALUE_CHARS}"
            raise Invalid(["body", name, key[:64]], reason + f"; {key[:64]!r} is over")
    return dict(value)


def custom_headers(body: Mapping[str, Any], name: str) -> dict[str, str | None] | None:
    """An endpoint's custom headers (the schema checked they are strings, or null in a PATCH, which removes
    one): well-formed and not ours to set (``domain.custom_headers``)."""
    given = body.get(name)
    if given is None:
        return None
    problem = headers_problem({key: value for key, value in given.items() if value is not None})
    if problem is not None:
        raise Invalid(["body", name], problem)
    return dict(given)
