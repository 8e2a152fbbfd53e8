"""The status tables' row TTL follows the status retention, moved at start like the payload TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver import Client

from hookstream.projector.retention import STATUS_TABLES, apply_status_retention, current_status_ttl_s
from hookstream.projector.store import write_rows
from tests.support import builders

pytestmark = pytest.mark.integration

DAY_S = 86400


def test_status_ttl_moves_to_the_retention_once(clickhouse: Client) -> None:
    assert {current_status_ttl_s(clickhouse, table) for table in STATUS_TABLES} == {90 * DAY_S}, "migration 004"
    assert apply_status_retention(clickhouse, 90 * DAY_S) == [], "the default changes nothing"
    assert apply_status_retention(clickhouse, 7 * DAY_S) == list(STATUS_TABLES)
    assert {current_status_ttl_s(clickhouse, table) for table in STATUS_TABLES} == {7 * DAY_S}
    assert apply_status_retention(clickhouse, 36 * 3600) == list(STATUS_TABLES), "not whole days: in seconds"
    assert {current_status_ttl_s(clickhouse, table) for table in STATUS_TABLES} == {36 * 3600}
    assert apply_status_retention(clickhouse, 36 * 3600) == []


def test_status_rows_expire_after_a_short_retention(clickhouse: Client) -> None:
    apply_status_retention(clickhouse, 3600)
    now = datetime.now(UTC)
    old_pair, old_message = builders.status_rows(now - timedelta(hours=2))
    new_pair, new_message = builders.status_rows(now - timedelta(minutes=30))
    write_rows(clickhouse, {"message_endpoint_status": [old_pair, new_pair],
                            "message_status": [old_message, new_message]})  # fmt: skip
    for table in STATUS_TABLES:
        clickhouse.command(f"OPTIMIZE TABLE {table} FINAL")
        kept = [row[0] for row in clickhouse.query(f"SELECT msg_id FROM {table}").result_rows]
        assert kept == [new_message[1]], table


def test_a_status_retention_under_a_second_is_refused(clickhouse: Client) -> None:
    with pytest.raises(ValueError, match="HOOKSTREAM_STATUS_RETENTION must be at least 1s"):
        apply_status_retention(clickhouse, 0.2)
    assert {current_status_ttl_s(clickhouse, table) for table in STATUS_TABLES} == {90 * DAY_S}, "nothing changed"
