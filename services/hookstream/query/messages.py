"""Messages read from the projection: lists newest first, one by id, one by ``eventId``.

The ``messages`` table is sorted by (app, accepted_at, msg_id) with bloom
filters on msg_id and event_id, so lists prune on the key and lookups read a
granule or two. An expunge rewrites a message's row with a higher version,
so reads keep the newest version of each (``LIMIT 1 BY msg_id``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.query.common import Listing, Page, Position, Where, in_list, newest_first_page, select, utc

_FORMATS = {"payload": "bytes"}
LIGHT_COLUMNS = "app_id, msg_id, event_type, event_id, channels, tags, accepted_at, expunged, version"


@dataclass(frozen=True, slots=True)
class MessageFilter:
    app_id: uuid.UUID
    event_types: tuple[str, ...] = ()
    channel: str | None = None
    tag: str | None = None
    before: datetime | None = None
    after: datetime | None = None
    with_content: bool = False
    msg_ids: tuple[uuid.UUID, ...] = ()  # with event_ids: messages having either id (Outpost's ``id`` filter)
    event_ids: tuple[str, ...] = ()
    endpoint_ids: tuple[uuid.UUID, ...] = ()  # messages attempted at any of these endpoints


def _columns(with_content: bool) -> str:
    return LIGHT_COLUMNS + (", payload" if with_content else "")


def clean_message(row: dict[str, Any]) -> dict[str, Any]:
    """A ``messages`` row as readers use it: ``accepted_at`` in UTC, no payload once expunged."""
    row["accepted_at"] = utc(row["accepted_at"])
    if row.get("expunged"):
        row["payload"] = None
    return row


async def list_messages(client: Client, f: MessageFilter, limit: int, position: Position | None) -> Page[dict]:
    where = Where()
    where.add("app_id = {app_id:UUID}", app_id=f.app_id)
    if f.event_types:
        where.add("event_type IN {event_types:Array(String)}", event_types=in_list(f.event_types))
    if f.channel is not None:
        where.add("has(channels, {channel:String})", channel=f.channel)
    if f.tag is not None:
        where.add("has(tags, {tag:String})", tag=f.tag)
    if f.msg_ids or f.event_ids:
        where.add(
            "(msg_id IN {msg_ids:Array(UUID)} OR event_id IN {event_ids:Array(String)})",
            msg_ids=list(f.msg_ids),
            event_ids=in_list(f.event_ids),
        )
    if f.endpoint_ids:
        where.add(
            "msg_id IN (SELECT msg_id FROM attempts WHERE app_id = {app_id:UUID} "
            "AND endpoint_id IN {endpoint_ids:Array(UUID)})",
            endpoint_ids=list(f.endpoint_ids),
        )
    if f.before is not None:
        where.add("accepted_at < {before:DateTime64(6, 'UTC')}", before=f.before)
    if f.after is not None:
        where.add("accepted_at > {after:DateTime64(6, 'UTC')}", after=f.after)
    listing = Listing("messages", _columns(f.with_content), "accepted_at", "msg_id", _FORMATS, clean_message)
    return await newest_first_page(client, listing, where, position, limit)


async def get_message(
    client: Client, app_id: uuid.UUID, msg_id: uuid.UUID, *, with_content: bool = True
) -> dict[str, Any] | None:
    sql = (
        f"SELECT {_columns(with_content)} FROM messages WHERE app_id = {{app_id:UUID}} AND msg_id = {{msg_id:UUID}} "
        "ORDER BY version DESC LIMIT 1"
    )
    rows = await select(client, sql, {"app_id": app_id, "msg_id": msg_id}, _FORMATS)
    return clean_message(rows[0]) if rows else None


async def find_message(client: Client, msg_id: uuid.UUID, *, with_content: bool = True) -> dict[str, Any] | None:
    """A message by id in whichever application holds it (the operator's view), through the msg_id bloom filter."""
    sql = f"SELECT {_columns(with_content)} FROM messages WHERE msg_id = {{msg_id:UUID}} ORDER BY version DESC LIMIT 1"
    rows = await select(client, sql, {"msg_id": msg_id}, _FORMATS)
    return clean_message(rows[0]) if rows else None


async def get_message_by_event_id(
    client: Client, app_id: uuid.UUID, event_id: str, *, since: datetime | None = None, with_content: bool = True
) -> dict[str, Any] | None:
    """The newest message of the application carrying ``event_id`` (accepted after ``since``, if given)."""
    where = Where()
    where.add("app_id = {app_id:UUID} AND event_id = {event_id:String}", app_id=app_id, event_id=event_id)
    if since is not None:
        where.add("accepted_at > {since:DateTime64(6, 'UTC')}", since=since)
    sql = (
        f"SELECT {_columns(with_content)} FROM messages WHERE {where.sql} "
        "ORDER BY accepted_at DESC, version DESC LIMIT 1"
    )
    rows = await select(client, sql, where.params, _FORMATS)
    return clean_message(rows[0]) if rows else None


async def tags_and_payloads(
    client: Client, app_id: uuid.UUID, msg_ids: list[uuid.UUID], *, with_content: bool
) -> dict[uuid.UUID, dict[str, Any]]:
    """Message rows for a page of ids (attempted-messages lists need tags and, maybe, payloads)."""
    if not msg_ids:
        return {}
    sql = (
        f"SELECT {_columns(with_content)} FROM messages WHERE app_id = {{app_id:UUID}} "
        "AND msg_id IN {msg_ids:Array(UUID)} ORDER BY msg_id, version DESC LIMIT 1 BY msg_id"
    )
    rows = await select(client, sql, {"app_id": app_id, "msg_ids": msg_ids}, _FORMATS)
    return {row["msg_id"]: clean_message(row) for row in rows}
