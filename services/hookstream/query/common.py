"""What every query module shares: keyset positions, pages, and running SQL off the event loop.

The client is synchronous (clickhouse-connect, chDB or HTTP). chDB releases
the GIL while a query runs, so ``asyncio.to_thread`` keeps the API's event
loop serving other requests at ~1 ms fixed cost per call (DESIGN.md). Every
value a caller supplies travels as a bound parameter (``{name:Type}``); the
only text spliced into SQL is chosen by this package from constants.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from clickhouse_connect.driver import Client

T = TypeVar("T")

MAX_LIMIT = 250
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Position:
    """Where a keyset page starts: strictly after (older than) ``at``/``key``, or before it when ``backwards``.

    ``at`` is the row's time column and ``key`` its id, the tie-breaker: a
    UUIDv7 does not sort by time in ClickHouse, so the time comes first.
    """

    at: datetime
    key: uuid.UUID
    backwards: bool = False


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """Rows newest first, and whether more exist in the direction the caller was moving."""

    items: list[T]
    done: bool
    backwards: bool = False


@dataclass
class Where:
    """A conjunction of SQL conditions with their bound parameters, built up clause by clause."""

    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1"


def utc(value: datetime | None) -> datetime | None:
    """ClickHouse hands back naive datetimes for some expressions; every one of ours is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def keyset(where: Where, time_column: str, key_column: str, position: Position | None) -> tuple[str, str]:
    """Add the page-start condition and return (ORDER BY direction, comparison) for the page.

    The split form ``t <= x AND (t < x OR id < y)`` prunes on the sort key where
    the tuple form ``(t, id) < (x, y)`` did not (p99 29 vs 46 ms, DESIGN.md).
    """
    if position is None:
        return "DESC", "<"
    op, direction = (">", "ASC") if position.backwards else ("<", "DESC")
    where.add(
        f"{time_column} {op}= {{cursor_at:DateTime64(6, 'UTC')}} AND "
        f"({time_column} {op} {{cursor_at:DateTime64(6, 'UTC')}} OR {key_column} {op} {{cursor_key:UUID}})",
        cursor_at=position.at,
        cursor_key=position.key,
    )
    return direction, op


def page_of(rows: list[T], limit: int, position: Position | None) -> Page[T]:
    """Cut the one extra row fetched to learn ``done``, and put a backwards page back newest first."""
    done = len(rows) <= limit
    rows = rows[:limit]
    backwards = position is not None and position.backwards
    if backwards:
        rows.reverse()
    return Page(rows, done, backwards)


async def select(
    client: Client,
    sql: str,
    params: Mapping[str, Any],
    column_formats: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Run one SELECT in a worker thread and return its rows as dicts."""

    def run() -> list[dict[str, Any]]:
        result = client.query(sql, parameters=dict(params), column_formats=dict(column_formats or {}))
        return list(result.named_results())

    return await asyncio.to_thread(run)


def in_list(values: Sequence[str]) -> list[str]:
    """A parameter value for ``IN {name:Array(String)}``, deduplicated and in a stable order."""
    return sorted(set(values))


class MessageFilters(Protocol):
    """The filters on a message that attempt lists and attempted-message lists both offer."""

    @property
    def event_types(self) -> Sequence[str]: ...
    @property
    def channel(self) -> str | None: ...
    @property
    def tag(self) -> str | None: ...
    @property
    def before(self) -> datetime | None: ...
    @property
    def after(self) -> datetime | None: ...


def add_message_filters(where: Where, f: MessageFilters, time_column: str) -> None:
    """The message filters every per-message-or-attempt list shares (the row's ``app_id`` is already bound).

    ``tag`` lives on the message only, so it is a semi-join on ``messages``; the time bounds apply to
    ``time_column`` (when the attempt started, or when its message was created).
    """
    if f.event_types:
        where.add("event_type IN {event_types:Array(String)}", event_types=in_list(f.event_types))
    if f.channel is not None:
        where.add("has(channels, {channel:String})", channel=f.channel)
    if f.tag is not None:
        where.add(
            "msg_id IN (SELECT msg_id FROM messages WHERE app_id = {app_id:UUID} AND has(tags, {tag:String}))",
            tag=f.tag,
        )
    if f.before is not None:
        where.add(f"{time_column} < {{before:DateTime64(6, 'UTC')}}", before=f.before)
    if f.after is not None:
        where.add(f"{time_column} > {{after:DateTime64(6, 'UTC')}}", after=f.after)


@dataclass(frozen=True, slots=True)
class Listing:
    """How one table is listed newest first: its keyset columns, what to read, and how rows are tidied."""

    table: str
    columns: str
    time_column: str
    key_column: str
    column_formats: Mapping[str, str]
    clean: Callable[[dict[str, Any]], dict[str, Any]]


async def newest_first_page(
    client: Client, listing: Listing, where: Where, position: Position | None, limit: int
) -> Page[dict[str, Any]]:
    """One keyset page of the newest version of each entity, newest first (or the page before ``position``).

    Every list of the API reads this way: the split keyset condition, one
    extra entity to learn ``done``, and the newest version of each id. The
    versions are chosen here (:func:`newest_versions`), not in SQL: ordering by
    ``version`` too (``... , version DESC LIMIT 1 BY id``) made ClickHouse read
    an endpoint's whole range instead of stopping at the page (10M attempts:
    p99 154-305 ms, growing with the endpoint; BENCHMARKS.md, B4). Versions of
    one id share its sort key, so a page of rows holds whole groups but
    perhaps the last; when duplicates leave fewer than ``limit + 1`` ids, the
    page is read again, larger.
    """
    time_column, key_column = listing.time_column, listing.key_column
    direction, _ = keyset(where, time_column, key_column, position)
    sql = (
        f"SELECT {listing.columns} FROM {listing.table} WHERE {where.sql} "
        f"ORDER BY {time_column} {direction}, {key_column} {direction} LIMIT {{page_rows:UInt32}}"
    )
    rows_wanted = limit + 1
    while True:
        rows = await select(client, sql, {**where.params, "page_rows": rows_wanted}, listing.column_formats)
        newest = newest_versions(rows, key_column)
        if len(newest) > limit or len(rows) < rows_wanted:
            return page_of([listing.clean(row) for row in newest[: limit + 1]], limit, position)
        rows_wanted *= 4


def newest_versions(rows: list[dict[str, Any]], key_column: str) -> list[dict[str, Any]]:
    """Each id once, as its highest ``version``, in the order the ids first appear."""
    chosen: dict[Any, dict[str, Any]] = {}
    for row in rows:
        current = chosen.get(row[key_column])
        if current is None or row["version"] > current["version"]:
            chosen[row[key_column]] = row
    return list(chosen.values())
