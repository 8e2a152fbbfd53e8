"""The official ClickHouse JDBC driver (DBeaver's, Metabase's) reads typed columns from the store.

tests/jdbc/Query.java connects with ``jdbc:clickhouse://127.0.0.1:<port>/<db>``
over HTTP as the read-only ``analytics`` user, as docs/analytics.md tells a
BI tool to, and prints each cell with the Java class the driver mapped it
to. The driver's defaults are kept: it asks for RowBinaryWithNamesAndTypes
by header and for ClickHouse's own compressed blocks, so both are proven.
The JVM runs in a timezone other than UTC: the driver maps a DateTime64 to
the java.sql.Timestamp of the column's wall clock, whatever the JVM's zone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from hookstream.store.users import READER
from tests.support import jdbc
from tests.support.store import Store, served_store

pytestmark = pytest.mark.integration

TABLE = """
CREATE TABLE {db}.typed (
    id UUID, at DateTime64(6, 'UTC'), tags Array(String), note Nullable(String), n UInt64, x Float64
) ENGINE = MergeTree ORDER BY n
"""
ROWS = [
    (uuid.UUID(int=1), datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), ["a", "b, c"], None, 2**64 - 1, 1.5),
    (uuid.UUID("8f0b7c1e-2d4a-4b6e-9c3f-0a1b2c3d4e5f"), datetime(2026, 7, 1, 0, 0, tzinfo=UTC), [], "it's", 2, -0.25),
]
HEADER = "id:UUID\tat:DateTime64(6, 'UTC')\ttags:Array(String)\tnote:Nullable(String)\tn:UInt64\tx:Float64"
PRINTED = [
    "java.util.UUID=8f0b7c1e-2d4a-4b6e-9c3f-0a1b2c3d4e5f\tjava.sql.Timestamp=2026-07-01 00:00:00.0\t[]"
    "\tjava.lang.String=it's\tjava.math.BigInteger=2\tjava.lang.Double=-0.25",
    "java.util.UUID=00000000-0000-0000-0000-000000000001\tjava.sql.Timestamp=2026-01-02 03:04:05.123456"
    "\t[java.lang.String=a, java.lang.String=b, c]\tnull\tjava.math.BigInteger=18446744073709551615"
    "\tjava.lang.Double=1.5",
]


@dataclass(frozen=True)
class Loaded:
    store: Store
    database: str
    program: jdbc.JdbcQuery

    @property
    def url(self) -> str:
        return f"jdbc:clickhouse://127.0.0.1:{self.store.port}/{self.database}"

    def query(self, sql: str, user: str = READER) -> tuple[int, str, str]:
        result = self.program.run(self.url, user, self.store.passwords[user], sql)
        return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="session")
def jdbc_query() -> jdbc.JdbcQuery:
    """Built once per session; a build that fails fails the test (CI has Java 17 and Maven), it never skips."""
    try:
        built = jdbc.build()
    except jdbc.BuildFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    print(f"\nJDBC probe built in {built.build_seconds:.1f} s")
    return built


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, jdbc_query: jdbc.JdbcQuery) -> Iterator[Loaded]:
    with served_store(tmp_path_factory.mktemp("store")) as store:
        database = f"t_{uuid.uuid4().hex[:12]}"
        writer = store.client()
        writer.command(f"CREATE DATABASE {database}")
        writer.command(TABLE.format(db=database))
        writer.insert(f"{database}.typed", ROWS, column_names=["id", "at", "tags", "note", "n", "x"])
        yield Loaded(store, database, jdbc_query)
        writer.close()


def test_the_read_only_user_reads_typed_columns(loaded: Loaded) -> None:
    code, out, err = loaded.query("SELECT id, at, tags, note, n, x FROM typed ORDER BY n")
    assert code == 0, err
    assert out.splitlines() == [HEADER, *PRINTED]


def test_a_large_answer_comes_back_whole_through_compressed_blocks(loaded: Loaded) -> None:
    code, out, err = loaded.query("SELECT number, toString(number) FROM system.numbers LIMIT 300000")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "number:UInt64\ttoString(number):String" and len(lines) == 300_001
    assert lines[-1] == "java.math.BigInteger=299999\tjava.lang.String=299999"


def test_an_insert_as_the_read_only_user_is_refused_and_changes_nothing(loaded: Loaded) -> None:
    code, out, err = loaded.query("INSERT INTO typed (n) VALUES (7)")
    assert code == 1 and out == ""
    assert "Code: 164" in err and "READONLY" in err
    code, out, err = loaded.query("SELECT count() FROM typed")
    assert (code, out.splitlines()) == (0, ["count():UInt64", "java.math.BigInteger=2"]), err
