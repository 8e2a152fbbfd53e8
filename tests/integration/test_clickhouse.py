"""The projection schema and its migrations against a real embedded chDB.

The suite's one chDB directory (``chdb_dir`` in conftest) with a database per
test. A process may open another directory only once every client on the
previous one is closed, so sharing the session's directory keeps this module
independent of clients other modules may still hold; every client opened here
is closed by its fixture.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver import Client

from hookstream.projector.migrations import (
    MIGRATIONS_DIR_ENV,
    MigrationError,
    apply_migrations,
    default_migrations_dir,
    split_statements,
)
from hookstream.query.attempts import AttemptFilter, list_attempts
from hookstream.query.common import Position
from hookstream.runtime.clickhouse import ClickHouseUnavailable, connect, ping

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# Recent, so the 90-day payload TTL does not clear bodies while the test runs.
BASE = (datetime.now(UTC) - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
ROWS = 100_000
APPS = [uuid.UUID(int=(0x0195 << 112) | (0x7 << 76) | (0x8 << 60) | a) for a in range(1, 5)]
ENDPOINTS_PER_APP = 10


@pytest.fixture(scope="module")
def chdb_url(chdb_dir: Path) -> str:
    return f"chdb://{chdb_dir}"


@pytest.fixture(scope="module")
def migrated(chdb_url: str) -> Iterator[Client]:
    client = connect(chdb_url, "hookstream_test")
    apply_migrations(client)
    yield client
    client.command("DROP DATABASE IF EXISTS hookstream_test")
    client.close()


@pytest.fixture
def fresh(chdb_url: str) -> Iterator[Client]:
    """A client on a database of its own, so a test sees no other test's tables."""
    client = connect(chdb_url, f"t_{uuid.uuid4().hex[:12]}")
    yield client
    client.command(f"DROP DATABASE IF EXISTS {client.database}")
    client.close()


def _uuid7(ms: int, seq: int) -> str:
    """A deterministic UUIDv7-shaped id: time in the top 48 bits, like the real ones."""
    return str(uuid.UUID(int=(ms << 80) | (0x7 << 76) | (0x8 << 60) | seq))


def _endpoint(app: int, slot: int) -> str:
    return _uuid7(1_740_000_000_000 + app, 1_000 + slot)


