"""The pure parts of query.analytics: composite decoding, periods, bucket floors, ranking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hookstream.query.analytics import (
    BREAKDOWN,
    EndpointChange,
    Granularity,
    Percentiles,
    biggest_phase_change,
    decode,
    previous_period,
    rank_by_change,
)


def test_decode_drops_the_hash_bits_and_maps_an_empty_state_to_none() -> None:
    assert decode([(2700 << 24) | 12345, (0 << 24) | 1, 0]) == Percentiles(2700, 0, None)


def test_previous_period_has_the_same_length() -> None:
    since, until = datetime(2025, 1, 8, tzinfo=UTC), datetime(2025, 1, 15, tzinfo=UTC)
    assert previous_period(since, until) == (datetime(2025, 1, 1, tzinfo=UTC), since)


def test_floor_rounds_down_to_the_bucket_start_in_utc() -> None:
    at = datetime(2025, 3, 4, 17, 45, 12, 5, tzinfo=UTC)
    assert Granularity.HOUR.floor(at) == datetime(2025, 3, 4, 17, tzinfo=UTC)
    assert Granularity.DAY.floor(at) == datetime(2025, 3, 4, tzinfo=UTC)


def _p99(**values: int | None) -> dict[str, Percentiles]:
    return {phase: Percentiles(None, None, values.get(phase)) for phase in BREAKDOWN}


def test_biggest_phase_change_skips_phases_missing_in_either_period() -> None:
    now = _p99(dns=100, tcp=500, tls=9_000, ttfb=40_000)
    before = _p99(dns=90, tcp=100, ttfb=39_000)
    assert biggest_phase_change(now, before) == ("ttfb", 1_000)
    assert biggest_phase_change(_p99(), _p99()) == (None, 0)


def _change(p99: int | None, previous: int | None) -> EndpointChange:
    return EndpointChange(uuid.uuid4(), 1, 1 if previous else 0, p99, previous, None, None)


def test_rank_puts_the_largest_increase_first_and_new_endpoints_last() -> None:
    faster, slower, new = _change(100, 300), _change(900, 100), _change(5_000, None)
    assert rank_by_change([new, faster, slower]) == [slower, faster, new]
    assert new.change_us is None and slower.change_us == 800
