from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver import Client

from hookstream.projector.retention import CONTENT_COLUMNS, apply_retention, current_ttl_days
from hookstream.projector.rows import attempt_row
from hookstream.projector.store import write_rows
from tests.support import builders

pytestmark = pytest.mark.integration


def test_retention_moves_every_content_column_once_and_expires_old_bodies(clickhouse: Client) -> None:
    assert {current_ttl_days(clickhouse, t, c) for t, c, _ in CONTENT_COLUMNS} == {90}
    assert len(apply_retention(clickhouse, 7)) == len(CONTENT_COLUMNS)
    assert {current_ttl_days(clickhouse, t, c) for t, c, _ in CONTENT_COLUMNS} == {7}
    assert apply_retention(clickhouse, 7) == [], "an unchanged setting changes nothing"

    msg = builders.message(str(builders.application()["app_id"]))
    old = builders.attempt(msg, str(builders.application()["app_id"]))
    old["started_at"] = old["finished_at"] = datetime.now(UTC) - timedelta(days=8)
    fresh = builders.attempt(msg, str(builders.application()["app_id"]))
    write_rows(clickhouse, {"attempts": [attempt_row(old).values, attempt_row(fresh).values]})
    clickhouse.command("OPTIMIZE TABLE attempts FINAL")
    bodies = dict(clickhouse.query("SELECT toString(attempt_id), response_body FROM attempts").result_rows)
    assert bodies[old["attempt_id"]] in (None, ""), "a body older than the retention is cleared"
    assert bodies[fresh["attempt_id"]] == "ok"
    status = clickhouse.command(f"SELECT response_status FROM attempts WHERE attempt_id = '{old['attempt_id']}'")
    assert int(status) == 200, "metadata outlives the content"


def test_retention_below_one_day_is_refused(clickhouse: Client) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        apply_retention(clickhouse, 0)
