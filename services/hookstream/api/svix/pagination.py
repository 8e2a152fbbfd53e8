"""Svix iterators: opaque strings that start with the last id of the page.

Functions take the parameters ``spec.read_params`` read (``iterator``,
``order``), or any mapping holding them.

Svix lists newest first; ``iterator`` continues after the page's last item
and ``prevIterator`` (the first item's, prefixed ``-``) goes back. Attempts
and messages sort by their own time first (a UUIDv7 does not sort by time
in ClickHouse, and an attempt id carries its message's time, not its own),
so their iterators carry the time too: ``<svix id>.<unix microseconds>``.
Lists ordered by id alone use the bare Svix id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from hookstream.api.svix.errors import Invalid
from hookstream.domain.ids import IdKind, InvalidId, parse_id, timestamp_ms, to_svix
from hookstream.query.common import Page, Position

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def token(kind: IdKind, key: uuid.UUID, at: datetime) -> str:
    return f"{to_svix(kind, key)}.{_micros(at)}"


def position(query: Mapping[str, Any], kind: IdKind) -> Position | None:
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


def after_id(query: Mapping[str, Any], kind: IdKind) -> uuid.UUID | None:
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
    records: list[dict[str, Any]], id_key: str, query: Mapping[str, Any], kind: IdKind, limit: int
) -> tuple[list[dict[str, Any]], Page[dict[str, Any]]]:
    """Page an in-memory list (config entities) by id; ``order=descending`` for newest first."""
    after = after_id(query, kind)
    backwards = (query.get("iterator") or "").startswith("-")
    return keyset_page(records, lambda r: uuid.UUID(str(r[id_key])).int, after.int if after is not None else None,
                       backwards=backwards, descending=descending(query), limit=limit)  # fmt: skip


def descending(query: Mapping[str, Any]) -> bool:
    """``order`` (declared ``params.ORDER``): ascending, the default, or descending."""
    return query.get("order") == "descending"


def keyset_page(
    records: list[dict[str, Any]],
    sort_key: Callable[[dict[str, Any]], Any],
    after: Any | None,
    *,
    backwards: bool,
    descending: bool,
    limit: int,
) -> tuple[list[dict[str, Any]], Page[dict[str, Any]]]:
    """One page of an in-memory list: the ``limit`` records past ``after`` in the direction asked, in list order."""
    reverse = descending != backwards
    ordered = sorted(records, key=sort_key, reverse=reverse)
    if after is not None:
        ordered = [r for r in ordered if (sort_key(r) < after if reverse else sort_key(r) > after)]
    items = ordered[:limit]
    if backwards:
        items.reverse()
    return items, Page(items, len(ordered) <= limit, backwards)


def id_list_response(data: list[dict[str, Any]], page: Page[Any]) -> dict[str, Any]:
    """For lists whose ``data[i]["id"]`` is the Svix id the iterator continues from."""
    first = data[0]["id"] if data else None
    last = data[-1]["id"] if data else None
    return list_response(data, page, first, last)


def message_position(query: Mapping[str, Any]) -> Position | None:
    """For lists ordered by message time: a message id iterator (its UUIDv7 carries the time)."""
    raw = query.get("iterator")
    if not raw:
        return None
    msg_id = after_id(query, IdKind.MESSAGE)
    assert msg_id is not None
    at = _EPOCH + timedelta(milliseconds=timestamp_ms(msg_id))
    return Position(at, msg_id, raw.startswith("-"))
