"""Status rows expire: migration 004's row TTL deletes versions 90 days after their updated_at, newest last."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver import Client

from hookstream.domain.status import AttemptFacts, fold_attempt, message_record, pair_record, to_us
from hookstream.projector.rows import endpoint_status_row, message_status_row
from hookstream.projector.store import write_rows
from tests.support import builders

pytestmark = pytest.mark.integration


def _rows(updated_at: datetime) -> tuple[tuple, tuple]:
    app = builders.application()
    msg = builders.message(app["app_id"])
    record = builders.attempt(msg, str(uuid.uuid4()), status=200)
    record.update(started_at=updated_at, finished_at=updated_at)
    folded = fold_attempt(None, AttemptFacts.of(record), failing_after=4)
    assert folded.pair.updated_us == to_us(updated_at)
    return (endpoint_status_row(pair_record(folded.message, folded.pair)).values,
            message_status_row(message_record(folded.message)).values)  # fmt: skip


def test_status_rows_older_than_the_retention_are_deleted_on_merge(clickhouse: Client) -> None:
    now = datetime.now(UTC)
    old_pair, old_message = _rows(now - timedelta(days=91))
    new_pair, new_message = _rows(now - timedelta(days=89))
    write_rows(clickhouse, {"message_endpoint_status": [old_pair, new_pair],
                            "message_status": [old_message, new_message]})  # fmt: skip
    for table in ("message_endpoint_status", "message_status"):
        clickhouse.command(f"OPTIMIZE TABLE {table} FINAL")
        kept = [row[0] for row in clickhouse.query(f"SELECT msg_id FROM {table}").result_rows]
        assert kept == [new_message[1]], table
