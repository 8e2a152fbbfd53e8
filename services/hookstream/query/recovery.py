"""What an endpoint recover resends, read in one query: the failed pairs with their messages and trigger sequences.

The pairs come from the status table (schemas/clickhouse/002_status.sql): the
newest version of each pair of the endpoint whose message was created in the
window, kept when its status is ``fail``. Each is joined to its newest
``messages`` row (the payload to resend) and to the highest trigger sequence
recorded for the pair in ``attempts_by_msg`` (the manual attempt takes the
next one), so a recover of any size costs one round trip instead of one per
message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.query.common import Where, select
from hookstream.query.messages import LIGHT_COLUMNS, clean_message

_MESSAGE_COLUMNS = ", ".join(
    f"m.{column} AS {column}" for column in (*LIGHT_COLUMNS.split(", "), "payload") if column != "msg_id"
)


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    msg_id: uuid.UUID
    message: dict[str, Any] | None  # the ``messages`` row with its payload; None once there is no payload to resend
    last_trigger_seq: int  # the pair's highest trigger sequence so far (0 when only scheduled attempts)


async def failed_deliveries(
    client: Client, app_id: uuid.UUID, endpoint_id: uuid.UUID, since: datetime, until: datetime | None
) -> list[FailedDelivery]:
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


def _failed(row: dict[str, Any]) -> FailedDelivery:
    seq = int(row.pop("last_trigger_seq") or 0)
    message = clean_message(row)
    return FailedDelivery(row["msg_id"], message if message.get("payload") else None, seq)
