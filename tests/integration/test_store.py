"""The store process: chDB behind ClickHouse's HTTP interface, driven by real clients.

The store runs as production runs it, ``python -m hookstream.cli store`` in a
process of its own on a chDB directory of its own, so this module's clients
(clickhouse-connect, plain aiohttp, the project's own ``connect``) reach it
only over HTTP, and a second process on the same directory can be tried.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from hookstream.projector.migrations import apply_migrations
from hookstream.projector.rows import attempt_row, message_row
from hookstream.projector.store import write_rows
from hookstream.query.attempts import AttemptFilter, list_attempts
from hookstream.runtime.clickhouse import connect
from hookstream.runtime.sql import QueryRefused, run_readonly
from hookstream.store.users import CREDENTIALS_FILE, READER, WRITER
from tests.support import builders
from tests.support.store import Store, basic, served_store, start_store

pytestmark = pytest.mark.integration

HANDLES = 2  # per pool; requests taken in turn, so HANDLES + 1 in a row reuse one handle


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    path = tmp_path_factory.mktemp("store")
    with served_store(path, HANDLES) as store:
        assert (path / CREDENTIALS_FILE).stat().st_mode & 0o777 == 0o600
        banner = store.banner
        assert not any("password" in line and ":***@" not in line and CREDENTIALS_FILE not in line for line in banner)
        yield store


@pytest.fixture
def database(store: Store) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = store.client()
    admin.command(f"CREATE DATABASE {name}")
    yield name
    admin.command(f"DROP DATABASE IF EXISTS {name}")
    admin.close()


TYPED = """
CREATE TABLE {db}.typed (
    id UUID, at DateTime64(3, 'UTC'), tags Array(String), note Nullable(String),
    attrs Map(String, UInt32), amount Decimal(18, 4), n UInt32
) ENGINE = MergeTree ORDER BY (n, id)
"""


@pytest.mark.parametrize("compress", [True, "lz4", "zstd", "gzip", False])
def test_typed_insert_and_query_with_every_compression(store: Store, database: str, compress: bool | str) -> None:
    client = store.client(database=database, compress=compress)
    client.command(TYPED.format(db=database))
    at = datetime(2026, 1, 2, 3, 4, 5, 678000)
    rows = [
        (uuid.UUID(int=i + 1), at + timedelta(seconds=i), [f"t{i}", "x"] if i % 2 else [],
         None if i % 3 == 0 else f"note {i}", {"a": i, "b": 2 * i}, Decimal("1.2500") * i, i)
        for i in range(1000)
    ]  # fmt: skip
    summary = client.insert("typed", rows, column_names=["id", "at", "tags", "note", "attrs", "amount", "n"])
    assert summary.written_rows == 1000
    result = client.query("SELECT id, at, tags, note, attrs, amount, n FROM typed ORDER BY n")
    assert result.result_rows == rows
    assert result.column_types[0].name == "UUID"
    client.close()


@pytest.mark.parametrize("compress", [True, "lz4", "zstd", "gzip", False])
def test_an_insert_of_many_blocks_keeps_every_row(store: Store, database: str, compress: bool | str) -> None:
    """clickhouse-connect streams a large insert block by block (a compressed frame each): every block lands."""
    client = store.client(database=database, compress=compress)
    client.command("CREATE TABLE wide (n UInt32, s String) ENGINE = MergeTree ORDER BY n")
    client.insert("wide", [(n, "x" * 300) for n in range(30_000)], column_names=["n", "s"])
    assert client.query("SELECT count(), uniqExact(n) FROM wide").result_rows == [(30_000, 30_000)]
    client.close()


def test_bind_parameters_commands_and_settings(store: Store, database: str) -> None:
    client = store.client(database=database)
    assert client.query("SELECT {x:UInt32} + 1", parameters={"x": 41}).result_rows == [(42,)]
    assert client.query("SELECT %(s)s", parameters={"s": "it's"}).result_rows == [("it's",)]
    assert client.command("SELECT {a:String}", parameters={"a": "tab\there"}) == "tab\\there"
    assert client.command("SELECT currentDatabase()") == database
    for _ in range(HANDLES + 1):
        got = client.query("SELECT getSetting('max_threads')", settings={"max_threads": 3}).result_rows
        assert got == [(3,)]
        client.command("SET max_threads = 5")
    # A setting rides on its request only, a SET lasts for its statement: every engine handle is back to the default.
    for _ in range(HANDLES + 1):
        assert client.query("SELECT getSetting('max_threads')").result_rows not in ([(3,)], [(5,)])
    client.command("CREATE TABLE kv (k String, v UInt64) ENGINE = MergeTree ORDER BY k")
    client.command("INSERT INTO kv VALUES ('a', 1), ('b', 2)")
    assert client.command("SELECT sum(v) FROM kv") == 3
    assert client.query("SELECT k FROM kv ORDER BY k", settings={"max_block_size": 1}).result_rows == [("a",), ("b",)]
    client.close()


def test_readonly_asked_by_the_writer_lasts_for_its_request_only(store: Store, database: str) -> None:
    """``readonly`` from the URL or from SQL cannot be undone on an engine handle; it never outlives its request."""
    client = store.client(database=database)
    client.command("CREATE TABLE w (a UInt32) ENGINE = MergeTree ORDER BY a")
    for i in range(HANDLES + 1):
        assert client.query("SELECT count() FROM w", settings={"readonly": 1}).result_rows == [(i,)]
        with pytest.raises(DatabaseError) as refused:
            client.command("INSERT INTO w VALUES (0)", settings={"readonly": 1})
        assert refused.value.code == 164
        client.command("SET readonly = 1")
        client.insert("w", [(i,)], column_names=["a"])
    assert client.query("SELECT count() FROM w").result_rows == [(HANDLES + 1,)]
    client.close()


def test_errors_raise_the_client_database_error_with_the_code(store: Store, database: str) -> None:
    client = store.client(database=database)
    with pytest.raises(DatabaseError) as syntax:
        client.query("SELEC 1")
    assert syntax.value.code == 62 and "SYNTAX_ERROR" in str(syntax.value)
    with pytest.raises(DatabaseError) as unknown:
        client.query("SELECT * FROM no_such_table")
    assert unknown.value.code == 60
    with pytest.raises(DatabaseError) as command:
        client.command("DROP TABLE no_such_table")
    assert command.value.code == 60
    assert client.command("SELECT 1") == 1, "a failed statement leaves the client usable"
    client.close()


async def test_plain_http(store: Store, database: str) -> None:
    async with aiohttp.ClientSession(headers=store.auth()) as http:
        async with http.get(f"{store.url}/", params={"query": "SELECT 1"}) as response:
            assert response.status == 200 and await response.read() == b"1\n"
            assert response.headers["X-ClickHouse-Format"] == "TabSeparated"
            assert response.headers["X-ClickHouse-Timezone"].endswith("UTC")
            assert response.headers["X-ClickHouse-Server-Display-Name"]
            assert json.loads(response.headers["X-ClickHouse-Summary"])["read_rows"] == "1"
        async with http.post(f"{store.url}/", params={"query_id": "q-1"}, data=b"SELECT 1 + 1") as response:
            assert await response.read() == b"2\n" and response.headers["X-ClickHouse-Query-Id"] == "q-1"
        body = b"SELECT number AS n FROM system.numbers LIMIT 2 FORMAT JSONEachRow"
        async with http.post(f"{store.url}/", data=body) as response:
            assert await response.read() == b'{"n":0}\n{"n":1}\n'
            assert response.headers["X-ClickHouse-Format"] == "JSONEachRow"
        params = {"default_format": "JSONCompact", "database": database}
        async with http.post(f"{store.url}/", params=params, data=b"SELECT currentDatabase() AS d") as response:
            assert (await response.json())["data"] == [[database]]
        await http.post(f"{store.url}/", params={"database": database}, data=b"CREATE TABLE t (a UInt8) ENGINE = Log")
        query = {"database": database, "query": "INSERT INTO t FORMAT TSV"}
        async with http.post(f"{store.url}/", params=query, data=b"1\n2\n") as response:
            assert response.status == 200 and "X-ClickHouse-Format" not in response.headers
            assert json.loads(response.headers["X-ClickHouse-Summary"])["written_rows"] == "2"
        for insert, rows in (
            (b"INSERT INTO t VALUES (1), (2), (3)", "3"),
            (b"INSERT INTO t SELECT 0 FROM numbers(4)", "4"),
        ):
            async with http.post(f"{store.url}/", params={"database": database}, data=insert) as response:
                assert json.loads(response.headers["X-ClickHouse-Summary"])["written_rows"] == rows, insert
        async with http.get(f"{store.url}/", params={"database": database, "query": "SELECT sum(a) FROM t"}) as got:
            assert await got.read() == b"9\n"
        async with http.get(f"{store.url}/", params={"query": "SELECT * FROM nope"}) as response:
            assert response.status == 404 and response.headers["X-ClickHouse-Exception-Code"] == "60"
            assert (await response.text()).startswith("Code: 60. DB::Exception:")
        async with http.post(f"{store.url}/", data=b"SELECT (") as response:
            assert response.status == 400 and response.headers["X-ClickHouse-Exception-Code"] == "62"
        for refused in (f"DROP TABLE {database}.t", f"WITH 1 AS x INSERT INTO {database}.t SELECT x"):
            async with http.get(f"{store.url}/", params={"query": refused}) as response:
                assert response.headers["X-ClickHouse-Exception-Code"] == "164", "GET is read-only, as in ClickHouse"
        for threads in ["3"] * (HANDLES + 1) + [None] * (HANDLES + 1):  # allowed on GET; on their request only
            params = {"query": "SELECT getSetting('max_threads')", **({"max_threads": threads} if threads else {})}
            async with http.get(f"{store.url}/", params=params) as response:
                assert (await response.read() == b"3\n") == (threads is not None)
    async with aiohttp.ClientSession() as http, http.get(f"{store.url}/ping") as response:
        assert response.status == 200 and await response.text() == "Ok.\n"


async def test_credentials_are_required(store: Store) -> None:
    writer = store.passwords[WRITER]
    async with aiohttp.ClientSession() as http:
        refused = [
            {},
            {"headers": basic("default", "")},
            {"headers": basic(WRITER, "wrong")},
            {"headers": {"X-ClickHouse-User": READER, "X-ClickHouse-Key": writer}},
        ]
        for kwargs in refused:
            async with http.post(f"{store.url}/", data=b"SELECT 1", **kwargs) as response:  # type: ignore[arg-type]
                assert response.status == 403, kwargs
                assert response.headers["X-ClickHouse-Exception-Code"] == "516"
                assert "AUTHENTICATION_FAILED" in await response.text()
        accepted = [
            {"headers": store.auth()},
            {"headers": {"X-ClickHouse-User": WRITER, "X-ClickHouse-Key": writer}},
            {"params": {"user": WRITER, "password": writer}},
        ]
        for kwargs in accepted:
            async with http.post(f"{store.url}/", data=b"SELECT 1", **kwargs) as response:  # type: ignore[arg-type]
                assert response.status == 200 and await response.read() == b"1\n"
    with pytest.raises(DatabaseError) as refused_client:
        clickhouse_connect.get_client(host="127.0.0.1", port=store.port, username=WRITER, password="wrong")
    assert refused_client.value.code == 516


async def test_the_read_only_user_reads_and_changes_nothing(store: Store, database: str) -> None:
    writer = store.client(database=database)
    writer.command(f"CREATE TABLE {database}.r (a UInt32) ENGINE = MergeTree ORDER BY a")
    writer.insert("r", [(1,), (2,)], column_names=["a"])
    reader = store.client(READER, database=database)
    assert reader.query("SELECT sum(a) FROM r").result_rows == [(3,)]
    assert reader.query("SELECT {x:UInt8}", parameters={"x": 7}).result_rows == [(7,)]
    assert reader.command("SHOW TABLES") == "r"
    for statement in (
        "INSERT INTO r VALUES (3)",
        f"CREATE TABLE {database}.other (a UInt8) ENGINE = Log",
        "CREATE DATABASE elsewhere",
        "DROP TABLE r",
        "ALTER TABLE r DELETE WHERE 1",
        "TRUNCATE TABLE r",
        "SET readonly = 0",
        "SELECT 1 SETTINGS readonly = 0",
        "SELECT count() FROM file('/etc/hostname', LineAsString)",
        "WITH 1 AS x INSERT INTO r SELECT x",
    ):
        with pytest.raises(DatabaseError) as refused:
            reader.command(statement)
        assert refused.value.code == 164, statement
    with pytest.raises(DatabaseError) as several:
        reader.command("SELECT 1; DROP TABLE r")
    assert several.value.code == 62, "one statement per request, as ClickHouse's HTTP interface runs"
    with pytest.raises(DatabaseError) as refused_insert:
        reader.insert("r", [(9,)], column_names=["a"])
    assert refused_insert.value.code == 164
    async with aiohttp.ClientSession(headers=store.auth(READER)) as http:
        params = {"readonly": "0", "query": "SELECT 1"}
        async with http.post(f"{store.url}/", params=params) as response:
            assert response.headers["X-ClickHouse-Exception-Code"] == "164"
        body = f"INSERT INTO {database}.r FORMAT TSV\n5\n".encode()
        async with http.post(f"{store.url}/", data=body) as response:
            assert response.headers["X-ClickHouse-Exception-Code"] == "164"
    assert writer.query("SELECT count() FROM r").result_rows == [(2,)], "nothing the reader tried changed the table"
    reader.close()
    writer.close()


async def test_the_project_client_migrations_and_attempt_lists_through_the_store(store: Store) -> None:
    name = f"hs_{uuid.uuid4().hex[:10]}"
    client = connect(f"http://{WRITER}:{store.passwords[WRITER]}@127.0.0.1:{store.port}", name)
    assert apply_migrations(client), "the shipped migrations apply"
    assert apply_migrations(client) == []
    app_id, endpoint_id = str(uuid.uuid4()), str(uuid.uuid4())
    messages = [builders.message(app_id, "order.paid") for _ in range(5)]
    attempts = [builders.attempt(msg, endpoint_id) for msg in messages]
    write_rows(client, {"messages": [message_row(m).values for m in messages],
                        "attempts": [attempt_row(a).values for a in attempts]})  # fmt: skip
    assert run_readonly(client, "SELECT count() FROM attempts").rows == [(5,)], "what `hookstream sql` runs"
    with pytest.raises(QueryRefused):
        run_readonly(client, "DROP TABLE attempts")
    page = await list_attempts(client, AttemptFilter(uuid.UUID(app_id), endpoint_id=uuid.UUID(endpoint_id)), 3, None)
    assert len(page.items) == 3 and not page.done
    assert {row["attempt_id"] for row in page.items} <= {uuid.UUID(a["attempt_id"]) for a in attempts}
    client.command(f"DROP DATABASE {name}")
    client.close()


def test_a_second_process_on_the_directory_is_refused(store: Store) -> None:
    second = start_store(store.path)
    out, err = second.communicate(timeout=60)
    assert second.returncode != 0
    assert "already served by another store process" in out + err and "Traceback" not in err
    with store.client() as client:
        assert client.command("SELECT 1") == 1, "the running store is unaffected"


def test_run_roles_store_is_the_store(tmp_path: Path) -> None:
    """``hookstream run --roles store`` serves a directory as ``hookstream store`` does, and stops on SIGTERM."""
    with served_store(tmp_path / "store", as_role=True) as store:
        with urllib.request.urlopen(f"{store.url}/ping", timeout=10) as response:
            assert response.read() == b"Ok.\n"
        with store.client() as client:
            assert client.query("SELECT 40 + 2").result_rows == [(42,)]


def test_inserts_are_timed_in_utc(store: Store, database: str) -> None:
    """A naive datetime written and read back is the same instant: the store's timezone is UTC end to end."""
    client = store.client(database=database)
    client.command("CREATE TABLE ts (at DateTime64(6)) ENGINE = Memory")
    at = datetime.now(UTC).replace(tzinfo=None)
    client.insert("ts", [(at,)], column_names=["at"])
    assert client.query("SELECT at FROM ts").result_rows == [(at,)]
    client.close()
