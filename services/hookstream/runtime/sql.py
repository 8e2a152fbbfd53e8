"""``hookstream sql "<query>"``: read-only SQL against the configured ClickHouse, printed as a table or JSON.

Read-only is ClickHouse's own ``readonly=1`` on the query, not a keyword
check here: the engine refuses writes, DDL and attempts to change settings
(``SETTINGS readonly=0`` included), whatever the spelling.

On chDB, clickhouse-connect applies per-query settings with ``SET`` on the
client's session and restores them afterwards, and the restore of
``readonly`` is itself refused in read-only mode: the session stays
read-only. So a read-only query always gets a client of its own
(``query_readonly``), never one the caller keeps writing with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.runtime.clickhouse import connect

__all__ = ["QueryRefused", "SqlResult", "format_json", "format_table", "query_readonly", "run_readonly"]


class QueryRefused(RuntimeError):
    """ClickHouse refused the query (a write under readonly, a syntax error, ...); the message is its reason."""


@dataclass(frozen=True, slots=True)
class SqlResult:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def query_readonly(url: str, database: str, sql: str) -> SqlResult:
    """Run ``sql`` read-only on a client opened for it alone, and close that client."""
    client = connect(url, database)
    try:
        return run_readonly(client, sql)
    finally:
        client.close()


def run_readonly(client: Client, sql: str) -> SqlResult:
    """Run ``sql`` with ``readonly=1``; on chDB the client's session stays read-only afterwards (see above)."""
    try:
        result = client.query(sql, settings={"readonly": 1})
    except Exception as exc:  # the driver raises several types; every one is a refusal to report
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "READONLY" in str(exc) or "readonly" in str(exc):
            reason = f"read-only: only SELECT-like queries may run here ({reason})"
        raise QueryRefused(reason) from exc
    return SqlResult(tuple(result.column_names), [tuple(row) for row in result.result_rows])


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def format_table(result: SqlResult) -> str:
    """Aligned columns under a header and a rule; numbers right-aligned, everything else left."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(result.columns)]
    numeric = [all(isinstance(row[i], int | float) for row in result.rows) and bool(result.rows)
               for i in range(len(result.columns))]  # fmt: skip

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(result.columns), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    out.append(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})")
    return "\n".join(out)


def format_json(result: SqlResult) -> str:
    """A JSON array of objects, one per row; values JSON lacks (UUID, datetime, Decimal) as strings."""
    rows = [dict(zip(result.columns, row, strict=True)) for row in result.rows]
    return json.dumps(rows, default=_cell, ensure_ascii=False, indent=2)
