"""Delivery status per message x endpoint: THE SEAM for the retries/status work (issue 5).

Until the status topic is projected, the status of a message at an endpoint
is read off its latest attempt: ``success`` or ``fail`` as recorded, and the
next attempt time the attempt record carries (if any). Statuses "pending"
and "sending" and an authoritative ``next_attempt_at`` come from the status
tables once they exist; replace the bodies of these two functions then, and
keep their signatures: the API dialects only map what they return.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.query.common import Page, Position, Where, keyset, page_of, select, utc

# Outcome recorded on an attempt -> delivery status name (Svix: 0 success, 1 pending, 2 fail, 3 sending).
_STATUS_OF_OUTCOME = {"success": "success", "failed": "fail"}


@dataclass(frozen=True, slots=True)
class DeliveryState:
    """Where a message stands at one endpoint."""

    msg_id: uuid.UUID
    endpoint_id: uuid.UUID
    status: str  # success | pending | fail | sending
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    event_type: str = ""
    event_id: str | None = None
    channels: tuple[str, ...] = ()


def _state(row: dict[str, Any]) -> DeliveryState:
    return DeliveryState(
        msg_id=row["msg_id"],
        endpoint_id=row["endpoint_id"],
        status=_STATUS_OF_OUTCOME.get(row["last_status"], "pending"),
        last_attempt_at=utc(row["last_at"]),
        next_attempt_at=utc(row["next_at"]),
        event_type=row.get("event_type", ""),
        event_id=row.get("event_id"),
        channels=tuple(row.get("channels") or ()),
    )


_AGGREGATES = (
    "argMax(status, started_at) AS last_status, max(started_at) AS last_at, "
    "argMax(next_attempt_at, started_at) AS next_at"
)


async def destinations_of_message(
    client: Client, app_id: uuid.UUID, msg_id: uuid.UUID, limit: int, after_endpoint: uuid.UUID | None
) -> Page[DeliveryState]:
    """The endpoints a message was attempted at, in endpoint id order, with each one's latest state."""
    params: dict[str, Any] = {"app_id": app_id, "msg_id": msg_id, "page_rows": limit + 1}
    having = ""
    if after_endpoint is not None:
        having = "HAVING endpoint_id > {after_endpoint:UUID}"
        params["after_endpoint"] = after_endpoint
    sql = (
        f"SELECT msg_id, endpoint_id, {_AGGREGATES} FROM attempts_by_msg "
        "WHERE app_id = {app_id:UUID} AND msg_id = {msg_id:UUID} "
        f"GROUP BY msg_id, endpoint_id {having} ORDER BY endpoint_id LIMIT {{page_rows:UInt32}}"
    )
    rows = await select(client, sql, params)
    return page_of([_state(row) for row in rows], limit, None)


@dataclass(frozen=True, slots=True)
class AttemptedMessagesFilter:
    app_id: uuid.UUID
    endpoint_id: uuid.UUID
    status: str | None = None  # success | pending | fail | sending
    event_types: tuple[str, ...] = ()
    channel: str | None = None
    tag: str | None = None
    before: datetime | None = None
    after: datetime | None = None


async def messages_of_endpoint(
    client: Client, f: AttemptedMessagesFilter, limit: int, position: Position | None
) -> Page[DeliveryState]:
    """Messages attempted at an endpoint, newest message first, each with its latest state there.

    Messages are ordered by their own time (the UUIDv7's milliseconds), which
    does not change as attempts accrue, so the keyset stays stable.
    """
    where = Where()
    where.add("app_id = {app_id:UUID} AND endpoint_id = {endpoint_id:UUID}", app_id=f.app_id,
              endpoint_id=f.endpoint_id)  # fmt: skip
    if f.event_types:
        where.add("event_type IN {event_types:Array(String)}", event_types=sorted(set(f.event_types)))
    if f.channel is not None:
        where.add("has(channels, {channel:String})", channel=f.channel)
    if f.tag is not None:
        where.add(
            "msg_id IN (SELECT msg_id FROM messages WHERE app_id = {app_id:UUID} AND has(tags, {tag:String}))",
            tag=f.tag,
        )
    msg_time = "toDateTime64(UUIDv7ToDateTime(msg_id), 6, 'UTC')"
    if f.before is not None:
        where.add(f"{msg_time} < {{before:DateTime64(6, 'UTC')}}", before=f.before)
    if f.after is not None:
        where.add(f"{msg_time} > {{after:DateTime64(6, 'UTC')}}", after=f.after)
    direction, _ = keyset(where, msg_time, "msg_id", position)
    having = ""
    if f.status is not None:
        outcomes = [outcome for outcome, status in _STATUS_OF_OUTCOME.items() if status == f.status]
        having = "HAVING last_status IN {outcomes:Array(String)}" if outcomes else "HAVING 0"
        where.params["outcomes"] = outcomes
    sql = (
        f"SELECT msg_id, endpoint_id, {_AGGREGATES}, any(event_type) AS event_type, any(event_id) AS event_id, "
        f"any(channels) AS channels, {msg_time} AS msg_at FROM attempts WHERE {where.sql} "
        f"GROUP BY msg_id, endpoint_id {having} ORDER BY msg_at {direction}, msg_id {direction} "
        "LIMIT {page_rows:UInt32}"
    )
    rows = await select(client, sql, {**where.params, "page_rows": limit + 1})
    return page_of([_state(row) for row in rows], limit, position)
