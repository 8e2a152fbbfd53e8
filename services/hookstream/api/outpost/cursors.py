"""Outpost's seek pagination: opaque ``next``/``prev`` cursors over hookstream's keyset pages.

A cursor names a row by (time, id), the key every list is ordered by. The
query layer pages newest first; ``dir=asc`` is the same walk mirrored: its
first page starts after the epoch going forwards in time, and its ``next``
is a backwards step of the newest-first walk. ``next`` is null when nothing
lies further on; ``prev`` is null on the first page.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from hookstream.api.spec import InvalidInput, Param
from hookstream.query.common import Position

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")
Moved = Literal["next", "prev"] | None

PARAMS = (
    Param("next", "query", {"type": "string", "minLength": 1}, description="pagination.next of a previous page"),
    Param("prev", "query", {"type": "string", "minLength": 1}, description="pagination.prev of a previous page"),
    Param("order_by", "query", {"type": "string", "enum": ["time"], "default": "time"}),
    Param("dir", "query", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
)
LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100})


def encode(at: datetime, key: uuid.UUID) -> str:
    micros = (at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(f"{micros}:{key.hex}".encode()).decode().rstrip("=")


def decode(raw: str, name: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        micros, _, key = text.partition(":")
        return _EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=key)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        raise InvalidInput("query", [name], "is not a cursor this API returned") from None


@dataclass(frozen=True)
class Walk:
    """Where a page starts and which way it moves, read from ``next``/``prev``/``dir``."""

    moved: Moved
    descending: bool
    position: Position | None

    @classmethod
    def read(cls, params: dict[str, Any]) -> Walk:
        if params["next"] is not None and params["prev"] is not None:
            raise InvalidInput("query", ["next"], "and prev are mutually exclusive")
        descending = params["dir"] == "desc"
        if params["next"] is not None:
            at, key = decode(params["next"], "next")
            return cls("next", descending, Position(at, key, backwards=not descending))
        if params["prev"] is not None:
            at, key = decode(params["prev"], "prev")
            return cls("prev", descending, Position(at, key, backwards=descending))
        start = None if descending else Position(_EPOCH, uuid.UUID(int=0), backwards=True)
        return cls(None, descending, start)

    def in_order(self, newest_first: list[Any]) -> list[Any]:
        return newest_first if self.descending else newest_first[::-1]

    def pagination(self, first: str | None, last: str | None, more: bool, limit: int) -> dict[str, Any]:
        """``first``/``last``: cursors of the page's first and last items as shown; ``more``: rows lie further on
        in the direction this page moved."""
        forwards = self.moved in (None, "next")
        return {
            "order_by": "time",
            "dir": "desc" if self.descending else "asc",
            "limit": limit,
            "next": last if (more if forwards else last is not None) else None,
            "prev": first if (more if self.moved == "prev" else self.moved == "next" and first is not None) else None,
        }

    def respond(self, shown: list[dict[str, Any]], at: str, key: str, more: bool, limit: int) -> dict[str, Any]:
        """``pagination`` for rows shown in this walk's order, keyed by their ``at`` time and ``key`` id."""
        first = encode(shown[0][at], shown[0][key]) if shown else None
        last = encode(shown[-1][at], shown[-1][key]) if shown else None
        return self.pagination(first, last, more, limit)

    def page(self, rows: list[T], key: Callable[[T], tuple[datetime, uuid.UUID]], limit: int) -> tuple[list[T], bool]:
        """An in-memory list paged like the query layer's: (the page newest first, whether more lie further on)."""
        position = self.position
        backwards = position is not None and position.backwards

        def sort_key(row: T) -> tuple[datetime, int]:
            at, row_id = key(row)
            return at, row_id.int

        ordered = sorted(rows, key=sort_key, reverse=not backwards)
        if position is not None:
            mark = (position.at, position.key.int)
            ordered = [row for row in ordered if (sort_key(row) > mark if backwards else sort_key(row) < mark)]
        items = ordered[:limit]
        return (items[::-1] if backwards else items), len(ordered) > limit


_TICK = timedelta(microseconds=1)  # DateTime64(6): ">= t" is "> t - 1 µs"
TIME_PARAMS = tuple(
    Param(f"time[{op}]", "query", {"type": "string", "format": "date-time"}, description=f"time {op} this")
    for op in ("gte", "gt", "lte", "lt")
)


def time_bounds(params: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    """``time[gte|gt|lte|lt]`` as the query layer's strict (after, before) bounds."""
    afters = [t for t in (params["time[gt]"], params["time[gte]"] and params["time[gte]"] - _TICK) if t]
    befores = [t for t in (params["time[lt]"], params["time[lte]"] and params["time[lte]"] + _TICK) if t]
    return (max(afters) if afters else None), (min(befores) if befores else None)


def one(params: dict[str, Any], name: str) -> str | None:
    """A filter hookstream answers for one value at a time (one tenant per list)."""
    values = params[name] or []
    if len(values) > 1:
        raise InvalidInput("query", [name], "takes one value: hookstream lists one tenant at a time")
    return values[0] if values else None
