"""What an endpoint recover or replay-missing resends, each read in one query, with the messages' payloads.

Recover (:func:`failed_deliveries`):
The pairs come from the status table (schemas/clickhouse/002_status.sql): the
newest version of each pair of the endpoint whose message was created in the
window, kept when its status is ``fail``. Each is joined to its newest
``messages`` row (the payload to resend) and to the highest trigger sequence
recorded for the pair in ``attempts_by_msg`` (the manual attempt takes the
next one), so a recover of any size costs one round trip instead of one per
message.

Replay-missing (:func:`missing_deliveries`): the messages of the
application created in the window that the endpoint has neither a status
row nor an attempt for, i.e. that were never attempted there (the endpoint
did not exist yet, or did not subscribe then). Whether each one matches the
endpoint's filters *now* is the caller's decision (``domain.matching``), so
the rule is not written twice in SQL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.query.common import Where, select
from hookstream.query.messages import LIGHT_COLUMNS, clean_message

_MESSAGE_COLUMNS = ", ".join(
    f"m.{column} AS {column}" for column in (*LIGHT_COLUMNS.split(", "), "payload") if column != "msg_id"
)


# The status table keeps a message's time to the millisecond: a pair seen just at ``since`` must still count as seen.
_STATUS_SLACK = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Redelivery:
    msg_id: uuid.UUID
    message: dict[str, Any] | None  # the ``messages`` row with its payload; None once there is no payload to resend
    last_trigger_seq: int  # the pair's highest trigger sequence so far (0 when only scheduled attempts)
    row: dict[str, Any] = field(default_factory=dict)  # the ``messages`` row even without a payload (its type...)


async def failed_deliveries(
    client: Client, app_id: uuid.UUID, endpoint_id: uuid.UUID, since: datetime, until: datetime | None
) -> list[Redelivery]:
    """Messages created in ``[since, until)`` whose delivery to the endpoint ended failed, oldest first."""
    where = Where()
    where.add("app_id = {app_id:UUID} AND endpoint_id = {endpoint_id:UUID}", app_id=app_id, endpoint_id=endpoint_id)
    where.add("msg_created_at >= {since:DateTime64(6, 'UTC')}", since=since)
    if until is not None:
        where.add("msg_created_at < {until:DateTime64(6, 'UTC')}", until=until)
    sql = (
        "WITH failed AS (SELECT msg_id, msg_created_at FROM (SELECT msg_id, msg_created_at, status "
        f"FROM message_endpoint_status WHERE {where.sql} "
        "ORDER BY msg_created_at, msg_id, version DESC LIMIT 1 BY msg_id) WHERE status = 'fail') "
        f"SELECT f.msg_id AS msg_id, s.seq AS last_trigger_seq, {_MESSAGE_COLUMNS} FROM failed AS f "
        "LEFT JOIN (SELECT msg_id, max(trigger_seq) AS seq FROM attempts_by_msg WHERE app_id = {app_id:UUID} "
        "AND endpoint_id = {endpoint_id:UUID} AND msg_id IN (SELECT msg_id FROM failed) GROUP BY msg_id) AS s "
        "ON s.msg_id = f.msg_id "
        f"LEFT JOIN (SELECT {LIGHT_COLUMNS}, payload FROM messages WHERE app_id = {{app_id:UUID}} "
        "AND msg_id IN (SELECT msg_id FROM failed) ORDER BY msg_id, version DESC LIMIT 1 BY msg_id) AS m "
        "ON m.msg_id = f.msg_id ORDER BY f.msg_created_at, f.msg_id"
    )
    rows = await select(client, sql, where.params, {"payload": "bytes"})
    return [_failed(row) for row in rows]


async def missing_deliveries(
    client: Client, app_id: uuid.UUID, endpoint_id: uuid.UUID, since: datetime, until: datetime | None
) -> list[Redelivery]:
    """Messages created in ``[since, until)`` never attempted at the endpoint, oldest first (unfiltered)."""
    where = Where()
    where.add("app_id = {app_id:UUID}", app_id=app_id, endpoint_id=endpoint_id, seen_since=since - _STATUS_SLACK)
    where.add("accepted_at >= {since:DateTime64(6, 'UTC')}", since=since)
    if until is not None:
        where.add("accepted_at < {until:DateTime64(6, 'UTC')}", until=until)
    pair = "app_id = {app_id:UUID} AND endpoint_id = {endpoint_id:UUID}"
    sql = (
        f"SELECT {LIGHT_COLUMNS}, payload FROM messages WHERE {where.sql} AND msg_id NOT IN ("
        f"SELECT msg_id FROM message_endpoint_status WHERE {pair} "
        "AND msg_created_at >= {seen_since:DateTime64(6, 'UTC')} "
        f"UNION DISTINCT SELECT msg_id FROM attempts WHERE {pair} "
        "AND started_at >= {seen_since:DateTime64(6, 'UTC')}) "
        "ORDER BY accepted_at, msg_id, version DESC LIMIT 1 BY msg_id"
    )
    rows = await select(client, sql, where.params, {"payload": "bytes"})
    return [_redelivery(row, 0) for row in rows]


def _failed(row: dict[str, Any]) -> Redelivery:
    return _redelivery(row, int(row.pop("last_trigger_seq") or 0))


def _redelivery(row: dict[str, Any], last_trigger_seq: int) -> Redelivery:
    message = clean_message(row)
    return Redelivery(row["msg_id"], message if message.get("payload") else None, last_trigger_seq, message)
