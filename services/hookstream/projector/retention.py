"""Payload retention: how long bodies, headers and payloads stay in ClickHouse.

ClickHouse column TTLs are constants in the DDL, so the migration sets a
default (90 days) and this module moves every content column to the
configured number of days at start, only when it differs. Existing rows get
the new TTL as parts merge (``materialize_ttl_after_modify=0``: no rewrite of
the whole table at start). Attempt metadata (timings, ids) is kept forever.

The status tables' row TTL (migration 004: 90 days after ``updated_at``) is
moved the same way to the status retention (``status_retention``, by default
the payload retention), the age at which the status processor forgets a final
status and tombstones it on the ``status`` topic.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from clickhouse_connect.driver import Client

if TYPE_CHECKING:
    from hookstream.projector.cluster import ClusterSchema

log = logging.getLogger("hookstream.projector")

# (table, content column, the row's time column)
CONTENT_COLUMNS = (
    *((table, column, "started_at") for table in ("attempts", "attempts_by_msg")
      for column in ("request_headers", "response_headers", "response_body")),
    ("messages", "payload", "accepted_at"),
)  # fmt: skip


def _create_query(client: Client, table: str) -> str:
    return str(
        client.command(
            "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            parameters={"t": table},
        )
    )


def _run(client: Client, statement: str, cluster: ClusterSchema | None) -> None:
    """``statement`` as written, or rendered for the cluster (``ON CLUSTER``, on the local tables)."""
    for rendered in cluster.render(statement) if cluster else [statement]:
        client.command(rendered)


def _storage(table: str, cluster: ClusterSchema | None) -> str:
    return cluster.storage_table(table) if cluster else table


def current_ttl_days(client: Client, table: str, column: str) -> int | None:
    query = _create_query(client, table)
    match = re.search(rf"`{column}` [^`]*? TTL toDateTime\(\w+\) \+ toIntervalDay\((\d+)\)", query)
    return int(match.group(1)) if match else None


def apply_retention(client: Client, days: int, cluster: ClusterSchema | None = None) -> list[str]:
    """Set every content column's TTL to ``days``; returns the columns changed.

    On a cluster the TTLs live on the local tables (a ``Distributed`` table refuses them), read on this
    node and altered ``ON CLUSTER``.
    """
    if days < 1:
        raise ValueError(f"HOOKSTREAM_PAYLOAD_RETENTION_DAYS must be at least 1, got {days}")
    changed = []
    for table, column, time_column in CONTENT_COLUMNS:
        if current_ttl_days(client, _storage(table, cluster), column) == days:
            continue
        kind = client.command(
            "SELECT type FROM system.columns WHERE database = currentDatabase() AND table = {t:String} "
            "AND name = {c:String}",
            parameters={"t": table, "c": column},
        )
        _run(
            client,
            f"ALTER TABLE {table} MODIFY COLUMN {column} {kind} TTL toDateTime({time_column}) + INTERVAL {days} DAY "
            "SETTINGS materialize_ttl_after_modify = 0",
            cluster,
        )
        changed.append(f"{table}.{column}")
    if changed:
        log.info("payload retention changed", extra={"days": days, "columns": changed})
    return changed


STATUS_TABLES = ("message_endpoint_status", "message_status")
_UNIT_S = {"Second": 1, "Minute": 60, "Hour": 3600, "Day": 86400}


def current_status_ttl_s(client: Client, table: str) -> int | None:
    """The table's row TTL on ``updated_at`` in seconds, or None if it has none."""
    query = _create_query(client, table)
    match = re.search(r"\bTTL toDateTime\(updated_at\) \+ toInterval(Second|Minute|Hour|Day)\((\d+)\)", query)
    return int(match.group(2)) * _UNIT_S[match.group(1)] if match else None


def apply_status_retention(client: Client, seconds: float, cluster: ClusterSchema | None = None) -> list[str]:
    """Set the status tables' row TTL to ``seconds`` (whole seconds); returns the tables changed."""
    whole = round(seconds)
    if whole < 1:
        raise ValueError(f"HOOKSTREAM_STATUS_RETENTION must be at least 1s, got {seconds}s")
    interval = f"INTERVAL {whole // 86400} DAY" if whole % 86400 == 0 else f"INTERVAL {whole} SECOND"
    changed = []
    for table in STATUS_TABLES:
        if current_status_ttl_s(client, _storage(table, cluster)) == whole:
            continue
        _run(
            client,
            f"ALTER TABLE {table} MODIFY TTL toDateTime(updated_at) + {interval} "
            "SETTINGS materialize_ttl_after_modify = 0",
            cluster,
        )
        changed.append(table)
    if changed:
        log.info("status retention changed", extra={"seconds": whole, "tables": changed})
    return changed
