"""The commit point of a concurrent consumer: the lowest unfinished offset, so a crash never skips a record."""

from __future__ import annotations

import random

import pytest

from hookstream.domain.offsets import OffsetTracker


def test_nothing_started_nothing_to_commit() -> None:
    assert OffsetTracker[int]().committable() == {}


def test_in_order_completion_commits_one_past_the_last() -> None:
    tracker = OffsetTracker[int]()
    for offset in range(3):
        tracker.started(0, offset)
    assert tracker.committable() == {0: 0}
    for offset in range(3):
        tracker.finished(0, offset)
    assert tracker.committable() == {0: 3}


def test_out_of_order_completion_holds_at_the_slow_record() -> None:
    tracker = OffsetTracker[int]()
    for offset in (10, 11, 12, 13):
        tracker.started(0, offset)
    tracker.finished(0, 12)
    tracker.finished(0, 13)
    assert tracker.committable() == {0: 10}  # 10 is still running: a crash must redeliver it
    tracker.finished(0, 10)
    assert tracker.committable() == {0: 11}
    tracker.finished(0, 11)
    assert tracker.committable() == {0: 14}


def test_partitions_are_independent() -> None:
    tracker = OffsetTracker[str]()
    tracker.started("a", 0)
    tracker.started("b", 5)
    tracker.started("b", 6)
    tracker.finished("b", 5)
    assert tracker.committable() == {"a": 0, "b": 6}
    assert tracker.pending("a") == 1
    assert tracker.pending("b") == 1
    assert tracker.pending() == 2
    assert tracker.pending("zzz") == 0


def test_gaps_in_offsets_are_not_waited_for() -> None:
    """Transaction markers and compaction leave holes; only offsets started count."""
    tracker = OffsetTracker[int]()
    tracker.started(0, 3)
    tracker.started(0, 7)
    tracker.finished(0, 3)
    assert tracker.committable() == {0: 7}
    tracker.finished(0, 7)
    assert tracker.committable() == {0: 8}


def test_finishing_unknown_or_twice_is_a_bug() -> None:
    tracker = OffsetTracker[int]()
    with pytest.raises(KeyError):
        tracker.finished(0, 1)
    tracker.started(0, 1)
    tracker.finished(0, 1)
    with pytest.raises(KeyError):
        tracker.finished(0, 1)


def test_offsets_must_increase_until_the_partition_is_forgotten() -> None:
    tracker = OffsetTracker[int]()
    tracker.started(0, 5)
    with pytest.raises(ValueError, match="forget"):
        tracker.started(0, 5)
    with pytest.raises(ValueError):
        tracker.started(0, 4)
    with pytest.raises(ValueError):
        tracker.started(1, -1)
    tracker.forget(0)
    assert tracker.committable() == {}
    tracker.started(0, 2)  # reassigned after a rebalance: starts again from the committed position
    assert tracker.committable() == {0: 2}
    assert tracker.partitions() == [0]


def test_random_completion_order_never_passes_an_unfinished_offset() -> None:
    rng = random.Random(7)
    tracker = OffsetTracker[int]()
    offsets = list(range(0, 2000, 3))
    for offset in offsets:
        tracker.started(0, offset)
    order = offsets[:]
    rng.shuffle(order)
    done: set[int] = set()
    for offset in order:
        tracker.finished(0, offset)
        done.add(offset)
        commit = tracker.committable()[0]
        unfinished = [o for o in offsets if o not in done]
        assert commit == (min(unfinished) if unfinished else offsets[-1] + 1)
