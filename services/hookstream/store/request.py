"""An HTTP request read as ClickHouse reads it: the statement, its inline data, database, format, settings, params.

The query is the ``query`` URL parameter, the body, or both (the parameter,
a newline, then the body: how ``INSERT ... FORMAT f`` in the URL takes its
data from the body). A compressed body (``Content-Encoding`` lz4, zstd,
gzip, deflate, as clickhouse-connect sends inserts) is inflated first. URL
parameters that are not settings (transport and client options, as
clickhouse-connect's own chDB backend lists them) are dropped, the rest are
settings for this one statement. ``X-ClickHouse-Database`` and
``X-ClickHouse-Format`` headers stand for ``database`` and ``default_format``
(how the official Java client sends them), the header winning as in ClickHouse.
A ``compress=1`` request is answered in ClickHouse's compressed blocks.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from hookstream.store import statements
from hookstream.store.errors import BAD_ARGUMENTS, CANNOT_DECOMPRESS, ClickHouseError

# Parameters the HTTP layer consumes; every other one is a setting.
_NOT_SETTINGS = frozenset(
    [
        "query",
        "database",
        "default_format",
        "user",
        "password",
        "quota_key",
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "buffer_size",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "enable_http_compression",
        "http_response_buffer_size",
        "http_wait_end_of_query",
        "cancel_http_readonly_queries_on_client_close",
        "http_native_compression_disable_checksumming_on_decompress",
    ]
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DEFAULT_FORMAT = "TabSeparated"
_HEADER_PARAMETERS = (("X-ClickHouse-Database", "database"), ("X-ClickHouse-Format", "default_format"))


@dataclass(frozen=True)
class Statement:
    """One statement to run, with everything the engine needs and nothing of HTTP."""

    sql: str
    database: str
    fmt: str
    settings: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    insert: statements.InlineInsert | None = None
    data: bytes = b""
    read_only_method: bool = False  # GET: ClickHouse lets it read only
    readonly: int | None = None  # the ``readonly`` URL parameter, which picks the engine handles rather than a SET

    @property
    def output_format(self) -> str | None:
        if self.insert is not None or not statements.makes_result(self.sql):
            return None
        return statements.trailing_format(self.sql) or self.fmt


def decompress(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("", "identity"):
            return body
        if encoding == "lz4":
            return _lz4_frames(body)
        if encoding == "zstd":
            try:
                from compression import zstd  # type: ignore[import-not-found]
            except ImportError:
                from backports import zstd  # type: ignore[no-redef]
            return zstd.decompress(body)
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
    except Exception as exc:
        raise ClickHouseError.raised(CANNOT_DECOMPRESS, f"Cannot decompress the {encoding} body: {exc}") from exc
    raise ClickHouseError.raised(BAD_ARGUMENTS, f"Unknown Content-Encoding {encoding!r}")


def _lz4_frames(body: bytes) -> bytes:
    """Every frame of an lz4 body, in order. clickhouse-connect streams a large insert as one frame per block
    (8,192 rows of a wide table), and ``lz4.frame.decompress`` stops after the first, dropping the rest."""
    import lz4.frame

    out = []
    while body:
        frame = lz4.frame.LZ4FrameDecompressor()
        out.append(frame.decompress(body))
        if not frame.eof:
            raise ValueError("the body ends inside an lz4 frame")
        body = frame.unused_data
    return b"".join(out)


def parameters(query: Mapping[str, str], headers: Mapping[str, str]) -> dict[str, str]:
    """The URL parameters with what ClickHouse also takes from headers folded in."""
    merged = dict(query)
    for header, name in _HEADER_PARAMETERS:
        if headers.get(header):
            merged[name] = headers[header]
    return merged


def compressed_answer(query: Mapping[str, str]) -> bool:
    return query.get("compress", "").strip().lower() in ("1", "true")


def settings_of(query: Mapping[str, str]) -> dict[str, str]:
    settings = {}
    for name, value in query.items():
        if name in _NOT_SETTINGS or name.startswith("param_"):
            continue
        if not _SETTING_NAME.match(name):
            raise ClickHouseError.raised(BAD_ARGUMENTS, f"Invalid setting name {name!r}")
        settings[name] = value
    return settings


def statement(query: Mapping[str, str], body: bytes, *, method: str) -> Statement:
    """The statement a request carries; ``body`` is already decompressed."""
    text = query.get("query", "")
    raw = (text.encode() + b"\n" + body) if text and body else (text.encode() or body)
    if not raw.strip():
        raise ClickHouseError.raised(BAD_ARGUMENTS, "Empty query")
    insert = statements.inline_insert(raw)
    if insert is not None:
        sql, data = raw[: insert.data_start].decode(errors="replace"), raw[insert.data_start :]
    else:
        try:
            sql, data = raw.decode(), b""
        except UnicodeDecodeError as exc:
            raise ClickHouseError.raised(BAD_ARGUMENTS, f"The query is not UTF-8: {exc}") from exc
    settings = settings_of(query)
    readonly = settings.pop("readonly", None)
    if readonly is not None and readonly not in ("0", "1", "2"):
        raise ClickHouseError.raised(BAD_ARGUMENTS, f"readonly must be 0, 1 or 2, not {readonly!r}")
    return Statement(
        sql=sql,
        database=query.get("database") or "default",
        fmt=query.get("default_format") or DEFAULT_FORMAT,
        settings=settings,
        params={name[6:]: value for name, value in query.items() if name.startswith("param_")},
        insert=insert,
        data=data,
        read_only_method=method in ("GET", "HEAD"),
        readonly=None if readonly is None else int(readonly),
    )
