"""Delivery status per message x endpoint, read from the status tables (schemas/clickhouse/002_status.sql).

The status processor derives each pair's status (success, pending, fail,
sending) and next attempt time from the attempts topic; the projector writes
every change as a new row version. A reader takes the newest version of each
pair (``LIMIT 1 BY``) and only then filters by status, since an older version
of a pair may carry a status the pair no longer has.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.query.common import Page, Position, Where, add_message_filters, keyset, page_of, select, utc

_COLUMNS = (
    "msg_id, endpoint_id, toString(status) AS status, last_attempt_at, next_attempt_at, event_type, event_id, "
    "channels, msg_created_at"
)


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
        status=row["status"],
        last_attempt_at=utc(row["last_attempt_at"]),
        next_attempt_at=utc(row["next_attempt_at"]),
        event_type=row.get("event_type", ""),
        event_id=row.get("event_id"),
        channels=tuple(row.get("channels") or ()),
    )


async def destinations_of_message(
    client: Client, app_id: uuid.UUID, msg_id: uuid.UUID, limit: int, after_endpoint: uuid.UUID | None
) -> Page[DeliveryState]:
    """The endpoints a message was attempted at, in endpoint id order, with each one's current state."""
    where = Where()
    where.add("app_id = {app_id:UUID} AND msg_id = {msg_id:UUID}", app_id=app_id, msg_id=msg_id)
    if after_endpoint is not None:
        where.add("endpoint_id > {after_endpoint:UUID}", after_endpoint=after_endpoint)
    sql = (
        f"SELECT {_COLUMNS} FROM message_endpoint_status WHERE {where.sql} "
        "ORDER BY endpoint_id, version DESC LIMIT 1 BY endpoint_id LIMIT {page_rows:UInt32}"
    )
    rows = await select(client, sql, {**where.params, "page_rows": limit + 1})
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
    """Messages attempted at an endpoint, newest message first, each with its current state there.

    Messages are ordered by their own time (``msg_created_at``, the UUIDv7's
    milliseconds), which never changes for a pair, so the keyset is stable
    while statuses change. Filters on the pair's fixed columns narrow the
    inner scan; the status filter applies to the newest version only.
    """
    where = Where()
    where.add("app_id = {app_id:UUID} AND endpoint_id = {endpoint_id:UUID}", app_id=f.app_id,
              endpoint_id=f.endpoint_id)  # fmt: skip
    add_message_filters(where, f, time_column="msg_created_at")
    direction, _ = keyset(where, "msg_created_at", "msg_id", position)
    outer = "1"
    if f.status is not None:
        outer = "status = {status:String}"
        where.params["status"] = f.status
    sql = (
        f"SELECT * FROM (SELECT {_COLUMNS} FROM message_endpoint_status WHERE {where.sql} "
        f"ORDER BY msg_created_at {direction}, msg_id {direction}, version DESC LIMIT 1 BY msg_id) "
        f"WHERE {outer} ORDER BY msg_created_at {direction}, msg_id {direction} LIMIT {{page_rows:UInt32}}"
    )
    rows = await select(client, sql, {**where.params, "page_rows": limit + 1})
    return page_of([_state(row) for row in rows], limit, position)
