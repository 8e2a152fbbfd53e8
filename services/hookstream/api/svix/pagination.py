"""Svix iterators: opaque strings that start with the last id of the page.

Svix lists newest first; ``iterator`` continues after the page's last item
and ``prevIterator`` (the first item's, prefixed ``-``) goes back. Attempts
and messages sort by their own time first (a UUIDv7 does not sort by time
in ClickHouse, and an attempt id carries its message's time, not its own),
so their iterators carry the time too: ``<svix id>.<unix microseconds>``.
Lists ordered by id alone use the bare Svix id.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from multidict import MultiMapping

from hookstream.api.svix.errors import Invalid
from hookstream.domain.ids import IdKind, InvalidId, parse_id, timestamp_ms, to_svix
from hookstream.query.common import Page, Position

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def token(kind: IdKind, key: uuid.UUID, at: datetime) -> str:
    return f"{to_svix(kind, key)}.{_micros(at)}"


def position(query: MultiMapping[str], kind: IdKind) -> Position | None:
    """The keyset position an ``iterator`` names, or ``None`` for the first page."""
    raw = query.get("iterator")
    if not raw:
        return None
    backwards = raw.startswith("-")
    id_text, dot, micros = raw.removeprefix("-").partition(".")
    try:
        key = parse_id(id_text, kind)
        if not dot or not micros.isdigit():
            raise InvalidId(f"{raw!r} is not an iterator this API returned")
        at = _EPOCH + timedelta(microseconds=int(micros))
    except (InvalidId, OverflowError) as error:
        raise Invalid(["query", "iterator"], str(error)) from None
    return Position(at, key, backwards)


def after_id(query: MultiMapping[str], kind: IdKind) -> uuid.UUID | None:
    """For lists ordered by id alone: the id to continue after."""
    raw = query.get("iterator")
    if not raw:
        return None
    try:
        return parse_id(raw.removeprefix("-"), kind)
    except InvalidId as error:
        raise Invalid(["query", "iterator"], str(error)) from None


def list_response(data: list[dict[str, Any]], page: Page[Any], first: str | None, last: str | None) -> dict[str, Any]:
    """``ListResponse*Out``: ``done`` says whether the direction the caller moved in is exhausted."""
    return {
        "data": data,
        "iterator": last,
        "prevIterator": f"-{first}" if first is not None else None,
        "done": page.done,
    }


def time_page(data: list[dict[str, Any]], page: Page[dict], kind: IdKind, key: str, at: str) -> dict[str, Any]:
    """A list response for rows keyed by (time, id): iterators from the first and last rows."""
    first = token(kind, page.items[0][key], page.items[0][at]) if page.items else None
    last = token(kind, page.items[-1][key], page.items[-1][at]) if page.items else None
    return list_response(data, page, first, last)


def id_page(
    records: list[dict[str, Any]], id_key: str, query: MultiMapping[str], kind: IdKind, limit: int
) -> tuple[list[dict[str, Any]], Page[dict[str, Any]]]:
    """Page an in-memory list (config entities) by id; ``order=descending`` for newest first."""
    descending = query.get("order", "ascending") == "descending"
    if query.get("order") not in (None, "ascending", "descending"):
        raise Invalid(["query", "order"], "order must be ascending or descending", "type_error.enum")
    raw = query.get("iterator") or ""
    backwards = raw.startswith("-")
    after = after_id(query, kind)
    ordered = sorted(records, key=lambda r: uuid.UUID(str(r[id_key])).int, reverse=descending != backwards)
    if after is not None:
        ahead = (lambda value: value < after.int) if descending != backwards else (lambda value: value > after.int)
        ordered = [r for r in ordered if ahead(uuid.UUID(str(r[id_key])).int)]
    items = ordered[:limit]
    if backwards:
        items.reverse()
    return items, Page(items, len(ordered) <= limit, backwards)


def id_list_response(data: list[dict[str, Any]], page: Page[Any]) -> dict[str, Any]:
    """For lists whose ``data[i]["id"]`` is the Svix id the iterator continues from."""
    first = data[0]["id"] if data else None
    last = data[-1]["id"] if data else None
    return list_response(data, page, first, last)


def message_position(query: MultiMapping[str]) -> Position | None:
    """For lists ordered by message time: a message id iterator (its UUIDv7 carries the time)."""
    raw = query.get("iterator")
    if not raw:
        return None
    msg_id = after_id(query, IdKind.MESSAGE)
    assert msg_id is not None
    at = _EPOCH + timedelta(milliseconds=timestamp_ms(msg_id))
    return Position(at, msg_id, raw.startswith("-"))
