"""The projector's one write path into ClickHouse: column-oriented inserts, one per table."""

from __future__ import annotations

from clickhouse_connect.driver import Client

from hookstream.projector.rows import COLUMNS


def write_rows(client: Client, rows: dict[str, list[tuple]]) -> None:
    for table, values in rows.items():
        if values:
            client.insert(table, values, column_names=list(COLUMNS[table]))
