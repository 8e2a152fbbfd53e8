import pytest

from hookstream.domain.ratelimit import ALLOWED, Decision, Pacer, RateLimiter


def drain(limiter: RateLimiter, key: str, now: float) -> int:
    """How many requests pass at ``now`` before the first refusal."""
    passed = 0
    while limiter.take(key, now).allowed:
        passed += 1
        assert passed <= 10_000, "never refused"
    return passed


def test_burst_then_refusal_with_retry_after() -> None:
    limiter = RateLimiter(rate=2.0, burst=5)
    assert drain(limiter, "a", 100.0) == 5
    assert limiter.take("a", 100.0) == Decision(False, 1)


def test_refills_at_the_sustained_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=5)
    drain(limiter, "a", 0.0)
    assert not limiter.take("a", 0.4).allowed  # 0.8 of a token back
    assert limiter.take("a", 0.5).allowed  # one token at 0.5 s
    assert not limiter.take("a", 0.5).allowed
    assert drain(limiter, "a", 1.5) == 2  # two tokens per second
    assert drain(limiter, "a", 1000.0) == 5, "never more than the burst"


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    limiter = RateLimiter(rate=0.1, burst=1)
    assert limiter.take("a", 0.0) == ALLOWED
    assert limiter.take("a", 0.0) == Decision(False, 10)
    assert limiter.take("a", 2.5) == Decision(False, 8)  # 7.5 s left, rounded up
    assert limiter.take("a", 10.0) == ALLOWED
    fast = RateLimiter(rate=1000.0, burst=1)
    fast.take("a", 0.0)
    assert fast.take("a", 0.0) == Decision(False, 1), "never less than one second"


def test_keys_are_independent() -> None:
    limiter = RateLimiter(rate=1.0, burst=3)
    drain(limiter, "flood", 0.0)
    assert not limiter.take("flood", 0.0).allowed
    assert drain(limiter, "other", 0.0) == 3


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 10), (5.0, 0), (-1.0, 10)])
def test_zero_disables(rate: float, burst: int) -> None:
    limiter = RateLimiter(rate=rate, burst=burst)
    assert not limiter.enabled
    assert all(limiter.take("a", 0.0).allowed for _ in range(1000))
    assert len(limiter) == 0


def test_idle_buckets_are_swept_without_changing_answers() -> None:
    limiter = RateLimiter(rate=1.0, burst=4)  # a full refill takes 4 s
    for i in range(100):
        limiter.take(f"k{i}", 0.0)
    drain(limiter, "busy", 3.0)
    assert len(limiter) == 101
    assert limiter.take("late", 4.0).allowed  # k* idle for 4 s: swept; "busy" is not
    assert len(limiter) == 2
    assert not limiter.take("busy", 3.5).allowed, "a bucket in use keeps its debt"
    assert drain(limiter, "k0", 4.0) == 4, "a swept key starts full, as it would have refilled"


def test_live_buckets_are_capped_least_recently_used_first() -> None:
    limiter = RateLimiter(rate=0.001, burst=2, max_keys=3)
    for key in ("a", "b", "c"):
        drain(limiter, key, 0.0)
    limiter.take("a", 1.0)  # "a" used again: "b" is now the least recently used
    limiter.take("d", 1.0)
    assert len(limiter) == 3
    assert not limiter.take("a", 1.0).allowed and not limiter.take("c", 1.0).allowed
    assert limiter.take("b", 1.0).allowed, "the evicted key was forgiven, never refused wrongly"


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        RateLimiter(rate=1.0, burst=1, max_keys=0)


def starts(pacer: Pacer, key: str, rate: float, count: int, now: float = 0.0, burst: int = 1) -> list[float]:
    """When each of ``count`` starts reserved at ``now`` may happen."""
    return [now + pacer.reserve(key, rate, now, burst) for _ in range(count)]


def test_pacer_spaces_starts_one_interval_apart() -> None:
    assert starts(Pacer(), "a", 10, 5) == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_pacer_burst_goes_at_once_then_the_rate() -> None:
    assert starts(Pacer(), "a", 2, 5, burst=3) == pytest.approx([0.0, 0.0, 0.0, 0.5, 1.0])


def test_pacer_schedule_does_not_drift_when_callers_wake_late() -> None:
    pacer = Pacer()
    pacer.reserve("a", 10, 0.0)
    assert pacer.reserve("a", 10, 0.05) == pytest.approx(0.05)  # due at 0.1
    assert pacer.reserve("a", 10, 0.13) == pytest.approx(0.07)  # woke 0.03 late: the next is still due at 0.2


def test_pacer_idle_key_starts_at_once_and_never_saves_up_more_than_the_burst() -> None:
    pacer = Pacer()
    starts(pacer, "a", 10, 3)
    assert starts(pacer, "a", 10, 3, now=100.0) == pytest.approx([100.0, 100.1, 100.2])


def test_pacer_keys_and_rates_are_independent() -> None:
    pacer = Pacer()
    assert starts(pacer, "slow", 1, 3) == pytest.approx([0.0, 1.0, 2.0])
    assert starts(pacer, "fast", 100, 3) == pytest.approx([0.0, 0.01, 0.02])
    # a rate lowered between calls applies from the next start
    assert pacer.reserve("fast", 1, 0.0) == pytest.approx(0.03)
    assert pacer.reserve("fast", 1, 0.0) == pytest.approx(1.03)


def test_any_one_second_window_holds_at_most_rate_plus_burst_starts() -> None:
    at = sorted(starts(Pacer(), "a", 10, 200, burst=2))
    for first in at:
        assert sum(first <= t < first + 1.0 for t in at) <= 10 + 2


def test_pacer_forgets_keys_whose_bucket_is_full_again() -> None:
    pacer = Pacer()
    for n in range(100):
        pacer.reserve(f"k{n}", 10, 0.0)
    assert len(pacer) == 100
    pacer.reserve("late", 10, 5.0)
    assert len(pacer) == 1


def test_pacer_rejects_a_rate_it_cannot_keep() -> None:
    with pytest.raises(ValueError):
        Pacer().reserve("a", 0, 0.0)
