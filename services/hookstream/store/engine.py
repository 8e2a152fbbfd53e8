"""chDB behind a pool of connection handles, each used by one request at a time on a worker thread.

Handles to the one engine of this process query in parallel (a handle
serializes its own calls), so the pool's size is the store's query
concurrency. HTTP is stateless, a chDB handle is not: a statement's
database is applied with ``USE`` and its URL settings with ``SET``, a
setting the previous request set and this one does not is put back, and a
handle whose SQL may have changed its session itself (a ``SET`` or ``USE``)
is reset to how it was opened. Clients send the same few settings on every
request, so in the steady state no ``SET`` runs at all.

Read-only is the engine's own ``readonly`` setting, fixed per pool when a
handle opens: the read-only user's handles run with ``readonly=1`` (no
writes, no settings changes), the read-write user's GET requests with
``readonly=2`` (no writes; settings allowed), as ClickHouse treats them. The
engine enforces it on every statement, ``SET`` and ``SETTINGS`` clause,
table functions included.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chdb

from hookstream.store import statements
from hookstream.store.errors import ClickHouseError
from hookstream.store.request import Statement

READONLY_LEVELS = (0, 1, 2)


@dataclass(frozen=True)
class EngineConfig:
    path: Path
    handles: int = 4  # per pool (read-write; readonly=1; readonly=2)
    max_server_memory_bytes: int = 0  # 0: chDB's default (a share of the machine's memory)
    cache_bytes: int = 0  # each of the mark and primary-index caches; 0: chDB's default


@dataclass
class Outcome:
    body: bytes
    summary: dict[str, str]
    fmt: str | None


@dataclass
class _Handle:
    conn: Any
    readonly: int
    baseline: dict[str, str]
    database: str | None = None
    applied: dict[str, str] = field(default_factory=dict)  # URL settings in force beyond the baseline
    spoiled: bool = False  # its session could not be put back (e.g. SQL set readonly): replaced, not reused


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _changed(conn: Any) -> dict[str, str]:
    result = conn.query("SELECT name, value FROM system.settings WHERE changed", "JSONEachRow")
    rows = (json.loads(line) for line in result.bytes().splitlines() if line)
    return {row["name"]: row["value"] for row in rows}


@dataclass
class Engine:
    """The process's chDB engine; open it once, then ``run`` statements from any task."""

    config: EngineConfig
    _pools: dict[int, asyncio.Queue[_Handle]] = field(default_factory=dict)
    _all: list[_Handle] = field(default_factory=list)
    timezone: str = "UTC"
    version: str = ""

    def open(self) -> None:
        """Start the engine and open the handles; raises ``ClickHouseError`` with chDB's reason."""
        self.config.path.mkdir(parents=True, exist_ok=True)
        caches = ("mark_cache_size", "index_mark_cache_size", "primary_index_cache_size")
        server = {"max_server_memory_usage": self.config.max_server_memory_bytes,
                  **dict.fromkeys(caches, self.config.cache_bytes)}  # fmt: skip
        options = "&".join(f"{name}={value}" for name, value in server.items() if value)
        first = f"{self.config.path}?{options}" if options else str(self.config.path)
        try:
            for readonly in READONLY_LEVELS:
                self._pools[readonly] = asyncio.Queue()
                for _ in range(self.config.handles):
                    handle = self._open_handle(first if not self._all else str(self.config.path), readonly)
                    self._all.append(handle)
                    self._pools[readonly].put_nowait(handle)
            about = self._all[0].conn.query("SELECT version(), timezone()", "TabSeparated").bytes()
        except Exception as exc:
            self.close()
            raise ClickHouseError.from_engine(exc) from exc
        self.version, self.timezone = about.decode().strip().split("\t")

    @staticmethod
    def _open_handle(conn_str: str, readonly: int) -> _Handle:
        conn = chdb.connect(conn_str)
        if readonly:
            conn.query(f"SET readonly = {readonly}", "TabSeparated")
        return _Handle(conn, readonly, _changed(conn))

    def close(self) -> None:
        for handle in self._all:
            with contextlib.suppress(Exception):
                handle.conn.close()
        self._all.clear()
        self._pools.clear()

    @contextlib.asynccontextmanager
    async def _handle(self, readonly: int) -> AsyncIterator[_Handle]:
        pool = self._pools[readonly]
        handle = await pool.get()
        try:
            yield handle
        finally:
            if handle.spoiled:
                handle = await asyncio.to_thread(self._replace, handle)
            pool.put_nowait(handle)

    def _replace(self, spoiled: _Handle) -> _Handle:
        with contextlib.suppress(Exception):
            spoiled.conn.close()
        fresh = self._open_handle(str(self.config.path), spoiled.readonly)
        self._all[self._all.index(spoiled)] = fresh
        return fresh

    async def run(self, statement: Statement, *, readonly: int) -> Outcome:
        """Run on a handle of the pool whose ``readonly`` level is given (0: read-write)."""
        async with self._handle(readonly) as handle:
            return await asyncio.to_thread(_execute, handle, statement)


