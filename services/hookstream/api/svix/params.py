"""Reading and validating request inputs; every rejection is a 422 naming the input and the reason."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from hookstream.api.svix.errors import Invalid, not_found
from hookstream.domain.ids import IdKind, InvalidId, parse_id
from hookstream.query.common import DEFAULT_LIMIT, MAX_LIMIT

# Svix's pattern for uids, event type names and channels.
NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,256}$")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}

STATUS_NAMES = {0: "success", 1: "pending", 2: "fail", 3: "sending", 4: "canceled"}
STATUS_CODE_CLASSES = (0, 100, 200, 300, 400, 500)


def limit(query: MultiMapping[str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(["query", "limit"], f"limit must be an integer, got {raw!r}", "type_error.integer") from None
    if not 1 <= value <= MAX_LIMIT:
        raise Invalid(["query", "limit"], f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return value


def boolean(query: MultiMapping[str], name: str, default: bool) -> bool:
    raw = query.get(name)
    if raw is None:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise Invalid(["query", name], f"{name} must be true or false, got {raw!r}", "type_error.bool")


def timestamp(query: MultiMapping[str], name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace(" ", "+"))  # a '+' in a query string decodes to ' '
    except ValueError:
        reason = f"{name} must be an RFC 3339 date-time, got {raw!r}"
        raise Invalid(["query", name], reason, "type_error.datetime") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def status(query: MultiMapping[str]) -> str | None:
    """The status filter as a name (success, pending, fail, sending, canceled)."""
    raw = query.get("status")
    if raw is None:
        return None
    try:
        return STATUS_NAMES[int(raw)]
    except (ValueError, KeyError):
        reason = f"status must be one of 0, 1, 2, 3, 4, got {raw!r}"
        raise Invalid(["query", "status"], reason, "type_error.enum") from None


def status_code_class(query: MultiMapping[str]) -> int | None:
    raw = query.get("status_code_class")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value not in STATUS_CODE_CLASSES:
        raise Invalid(["query", "status_code_class"], f"status_code_class must be one of 0, 100, 200, 300, 400, 500, "
                      f"got {raw!r}", "type_error.enum")  # fmt: skip
    return value


def names(query: MultiMapping[str], name: str) -> tuple[str, ...]:
    """A repeatable list: ``a=x&a=y`` (generated clients) or ``a=x,y`` (the svix SDK), or both."""
    values = [part for raw in query.getall(name, []) for part in raw.split(",") if part]
    for value in values:
        if not NAME.match(value):
            raise Invalid(["query", name], f"{value!r} is not a valid name: 1-256 of a-z A-Z 0-9 - _ .")
    return tuple(values)


def text(query: MultiMapping[str], name: str) -> str | None:
    raw = query.get(name)
    if raw is not None and not NAME.match(raw):
        raise Invalid(["query", name], f"{raw!r} is not valid: 1-256 of a-z A-Z 0-9 - _ .")
    return raw


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


async def json_body(request: web.Request) -> Mapping[str, Any]:
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise Invalid(["body"], f"request body too large: {error.text}") from None
    try:
        body = json.loads(raw or b"null")
    except ValueError as error:
        raise Invalid(["body"], f"invalid JSON: {error}", "value_error.jsondecode") from None
    if not isinstance(body, dict):
        raise Invalid(["body"], "the body must be a JSON object", "type_error.dict")
    return body


def field(body: Mapping[str, Any], name: str, kind: type | tuple[type, ...], *, required: bool = False) -> Any:
    """``body[name]`` checked against ``kind``; absent (or null when optional) gives ``None``."""
    value = body.get(name)
    if value is None:
        if required:
            raise Invalid(["body", name], "field required", "value_error.missing")
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise Invalid(["body", name], f"expected {expected}, got {type(value).__name__}", "type_error")
    return value


def name_list(body: Mapping[str, Any], name: str) -> list[str] | None:
    values = field(body, name, list)
    if values is None:
        return None
    for value in values:
        if not isinstance(value, str) or not NAME.match(value):
            raise Invalid(["body", name], f"{value!r} is not valid: 1-256 of a-z A-Z 0-9 - _ .")
    return values


def string_map(body: Mapping[str, Any], name: str) -> dict[str, str] | None:
    value = field(body, name, dict)
    if value is not None and not all(isinstance(v, str) for v in value.values()):
        raise Invalid(["body", name], "every value must be a string", "type_error.str")
    return value


def uid(body: Mapping[str, Any]) -> str | None:
    value = field(body, "uid", str)
    if value is not None and not NAME.match(value):
        raise Invalid(["body", "uid"], f"{value!r} is not a valid uid: 1-256 of a-z A-Z 0-9 - _ .")
    return value