def attempt_columns(start: int, count: int, version: int = 1) -> dict[str, list[Any]]:
    """Column-oriented attempt rows; row i is a pure function of i so tests can predict results."""
    cols: dict[str, list[Any]] = {}

    def put(name: str, value: Any) -> None:
        cols.setdefault(name, []).append(value)

    for i in range(start, start + count):
        msg = i // 2  # two attempts per message, to the same endpoint
        app = msg % len(APPS)
        failed = i % 7 == 0
        connect_error = failed and i % 2 == 1
        started = BASE + timedelta(microseconds=i * 1_000_003)
        status_code = 0 if connect_error else (503 if failed else 200)
        put("attempt_id", _uuid7(int(started.timestamp() * 1000), i))
        put("app_id", str(APPS[app]))
        msg_id = _uuid7(int(BASE.timestamp() * 1000) + msg * 2_000, 10_000_000 + msg)
        put("msg_id", msg_id)
        put("endpoint_id", _endpoint(app, (msg // len(APPS)) % ENDPOINTS_PER_APP))
        put("event_type", ("invoice.paid", "invoice.created", "user.deleted")[i % 3])
        put("event_id", None if i % 5 else f"evt-{i}")
        put("channels", ["eu", "billing"] if i % 4 == 0 else [])
        put("attempt_number", i % 2 + 1)
        put("trigger", "manual" if i % 11 == 0 else "scheduled")
        put("trigger_seq", 1 if i % 11 == 0 else 0)
        put("url", f"https://receiver.example/hooks/{app}")
        put("status", "failed" if failed else "success")
        put("response_status", status_code)
        put("status_code_class", status_code // 100 * 100)
        put("error_class", ("connect" if connect_error else "http_status") if failed else None)
        put("error_text", "connection refused" if connect_error else None)
        put("request_headers", {"webhook-id": msg_id, "content-type": "application/json"})
        put("response_headers", {} if connect_error else {"content-type": "text/plain"})
        put("response_body", None if connect_error else b"ok\xff" + str(i).encode())
        put("response_body_size", 0 if connect_error else 3 + len(str(i)))
        put("response_body_truncated", False)
        put("response_content_type", None if connect_error else "text/plain")
        put("resolved_ip", "127.0.0.1")
        put("conn_reused", i % 3 == 0)
        put("dns_us", None if i % 3 == 0 else 150 + i % 100)
        put("tcp_connect_us", None if i % 3 == 0 else 300 + i % 50)
        put("tls_handshake_us", None)
        put("ttfb_us", None if connect_error else 20_000 + i % 1_000)
        put("transfer_us", None if connect_error else 40 + i % 10)
        put("total_us", 25_000 + i % 5_000)
        put("processing_us", 26_000 + i % 5_000)
        put("retry_type", "fast" if failed else None)
        put("retry_after_seconds", 5 if failed else None)
        put("next_attempt_at", started + timedelta(seconds=5) if failed else None)
        put("due_at", started - timedelta(milliseconds=2))
        put("started_at", started)
        put("finished_at", started + timedelta(microseconds=25_000 + i % 5_000))
        put("worker_id", f"worker-{i % 3}")
        put("version", version)
        put("expunged", 0)
    return cols


def insert_attempts(client: Client, cols: dict[str, list[Any]], table: str = "attempts") -> None:
    client.insert(table, list(cols.values()), column_names=list(cols), column_oriented=True)


def test_connect_creates_directory_database_and_shares_the_engine(
    tmp_path_factory: pytest.TempPathFactory, chdb_url: str
) -> None:
    first = connect(chdb_url, "shared_engine")
    second = connect(chdb_url + "/", "shared_engine")  # same directory, another spelling
    try:
        assert Path(chdb_url.removeprefix("chdb://")).is_dir()
        first.command("CREATE TABLE IF NOT EXISTS t (x UInt8) ENGINE = MergeTree ORDER BY x")
        first.insert("t", [[1], [2]], column_names=["x"])
        assert second.command("SELECT count() FROM t") == 2
        ping(second)
        second.close()
        with pytest.raises(ClickHouseUnavailable, match="closed"):
            ping(second)
        # `first` still pins the process's one engine to its directory.
        with pytest.raises(ClickHouseUnavailable, match="EmbeddedServer already initialized"):
            connect(f"chdb://{tmp_path_factory.mktemp('other')}", "x")
    finally:
        first.command("DROP DATABASE shared_engine")
        first.close()
        second.close()
    with pytest.raises(ValueError, match="three slashes"):
        connect("chdb://relative/dir", "x")


# Every numbered file of schemas/clickhouse, in order: a migration left out of the run would show here.
SHIPPED = sorted(path.stem for path in (REPO / "schemas/clickhouse").glob("*.sql"))


def test_migrations_from_scratch_create_every_attempt_field(fresh: Client) -> None:
    applied = apply_migrations(fresh)
    assert applied[:3] == ["001_projection", "002_status", "003_rollups"]
    assert applied == SHIPPED
    tables = {row[0] for row in fresh.query("SHOW TABLES").result_rows}
    assert {
        "schema_migrations",
        "attempts",
        "attempts_by_msg",
        "messages",
        "endpoints",
        "applications",
        "event_types",
    } <= tables
    avro = json.loads((REPO / "schemas/avro/AttemptFinished.avsc").read_text())
    columns = {
        row[0]: row[1]
        for row in fresh.query(
            "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'attempts'"
        ).result_rows
    }
    # payload and accepted_at ride along only for the scheduler's next task; `messages` holds them.
    fields = {f["name"] for f in avro["fields"]} - {"payload", "accepted_at"}
    assert fields | {"version", "expunged"} == set(columns)
    assert columns["attempt_id"] == "UUID"
    assert columns["dns_us"] == "Nullable(UInt64)"
    assert columns["started_at"] == "DateTime64(6, 'UTC')"
    tables_meta = fresh.query(
        "SELECT name, sorting_key, partition_key FROM system.tables WHERE database = currentDatabase()"
        " AND name IN ('attempts', 'attempts_by_msg')"
    ).result_rows
    assert sorted(tables_meta) == [
        ("attempts", "app_id, endpoint_id, started_at, attempt_id", ""),
        ("attempts_by_msg", "app_id, msg_id, started_at, attempt_id", ""),
    ]
    skip = fresh.query(
        "SELECT table, name, type FROM system.data_skipping_indices WHERE database = currentDatabase()"
        " AND table LIKE 'attempts%'"
    ).result_rows
    assert skip == [("attempts", "idx_msg_id", "bloom_filter")]
    ledger = fresh.query("SELECT version, name, length(checksum) FROM schema_migrations").result_rows
    assert sorted(ledger) == [(int(name[:3]), name, 64) for name in SHIPPED]


def test_migrations_second_run_applies_nothing(fresh: Client) -> None:
    assert apply_migrations(fresh) == SHIPPED
    assert apply_migrations(fresh) == []
    assert fresh.command("SELECT count() FROM schema_migrations") == len(SHIPPED)


def test_changed_migration_is_refused_by_name(fresh: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "001_first.sql"
    first.write_text(
        "-- a; comment\nCREATE TABLE IF NOT EXISTS a (s String DEFAULT 'x;y') ENGINE = Memory;\n"
        "/* ; */ CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = Memory;\n"
    )
    monkeypatch.setenv(MIGRATIONS_DIR_ENV, str(tmp_path))
    assert default_migrations_dir() == tmp_path
    assert apply_migrations(fresh) == ["001_first"]
    (tmp_path / "002_second.sql").write_text("CREATE TABLE IF NOT EXISTS c (x UInt8) ENGINE = Memory\n")
    assert apply_migrations(fresh, tmp_path) == ["002_second"]
    first.write_text(first.read_text() + "CREATE TABLE IF NOT EXISTS d (x UInt8) ENGINE = Memory;\n")
    (tmp_path / "003_third.sql").write_text("CREATE TABLE IF NOT EXISTS e (x UInt8) ENGINE = Memory;\n")
    with pytest.raises(MigrationError, match=r"001_first.*changed after it was applied"):
        apply_migrations(fresh, tmp_path)
    tables = {row[0] for row in fresh.query("SHOW TABLES").result_rows}
    assert "d" not in tables and "e" not in tables  # nothing ran after the mismatch was found
    (tmp_path / "4_bad-name.sql").write_text("SELECT 1")
    with pytest.raises(MigrationError, match=r"4_bad-name\.sql"):
        apply_migrations(fresh, tmp_path)


def test_split_statements_keeps_quoted_semicolons() -> None:
    sql = '-- c;\nSELECT \'a;--b\' AS `x;y`; /* x; */\nSELECT "q""; ";\n\n-- trailing\n'
    assert split_statements(sql) == ["SELECT 'a;--b' AS `x;y`", 'SELECT "q""; "']


def test_100k_attempts_insert_and_filter(migrated: Client) -> None:
    everything = attempt_columns(0, ROWS)
    for start in range(0, ROWS, 25_000):
        insert_attempts(migrated, {name: values[start : start + 25_000] for name, values in everything.items()})
    assert migrated.command("SELECT count() FROM attempts") == ROWS
    assert migrated.command("SELECT count() FROM attempts_by_msg") == ROWS

    app, endpoint = 1, 3
    low, high = BASE + timedelta(hours=3), BASE + timedelta(hours=20)
    expected = [
        i
        for i in range(ROWS)
        if everything["app_id"][i] == str(APPS[app])
        and everything["endpoint_id"][i] == _endpoint(app, endpoint)
        and everything["status"][i] == "failed"
        and low <= everything["started_at"][i] < high
    ]
    assert len(expected) > 50
    params = {"app": APPS[app], "ep": _endpoint(app, endpoint), "low": low, "high": high}
    where = (
        "app_id = {app:UUID} AND endpoint_id = {ep:UUID} AND status = 'failed'"
        " AND started_at >= {low:DateTime64(6, 'UTC')} AND started_at < {high:DateTime64(6, 'UTC')}"
    )
    assert migrated.command(f"SELECT count() FROM attempts WHERE {where}", parameters=params) == len(expected)

    page = migrated.query(
        "SELECT attempt_id, response_status, error_class, dns_us, ttfb_us, started_at, response_body"
        f" FROM attempts WHERE {where} ORDER BY started_at DESC, attempt_id DESC LIMIT 1 BY attempt_id LIMIT 50",
        parameters=params,
        column_formats={"response_body": "bytes"},
    ).result_rows
    assert len(page) == 50
    for row, i in zip(page, reversed(expected), strict=False):
        assert str(row[0]) == everything["attempt_id"][i]
        assert row[1] == everything["response_status"][i]
        assert row[2] == everything["error_class"][i]
        assert row[3] == everything["dns_us"][i]
        assert row[4] == everything["ttfb_us"][i]
        assert row[5].replace(tzinfo=UTC) == everything["started_at"][i]  # microseconds survive
        assert row[6] == everything["response_body"][i]

    msg = everything["msg_id"][expected[0]]
    by_msg = migrated.query(
        "SELECT attempt_number, request_headers FROM attempts_by_msg WHERE app_id = {app:UUID}"
        " AND msg_id = {msg:UUID} ORDER BY started_at LIMIT 1 BY attempt_id",
        parameters={"app": APPS[app], "msg": msg},
    ).result_rows
    assert [r[0] for r in by_msg] == [1, 2]
    assert by_msg[0][1]["webhook-id"] == msg


def test_replacing_merge_tree_dedupes_reinserted_and_updated_rows(fresh: Client) -> None:
    apply_migrations(fresh)
    fresh.command("SYSTEM STOP MERGES attempts")  # keep the duplicates visible until we merge
    batch = attempt_columns(500_000, 1_000)
    insert_attempts(fresh, batch)
    insert_attempts(fresh, batch)  # a replayed batch: identical rows
    expunge = {name: values[:1] for name, values in attempt_columns(500_000, 1, version=2).items()}
    expunge["expunged"], expunge["response_body"], expunge["response_headers"] = [1], [None], [{}]
    insert_attempts(fresh, expunge)

    assert fresh.command("SELECT count() FROM attempts") == 2_001
    latest = fresh.query(
        "SELECT attempt_id, expunged FROM attempts ORDER BY attempt_id, version DESC LIMIT 1 BY attempt_id"
    ).result_rows
    assert len(latest) == 1_000
    assert dict((str(a), e) for a, e in latest)[batch["attempt_id"][0]] == 1

    fresh.command("SYSTEM START MERGES attempts")
    for table in ("attempts", "attempts_by_msg"):
        fresh.command(f"OPTIMIZE TABLE {table} FINAL")
        assert fresh.command(f"SELECT count() FROM {table}") == 1_000
        assert fresh.command(f"SELECT sum(expunged) FROM {table}") == 1
        assert (
            fresh.command(
                f"SELECT countIf(response_body IS NULL) FROM {table} WHERE attempt_id = {{a:UUID}}",
                parameters={"a": batch["attempt_id"][0]},
            )
            == 1
        )


def test_payload_ttl_clears_old_bodies_and_keeps_the_row(fresh: Client) -> None:
    apply_migrations(fresh)
    old = attempt_columns(0, 2)
    old["started_at"] = [datetime.now(UTC) - timedelta(days=91), datetime.now(UTC) - timedelta(days=89)]
    insert_attempts(fresh, old)
    fresh.command("OPTIMIZE TABLE attempts FINAL")
    rows = fresh.query("SELECT response_body, request_headers, total_us FROM attempts ORDER BY started_at").result_rows
    assert rows[0] == (None, {}, old["total_us"][0])
    assert rows[1][0] is not None and rows[1][1] == old["request_headers"][1]


async def test_attempt_lists_page_over_replayed_versions_one_attempt_each(fresh: Client) -> None:
    """Every version of an attempt is read, the newest shown, each attempt once, across pages.

    Five replays of every row make a page of raw rows hold fewer attempts than asked for, so the
    list has to read again, larger; the expunge is the newest version of one attempt and must win.
    """
    apply_migrations(fresh)
    fresh.command("SYSTEM STOP MERGES attempts")
    batch = attempt_columns(700_000, 400)
    for _ in range(5):
        insert_attempts(fresh, batch)
    expunge = {name: values[-2:-1] for name, values in attempt_columns(700_000, 400, version=2).items()}
    expunge["expunged"], expunge["response_body"], expunge["response_headers"] = [1], [None], [{}]
    insert_attempts(fresh, expunge)
    app, endpoint = uuid.UUID(batch["app_id"][-2]), uuid.UUID(batch["endpoint_id"][-2])
    expected = [
        uuid.UUID(a) for a, e, s in sorted(zip(batch["attempt_id"], batch["endpoint_id"], batch["started_at"],
                                               strict=True), key=lambda r: (r[2], r[0]), reverse=True)
        if e == str(endpoint)
    ]  # fmt: skip

    seen: list[uuid.UUID] = []
    position: Position | None = None
    while True:
        page = await list_attempts(fresh, AttemptFilter(app, endpoint_id=endpoint, with_content=True), 3, position)
        seen += [row["attempt_id"] for row in page.items]
        for row in page.items:
            if row["attempt_id"] == uuid.UUID(batch["attempt_id"][-2]):
                assert row["expunged"] == 1 and row["response_body"] is None
            else:
                assert row["version"] == 1 and row["expunged"] == 0
        if page.done:
            break
        last = page.items[-1]
        position = Position(last["started_at"], last["attempt_id"])
    assert seen == expected and len(expected) > 6
