"""Reads of the attempt rollups (schemas/clickhouse/003_rollups.sql) and of delivery status counts.

The rollups hold set-valued states (see the migration for why), so every read
merges them with the matching ``-Merge`` function and decodes the quantile
composites (``duration_us << 24 | hash``) back to microseconds. The
encoding lives here and in the migration only; docs/analytics.md shows
analysts the same expressions.

The pure parts (period arithmetic, decoding, ranking) take plain values so
the unit tests need no ClickHouse.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.query.common import select, utc

QUANTILES = (0.5, 0.9, 0.99)
# Phase name (API) -> rollup column prefix; "total" is the whole attempt, the rest its breakdown.
PHASE_COLUMNS = {
    "total": "total_us",
    "dns": "dns_us",
    "tcp": "tcp_connect_us",
    "tls": "tls_handshake_us",
    "ttfb": "ttfb_us",
    "transfer": "transfer_us",
}
BREAKDOWN = ("dns", "tcp", "tls", "ttfb", "transfer")
_SHIFT = 24  # bits of attempt hash under each duration in the quantile composites


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def table(self) -> str:
        return "attempt_rollup_hourly" if self is Granularity.HOUR else "attempt_rollup_daily"

    def floor(self, at: datetime) -> datetime:
        """The start of the bucket holding ``at`` (UTC), so a range covers every bucket it overlaps."""
        at = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return at if self is Granularity.HOUR else at.replace(hour=0)


@dataclass(frozen=True, slots=True)
class Percentiles:
    """p50/p90/p99 in microseconds; None when no attempt of the bucket measured the phase (e.g. tls on http)."""

    p50: int | None
    p90: int | None
    p99: int | None


@dataclass(frozen=True, slots=True)
class LatencyBucket:
    bucket: datetime
    attempts: int
    successes: int
    phases: dict[str, Percentiles]


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """One endpoint's p99 now and in the previous period of equal length, and the phase that moved most."""

    endpoint_id: uuid.UUID
    attempts: int
    previous_attempts: int
    p99_us: int | None
    previous_p99_us: int | None
    phase: str | None  # breakdown phase whose p99 rose most (fell least); None without a previous period
    phase_change_us: int | None

    @property
    def change_us(self) -> int | None:
        if self.p99_us is None or self.previous_p99_us is None:
            return None
        return self.p99_us - self.previous_p99_us


def decode(composites: Sequence[int]) -> Percentiles:
    """Composites -> microseconds. An empty state merges to zeros, which no real composite is
    (a 0 us duration would also need a zero hash: one attempt in 16.7M)."""
    values = [None if v == 0 else v >> _SHIFT for v in composites]
    return Percentiles(*values)


def previous_period(since: datetime, until: datetime) -> tuple[datetime, datetime]:
    """The period of the same length just before [since, until)."""
    return since - (until - since), since


def biggest_phase_change(now: Mapping[str, Percentiles], before: Mapping[str, Percentiles]) -> tuple[str | None, int]:
    """The breakdown phase whose p99 grew most between two periods (phases unmeasured in either are skipped)."""
    best: tuple[str | None, int] = (None, 0)
    for phase in BREAKDOWN:
        a, b = now[phase].p99, before[phase].p99
        if a is None or b is None:
            continue
        if best[0] is None or a - b > best[1]:
            best = (phase, a - b)
    return best


def rank_by_change(changes: Sequence[EndpointChange]) -> list[EndpointChange]:
    """Largest p99 increase first; endpoints without a previous period (no change to rank) last, by p99."""
    return sorted(
        changes,
        key=lambda c: (c.change_us is None, -(c.change_us or 0), -(c.p99_us or 0), str(c.endpoint_id)),
    )


def _merged(alias: str = "") -> str:
    """SELECT list merging one group of rollup rows; the text comes from constants only."""
    parts = [
        f"uniqExactMerge(attempts) AS {alias}attempts",
        f"uniqExactMerge(successes) AS {alias}successes",
    ]
    levels = ", ".join(str(q) for q in QUANTILES)
    for phase, column in PHASE_COLUMNS.items():
        parts.append(f"quantilesExactDistinctMerge({levels})({column}_q) AS {alias}{phase}")
    return ",\n       ".join(parts)


def _phases(row: Mapping[str, Any], alias: str = "") -> dict[str, Percentiles]:
    return {phase: decode(row[f"{alias}{phase}"]) for phase in PHASE_COLUMNS}


_RANGE = "bucket >= {since:DateTime('UTC')} AND bucket < {until:DateTime('UTC')}"


