"""The retry decision: schedule steps, jitter bounds and determinism, Retry-After within bounds, no retry cases."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from hookstream.domain.retry import (
    AttemptResult,
    RetryDecision,
    RetryPolicy,
    RetryType,
    header,
    next_retry,
    parse_retry_after,
    retry_rng,
)
from hookstream.domain.schedule import InvalidSchedule

NOW = datetime(2025, 12, 6, 12, 0, 0, tzinfo=UTC)
SVIX = RetryPolicy.parse("0s,5s,5m,30m,2h,5h,10h,10h", 0.2, "5s", "10h")


def _failed(number: int, status: int | None = 500, retry_after: str | None = None, manual: bool = False):
    return AttemptResult(number, manual, False, status, retry_after)


def _decide(result: AttemptResult, policy: RetryPolicy = SVIX, seed: int = 1) -> RetryDecision:
    return next_retry(policy, result, NOW, random.Random(seed))


@pytest.mark.parametrize(
    ("number", "step", "kind"),
    [(1, 5, RetryType.FAST), (2, 300, RetryType.SLOW), (3, 1800, RetryType.SLOW), (7, 36000, RetryType.SLOW)],
)
def test_each_failure_waits_its_step_within_the_jitter_band(number: int, step: float, kind: RetryType) -> None:
    delays = [_decide(_failed(number), seed=seed).delay_s for seed in range(500)]
    assert all(d is not None and step * 0.8 <= d <= step * 1.2 for d in delays)
    assert min(delays) < step * 0.85 and max(delays) > step * 1.15, "the jitter spreads over the whole band"
    assert _decide(_failed(number)).retry_type is kind


def test_the_decision_is_the_same_for_the_same_attempt_id() -> None:
    attempt = uuid.UUID("01959a3d-0001-7abc-8def-0123456789ab")
    first = next_retry(SVIX, _failed(3), NOW, retry_rng(attempt))
    again = next_retry(SVIX, _failed(3), NOW, retry_rng(attempt))
    other = next_retry(SVIX, _failed(3), NOW, retry_rng(uuid.UUID("01959a3d-0001-7abc-8def-0123456789ac")))
    assert first == again and first != other


def test_success_manual_and_the_last_attempt_are_not_retried() -> None:
    assert _decide(AttemptResult(1, False, True, 200)) == RetryDecision(None)
    assert _decide(_failed(1, manual=True)) == RetryDecision(RetryType.NONE)
    assert _decide(_failed(8)) == RetryDecision(RetryType.NONE), "eight attempts in the default schedule"
    assert _decide(_failed(8, status=429, retry_after="10")).retry_type is RetryType.NONE
    assert _decide(AttemptResult(1, True, True, 200)).retry_type is None


def test_a_message_not_eligible_for_retry_gets_no_automatic_retry() -> None:
    """Outpost's ``eligible_for_retry: false``: even a 429 asking for one, and even a zero step."""
    assert _decide(AttemptResult(1, False, False, 500, eligible=False)) == RetryDecision(RetryType.NONE)
    assert _decide(AttemptResult(1, False, False, 429, "5", eligible=False)) == RetryDecision(RetryType.NONE)
    zero = RetryPolicy.parse("0s,0s", 0.2, "1s", "1h")
    assert _decide(AttemptResult(1, False, False, None, eligible=False), zero) == RetryDecision(RetryType.NONE)
    assert _decide(AttemptResult(1, False, True, 200, eligible=False)) == RetryDecision(None)


def test_a_zero_step_is_immediate_without_jitter() -> None:
    policy = RetryPolicy.parse("0s,0s,5s", 0.2, "1s", "1h")
    assert _decide(_failed(1), policy) == RetryDecision(RetryType.IMMEDIATE, 0.0)
    assert _decide(_failed(2), policy).retry_type is RetryType.FAST


@pytest.mark.parametrize(("status", "value", "delay"), [(429, "120", 120.0), (503, "7", 7.0), (503, "0", 5.0),
                                                        (429, "86400", 36000.0)])  # fmt: skip
def test_retry_after_on_429_and_503_is_honoured_within_bounds(status: int, value: str, delay: float) -> None:
    decision = _decide(_failed(2, status, value))
    assert decision == RetryDecision(RetryType.RETRY_AFTER, delay)
    assert decision.next_attempt_at(NOW) == NOW + timedelta(seconds=delay)
    assert decision.retry_after_seconds == round(delay)


def test_retry_after_elsewhere_or_unreadable_falls_back_to_the_schedule() -> None:
    assert _decide(_failed(2, 500, "30")).retry_type is RetryType.SLOW
    assert _decide(_failed(2, None, "30")).retry_type is RetryType.SLOW
    assert _decide(_failed(2, 503, "soon")).retry_type is RetryType.SLOW
    assert _decide(_failed(2, 503, "-5")).retry_type is RetryType.SLOW
    assert _decide(_failed(2, 503, None)).retry_type is RetryType.SLOW


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after("Sat, 06 Dec 2025 12:01:30 GMT", NOW) == 90.0
    assert parse_retry_after("Sat, 06 Dec 2025 11:00:00 GMT", NOW) == 0.0, "a past date means now"
    assert parse_retry_after(" 42 ", NOW) == 42.0
    assert parse_retry_after("1.5", NOW) is None
    assert parse_retry_after(None, NOW) is None
    assert _decide(_failed(1, 503, "Sat, 06 Dec 2025 12:00:20 GMT")) == RetryDecision(RetryType.RETRY_AFTER, 20.0)


def test_headers_are_found_by_any_spelling() -> None:
    assert header({"retry-after": "3"}, "Retry-After") == "3"
    assert header({"RETRY-AFTER": "3"}, "retry-after") == "3"
    assert header({}, "Retry-After") is None


def test_bad_policies_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidSchedule, match="jitter"):
        RetryPolicy((0.0, 5.0), jitter=1.5)
    with pytest.raises(InvalidSchedule, match="Retry-After bounds"):
        RetryPolicy.parse("0s,5s", 0.2, "1h", "5s")
    with pytest.raises(InvalidSchedule, match="not a duration"):
        RetryPolicy.parse("0s,5s", 0.2, "soon", "5s")
