"""The store's reading of an HTTP request: statement kinds, inline insert data, settings, errors, credentials."""

from __future__ import annotations

import base64
import gzip
import zlib

import lz4.frame
import pytest
from backports import zstd

from hookstream.store import statements
from hookstream.store.errors import ClickHouseError
from hookstream.store.request import compressed_answer, decompress, parameters, statement
from hookstream.store.users import credentials, load_users

try:
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:  # before Python 3.14
    from backports import zstd  # type: ignore[no-redef]

NATIVE = b"\t\x02\x01a\x06UInt8\x01\x02"  # starts with a tab (9 columns): whitespace that is data


def test_an_insert_body_splits_after_the_first_newline_past_the_format() -> None:
    body = b"INSERT INTO db.t (`a`, `format`) FORMAT Native\n" + NATIVE
    insert = statements.inline_insert(body)
    assert insert is not None
    assert (insert.target, insert.settings, insert.fmt) == ("INSERT INTO db.t (`a`, `format`)", "", "Native")
    assert body[insert.data_start :] == NATIVE


def test_an_insert_keeps_its_settings_clause_apart() -> None:
    insert = statements.inline_insert(b"insert into t SETTINGS async_insert=0 format TSV 1\t2\n")
    assert insert is not None
    assert (insert.target, insert.settings, insert.fmt) == ("insert into t", "SETTINGS async_insert=0", "TSV")


@pytest.mark.parametrize(
    "sql",
    [b"INSERT INTO t VALUES ('FORMAT Native')", b"INSERT INTO t SELECT 1 FORMAT X", b"SELECT 1 FORMAT TSV", b""],
)
def test_other_statements_have_no_inline_data(sql: bytes) -> None:
    assert statements.inline_insert(sql) is None


def test_kinds_skip_comments_and_quotes() -> None:
    assert statements.kind("  -- note\n/* c */ select 1") == "SELECT"
    assert statements.is_read("WITH 1 AS x SELECT x") and statements.is_read("(SELECT 1)")
    assert not statements.is_read("INSERT INTO t VALUES (1)")
    assert statements.several("SELECT 1; DROP TABLE t") and not statements.several("SELECT ';'; -- done\n")
    assert not statements.several("SELECT 1 FROM t WHERE a = {a:String} ORDER BY b LIMIT 100")
    assert statements.makes_result("CREATE TABLE t (a UInt8) ENGINE=Log") is False
    assert statements.trailing_format("SELECT 1 FORMAT JSONEachRow;") == "JSONEachRow"


def test_a_request_reads_as_clickhouse_reads_it() -> None:
    query = {"query": "INSERT INTO t FORMAT TSV", "database": "d", "max_threads": "2", "param_x": "7",
             "query_id": "q", "session_id": "s", "wait_end_of_query": "1", "enable_http_compression": "1"}  # fmt: skip
    got = statement(query, b"1\n2\n", method="POST")
    assert got.insert is not None and got.data == b"1\n2\n"
    assert (got.database, got.settings, got.params) == ("d", {"max_threads": "2"}, {"x": "7"})
    select = statement({"default_format": "JSONCompact"}, b"SELECT 1", method="GET")
    assert (select.sql, select.fmt, select.database, select.read_only_method) == ("SELECT 1", "JSONCompact",
                                                                                  "default", True)  # fmt: skip
    assert select.output_format == "JSONCompact"
    with pytest.raises(ClickHouseError) as empty:
        statement({}, b"  ", method="POST")
    assert (empty.value.code, empty.value.status) == (36, 400)
    with pytest.raises(ClickHouseError):
        statement({"bad name": "1", "query": "SELECT 1"}, b"", method="GET")
    asked = statement({"query": "SELECT 1", "readonly": "1", "max_threads": "1"}, b"", method="POST")
    assert (asked.readonly, asked.settings) == (1, {"max_threads": "1"}), "readonly picks handles, it is no SET"
    with pytest.raises(ClickHouseError):
        statement({"query": "SELECT 1", "readonly": "yes"}, b"", method="POST")


PACKERS = [("lz4", lz4.frame.compress), ("zstd", zstd.compress), ("gzip", gzip.compress), ("deflate", zlib.compress)]


@pytest.mark.parametrize(("encoding", "pack"), [*PACKERS, ("", lambda b: b)])
def test_bodies_inflate(encoding: str, pack) -> None:  # type: ignore[no-untyped-def]
    assert decompress(pack(b"SELECT 1"), encoding, 100) == b"SELECT 1"
    assert decompress(pack(b"SELECT 1") + pack(b" + 1"), encoding, 100) == b"SELECT 1 + 1", "frames in a row"


