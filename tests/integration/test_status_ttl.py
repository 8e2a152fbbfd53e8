"""Status rows expire: migration 004's row TTL deletes versions 90 days after their updated_at, newest last."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver import Client

from hookstream.projector.store import write_rows
from tests.support import builders

pytestmark = pytest.mark.integration


def test_status_rows_older_than_the_retention_are_deleted_on_merge(clickhouse: Client) -> None:
    now = datetime.now(UTC)
    old_pair, old_message = builders.status_rows(now - timedelta(days=91))
    new_pair, new_message = builders.status_rows(now - timedelta(days=89))
    write_rows(clickhouse, {"message_endpoint_status": [old_pair, new_pair],
                            "message_status": [old_message, new_message]})  # fmt: skip
    for table in ("message_endpoint_status", "message_status"):
        clickhouse.command(f"OPTIMIZE TABLE {table} FINAL")
        kept = [row[0] for row in clickhouse.query(f"SELECT msg_id FROM {table}").result_rows]
        assert kept == [new_message[1]], table
