"""Pruning: which message statuses may be forgotten, with the clock passed in."""

from __future__ import annotations

import pytest

from hookstream.domain.status import DeliveryStatus, fold_attempt, prunable, settled_us, status_retention_s
from tests.unit.test_domain_status import EP_A, EP_B, T0, S, attempt, fold_all

DAY = 86400 * S
RETENTION = 90 * DAY


def test_a_success_is_prunable_once_unchanged_for_the_retention() -> None:
    state, _ = fold_all(attempt(1, True, 0))
    settled = settled_us(state)
    assert settled == T0 + 1000
    assert not prunable(state, settled + RETENTION - 1, RETENTION)
    assert prunable(state, settled + RETENTION, RETENTION)


def test_an_exhausted_failure_is_prunable_but_a_pending_retry_is_not() -> None:
    sending, _ = fold_all(attempt(1, False, 0, next_s=5))
    assert sending.status is DeliveryStatus.SENDING
    assert settled_us(sending) is None
    assert not prunable(sending, T0 + 10 * RETENTION, RETENTION), "a pair still retrying is never forgotten"
    exhausted, _ = fold_all(attempt(1, False, 0, next_s=5), attempt(2, False, 5))
    assert exhausted.status is DeliveryStatus.FAIL
    assert prunable(exhausted, T0 + 5 * S + RETENTION + 1000, RETENTION)


def test_every_pair_must_be_final_and_the_newest_change_counts() -> None:
    mixed, _ = fold_all(attempt(1, True, 0), attempt(1, False, 0, endpoint=EP_B, next_s=60))
    assert not prunable(mixed, T0 + 10 * RETENTION, RETENTION)
    both, _ = fold_all(attempt(1, True, 0), attempt(1, True, 3600, endpoint=EP_B))
    later = T0 + 3600 * S + 1000
    assert settled_us(both) == later
    assert not prunable(both, later + RETENTION - 1, RETENTION), "the older pair waits for the newer"
    assert prunable(both, later + RETENTION, RETENTION)


def test_a_success_with_a_scheduled_retry_still_due_waits_for_it() -> None:
    # A manual resend succeeded while the scheduled retry (at 2 days) is pending: keep it until that is old too.
    state, _ = fold_all(attempt(1, False, 0, next_s=2 * 86400), attempt(1, True, 60, manual=True))
    assert state.pairs[EP_A].status is DeliveryStatus.SUCCESS
    assert settled_us(state) == T0 + 2 * DAY
    assert not prunable(state, T0 + 60 * S + RETENTION + 1000, RETENTION)
    assert prunable(state, T0 + 2 * DAY + RETENTION, RETENTION)


def test_an_attempt_after_pruning_starts_a_fresh_state_that_is_not_prunable() -> None:
    # The table entry is gone: a manual resend folds into nothing, counts from 1 and is kept.
    resend = attempt(1, False, 200 * 86400, manual=True)
    fresh = fold_attempt(None, resend, failing_after=4).message
    assert (fresh.pairs[EP_A].status, fresh.version) == (DeliveryStatus.FAIL, 1)
    assert not prunable(fresh, resend.finished_us + 1, RETENTION)
    # A replayed old attempt (a crash before the commit) makes a state that is prunable at once: not resurrected.
    replayed = fold_attempt(None, attempt(1, True, 0), failing_after=4).message
    assert prunable(replayed, resend.finished_us, RETENTION)


def test_status_retention_follows_the_payload_retention_unless_set() -> None:
    assert status_retention_s("", 90) == 90 * 86400
    assert status_retention_s("  ", 7) == 7 * 86400
    assert status_retention_s("2s", 90) == 2
    assert status_retention_s("30d", 90) == 30 * 86400


@pytest.mark.parametrize(("text", "why"), [("soon", "is not a duration"), ("500ms", "at least 1s"), ("0s", "at least")])
def test_a_bad_status_retention_is_refused_by_name(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=f"HOOKSTREAM_STATUS_RETENTION.*{why}"):
        status_retention_s(text, 90)