def test_every_lz4_frame_of_a_body_is_inflated() -> None:
    """clickhouse-connect sends a large insert as one lz4 frame per block: none may be dropped."""
    blocks = [bytes([n]) * 100_000 for n in range(3)]
    assert decompress(b"".join(lz4.frame.compress(block) for block in blocks), "lz4", 1_000_000) == b"".join(blocks)
    with pytest.raises(ClickHouseError):
        decompress(lz4.frame.compress(blocks[0]) + lz4.frame.compress(blocks[1])[:50], "lz4", 1_000_000)


@pytest.mark.parametrize(("encoding", "pack"), PACKERS)
def test_a_body_inflating_past_the_limit_is_refused_as_clickhouse_does(encoding: str, pack) -> None:  # type: ignore[no-untyped-def]
    bomb = pack(b"\0" * 1_000_000)  # a thousand times smaller packed
    assert decompress(bomb, encoding, 1_000_000) == b"\0" * 1_000_000
    with pytest.raises(ClickHouseError) as refused:
        decompress(bomb, encoding, 999_999)
    assert (refused.value.code, refused.value.name, refused.value.status) == (229, "QUERY_IS_TOO_LARGE", 413)
    with pytest.raises(ClickHouseError) as refused:
        decompress(pack(b"\0" * 600_000) * 2, encoding, 1_000_000)
    assert refused.value.name == "QUERY_IS_TOO_LARGE", "the limit counts every frame"


@pytest.mark.parametrize("body", [b"not lz4", lz4.frame.compress(b"SELECT 1")[:-3]])
def test_a_corrupt_or_cut_body_is_a_clickhouse_error(body: bytes) -> None:
    with pytest.raises(ClickHouseError) as corrupt:
        decompress(body, "lz4", 100)
    assert corrupt.value.name == "CANNOT_DECOMPRESS"


def test_engine_errors_keep_their_code_name_and_status() -> None:
    error = ClickHouseError.from_engine(RuntimeError("boom Code: 60. DB::Exception: Unknown table x. (UNKNOWN_TABLE)"))
    assert (error.code, error.name, error.status) == (60, "UNKNOWN_TABLE", 404)
    assert error.text.startswith("Code: 60.")
    assert ClickHouseError.from_engine(RuntimeError("Code: 164. DB::Exception: no. (READONLY)")).status == 500
    assert ClickHouseError.from_engine(RuntimeError("Code: 62. DB::Exception: x. (SYNTAX_ERROR)")).status == 400


def test_credentials_in_every_place_clickhouse_reads_them(tmp_path) -> None:  # type: ignore[no-untyped-def]
    basic = "Basic " + base64.b64encode(b"u:p:q").decode()
    assert credentials({"Authorization": basic}, {}) == ("u", "p:q")
    assert credentials({"X-ClickHouse-User": "h", "X-ClickHouse-Key": "k", "Authorization": basic}, {}) == ("h", "k")
    assert credentials({}, {"user": "a", "password": "b"}) == ("a", "b")
    assert credentials({}, {}) == ("", "")
    users, created = load_users(tmp_path)
    again, created_again = load_users(tmp_path)
    assert created and not created_again and again == users
    assert (tmp_path / users.path.name).stat().st_mode & 0o777 == 0o600
    assert users.authenticate(users.reader.name, users.reader.password).readonly
    for name, password in (("default", ""), (users.writer.name, users.reader.password)):
        with pytest.raises(ClickHouseError) as refused:
            users.authenticate(name, password)
        assert (refused.value.code, refused.value.status) == (516, 403)


def test_database_and_format_headers_stand_for_their_url_parameters() -> None:
    """The official Java client sends the database and the format as headers, not URL parameters."""
    headers = {"X-ClickHouse-Database": "analytics_db", "X-ClickHouse-Format": "RowBinaryWithNamesAndTypes"}
    read = statement(parameters({"query_id": "q"}, headers), b"SELECT 1", method="POST")
    assert (read.database, read.output_format, read.settings) == ("analytics_db", "RowBinaryWithNamesAndTypes", {})
    url = {"database": "url_db", "default_format": "JSON"}
    assert parameters(url, {}) == url
    assert parameters(url, headers) == {"database": "analytics_db", "default_format": "RowBinaryWithNamesAndTypes"}
    assert (
        compressed_answer({"compress": "1"}) and not compressed_answer({}) and not compressed_answer({"compress": "0"})
    )