async def latency(
    client: Client,
    app_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    since: datetime,
    until: datetime,
    granularity: Granularity,
) -> list[LatencyBucket]:
    """Per bucket overlapping [since, until), oldest first: counts and every phase's percentiles."""
    sql = f"""
SELECT bucket,
       {_merged()}
FROM {granularity.table}
WHERE app_id = {{app_id:UUID}} AND endpoint_id = {{endpoint_id:UUID}} AND {_RANGE}
GROUP BY bucket
ORDER BY bucket"""
    params = {"app_id": app_id, "endpoint_id": endpoint_id, "since": granularity.floor(since), "until": until}
    rows = await select(client, sql, params)
    return [
        LatencyBucket(utc(r["bucket"]), int(r["attempts"]), int(r["successes"]), _phases(r))  # type: ignore[arg-type]
        for r in rows
    ]


async def slowest_endpoints(
    client: Client, app_id: uuid.UUID, since: datetime, until: datetime, limit: int = 50
) -> list[EndpointChange]:
    """The application's endpoints with attempts in [since, until), ranked by p99 (total) change
    against the period of equal length before ``since`` (hourly rollups; ``since`` rounded down to the hour)."""
    since = Granularity.HOUR.floor(since)
    before, _ = previous_period(since, until)
    sql = f"""
SELECT endpoint_id, bucket >= {{since:DateTime('UTC')}} AS current,
       {_merged()}
FROM attempt_rollup_hourly
WHERE app_id = {{app_id:UUID}} AND bucket >= {{before:DateTime('UTC')}} AND bucket < {{until:DateTime('UTC')}}
GROUP BY endpoint_id, current"""
    rows = await select(client, sql, {"app_id": app_id, "since": since, "until": until, "before": before})
    periods: dict[uuid.UUID, dict[bool, Mapping[str, Any]]] = {}
    for row in rows:
        periods.setdefault(row["endpoint_id"], {})[bool(row["current"])] = row
    changes = []
    for endpoint_id, pair in periods.items():
        now = pair.get(True)
        if now is None:
            continue  # no attempts this period: nothing to rank
        prev = pair.get(False)
        now_phases = _phases(now)
        prev_phases = _phases(prev) if prev else None
        phase, delta = biggest_phase_change(now_phases, prev_phases) if prev_phases else (None, 0)
        changes.append(
            EndpointChange(
                endpoint_id=endpoint_id,
                attempts=int(now["attempts"]),
                previous_attempts=int(prev["attempts"]) if prev else 0,
                p99_us=now_phases["total"].p99,
                previous_p99_us=prev_phases["total"].p99 if prev_phases else None,
                phase=phase,
                phase_change_us=delta if phase else None,
            )
        )
    return rank_by_change(changes)[:limit]


@dataclass(frozen=True, slots=True)
class EndpointSummary:
    """One endpoint's attempts, successes and total-latency percentiles over one window."""

    endpoint_id: uuid.UUID
    attempts: int
    successes: int
    total: Percentiles


async def endpoint_summaries(
    client: Client, app_id: uuid.UUID, since: datetime, until: datetime
) -> list[EndpointSummary]:
    """Every endpoint of the application with attempts in [since, until) (hourly rollups, ``since`` rounded
    down to the hour), the percentiles merged over the whole window rather than averaged across hours."""
    sql = f"""
SELECT endpoint_id,
       {_merged()}
FROM attempt_rollup_hourly
WHERE app_id = {{app_id:UUID}} AND {_RANGE}
GROUP BY endpoint_id
ORDER BY endpoint_id"""
    rows = await select(client, sql, {"app_id": app_id, "since": Granularity.HOUR.floor(since), "until": until})
    return [
        EndpointSummary(r["endpoint_id"], int(r["attempts"]), int(r["successes"]), _phases(r)["total"])  # type: ignore[arg-type]
        for r in rows
    ]


STATUS_NAMES = ("success", "pending", "fail", "sending")


async def endpoint_status_counts(
    client: Client, app_id: uuid.UUID, endpoint_id: uuid.UUID, since: datetime, until: datetime
) -> dict[str, int]:
    """Messages by their current delivery status at one endpoint, for messages created in [since, until).

    The newest row of each message wins (``LIMIT 1 BY``, not FINAL: see 002_status.sql).
    """
    sql = """
SELECT toString(status) AS status, count() AS n FROM (
    SELECT status FROM message_endpoint_status
    WHERE app_id = {app_id:UUID} AND endpoint_id = {endpoint_id:UUID}
      AND msg_created_at >= {since:DateTime64(3, 'UTC')} AND msg_created_at < {until:DateTime64(3, 'UTC')}
    ORDER BY version DESC
    LIMIT 1 BY msg_id
)
GROUP BY status"""
    rows = await select(client, sql, {"app_id": app_id, "endpoint_id": endpoint_id, "since": since, "until": until})
    counts = dict.fromkeys(STATUS_NAMES, 0)
    counts.update({r["status"]: int(r["n"]) for r in rows})
    return counts


def default_window(
    since: datetime | None, until: datetime | None, now: datetime, days: int = 28
) -> tuple[datetime, datetime]:
    """[since, until) with defaults: until = now, since = ``days`` before until."""
    end = until or now
    return since or end - timedelta(days=days), end