def _execute(handle: _Handle, statement: Statement) -> Outcome:
    dirty = statements.may_change_session(statement.sql)
    started = time.perf_counter_ns()
    try:
        if handle.database != statement.database:
            handle.conn.query(f"USE {_identifier(statement.database)}", "TabSeparated")
            handle.database = statement.database
        try:
            _apply_settings(handle, statement.settings)
        except Exception:
            dirty = True  # a setting half applied or not restored: check the whole session
            raise
        if statement.insert is not None:
            result = _insert(handle, statement)
        else:
            result = handle.conn.query(statement.sql, statement.fmt, params=statement.params)
    except Exception as exc:
        raise ClickHouseError.from_engine(exc) from exc
    finally:
        if dirty:
            _reset(handle)
    return Outcome(result.bytes() or b"", _summary(result, statement, time.perf_counter_ns() - started),
                   statement.output_format)  # fmt: skip


def _insert(handle: _Handle, statement: Statement) -> Any:
    """``INSERT ... FORMAT f <data>``: the data goes through a file, the one way chDB reads an insert's input."""
    insert = statement.insert
    assert insert is not None
    fd, name = tempfile.mkstemp(suffix=".insert")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(statement.data)
        sql = f"{insert.target} FROM INFILE {_quote(name)} {insert.settings} FORMAT {insert.fmt}"
        return handle.conn.query(sql, "TabSeparated", params=statement.params)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)


def _restore(handle: _Handle, name: str) -> None:
    value = _quote(handle.baseline[name]) if name in handle.baseline else "DEFAULT"
    handle.conn.query(f"SET {name} = {value}", "TabSeparated")


def _apply_settings(handle: _Handle, settings: dict[str, str]) -> None:
    """Make exactly ``settings`` (beyond the baseline) be in force, touching only what differs from the last request."""
    for name in [name for name in handle.applied if name not in settings]:
        _restore(handle, name)
        del handle.applied[name]
    for name, value in settings.items():
        if handle.applied.get(name) != value:
            handle.applied.pop(name, None)  # unknown until SET succeeds
            handle.conn.query(f"SET {name} = {_quote(value)}", "TabSeparated")
            handle.applied[name] = value


def _reset(handle: _Handle) -> None:
    """Put the handle's session back as it was opened: settings to their baseline, database to be re-applied."""
    handle.database = None
    handle.applied.clear()
    try:
        for name, value in _changed(handle.conn).items():
            if name != "database" and handle.baseline.get(name) != value:
                _restore(handle, name)
    except Exception:
        handle.spoiled = True


def _summary(result: Any, statement: Statement, elapsed_ns: int) -> dict[str, str]:
    """ClickHouse's ``X-ClickHouse-Summary``, the written rows as the engine counts them (``INSERT ... VALUES``
    and ``INSERT ... SELECT`` included); an inline insert's reads are of the file holding its data, not a table."""
    inline = statement.insert is not None
    return {
        "read_rows": "0" if inline else str(result.rows_read()),
        "read_bytes": "0" if inline else str(result.bytes_read()),
        "written_rows": str(result.rows_written()),
        "written_bytes": str(result.bytes_written()),
        "total_rows_to_read": "0",
        "result_rows": "0",
        "result_bytes": "0",
        "elapsed_ns": str(elapsed_ns),
    }
