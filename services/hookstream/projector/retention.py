"""Payload retention: how long bodies, headers and payloads stay in ClickHouse.

ClickHouse column TTLs are constants in the DDL, so the migration sets a
default (90 days) and this module moves every content column to the
configured number of days at start, only when it differs. Existing rows get
the new TTL as parts merge (``materialize_ttl_after_modify=0``: no rewrite of
the whole table at start). Metadata (status, timings, ids) is kept forever.
"""

from __future__ import annotations

import logging
import re

from clickhouse_connect.driver import Client

log = logging.getLogger("hookstream.projector")

# (table, content column, the row's time column)
CONTENT_COLUMNS = (
    *((table, column, "started_at") for table in ("attempts", "attempts_by_msg")
      for column in ("request_headers", "response_headers", "response_body")),
    ("messages", "payload", "accepted_at"),
)  # fmt: skip


def current_ttl_days(client: Client, table: str, column: str) -> int | None:
    query = client.command(
        "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table},
    )
    match = re.search(rf"`{column}` [^`]*? TTL toDateTime\(\w+\) \+ toIntervalDay\((\d+)\)", str(query))
    return int(match.group(1)) if match else None


def apply_retention(client: Client, days: int) -> list[str]:
    """Set every content column's TTL to ``days``; returns the columns changed."""
    if days < 1:
        raise ValueError(f"HOOKSTREAM_PAYLOAD_RETENTION_DAYS must be at least 1, got {days}")
    changed = []
    for table, column, time_column in CONTENT_COLUMNS:
        if current_ttl_days(client, table, column) == days:
            continue
        kind = client.command(
            "SELECT type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "AND name = {c:String}",
            parameters={"t": table, "c": column},
        )
        client.command(
            f"ALTER TABLE {table} MODIFY COLUMN {column} {kind} TTL toDateTime({time_column}) + INTERVAL {days} DAY "
            "SETTINGS materialize_ttl_after_modify = 0"
        )
        changed.append(f"{table}.{column}")
    if changed:
        log.info("payload retention changed", extra={"days": days, "columns": changed})
    return changed
