"""Per-key token buckets: a sustained rate with a burst allowance, and how long to wait when empty.

Two uses: :class:`RateLimiter` refuses past the rate (the API answers 429);
:class:`Pacer` never refuses, it says how long the next start must wait
(delivery to an endpoint with a ``throttleRate``).

Each key (one bearer token) has a bucket of ``burst`` tokens that refills
at ``rate`` per second; a request takes one. The clock is an argument, so
the arithmetic is tested without sleeping.

Memory stays bounded two ways. A bucket idle long enough to have refilled
completely is indistinguishable from a new one, so dropping it changes no
answer; those are swept as requests arrive. Past ``max_keys`` live buckets
the least recently used one is dropped too, which can only forgive (its
key starts again from a full bucket), never refuse a request wrongly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    """``retry_after_s`` is 0 when allowed; otherwise whole seconds (at least 1) until a token is back."""

    allowed: bool
    retry_after_s: int = 0


ALLOWED = Decision(True)


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """``rate`` tokens/s sustained, ``burst`` at once; a rate or burst of 0 (or less) disables limiting."""

    def __init__(self, rate: float, burst: int, *, max_keys: int = 10_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0

    @property
    def refill_s(self) -> float:
        """How long an empty bucket takes to fill: after that much idleness a bucket is as good as new."""
        return self.burst / self.rate

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> Decision:
        """Spend one token of ``key`` at time ``now`` (seconds, any monotonic origin)."""
        if not self.enabled:
            return ALLOWED
        self._sweep(now)
        bucket = self._buckets.pop(key, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        else:
            elapsed = max(0.0, now - bucket.at)
            bucket = _Bucket(min(float(self.burst), bucket.tokens + elapsed * self.rate), max(now, bucket.at))
        self._buckets[key] = bucket  # (re)inserted last: the order is least recently used first
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return ALLOWED
        return Decision(False, max(1, math.ceil((1.0 - bucket.tokens) / self.rate)))

    def _sweep(self, now: float) -> None:
        """Drop buckets idle for a full refill, oldest first; stops at the first one still in use."""
        while self._buckets:
            key, oldest = next(iter(self._buckets.items()))
            if now - oldest.at < self.refill_s:
                return
            del self._buckets[key]


class Pacer:
    """Per-key schedule of starts at most ``rate`` per second: how long the next one must wait.

    The same bucket as :class:`RateLimiter`, except that an empty bucket is
    not a refusal: the caller reserves the next token and waits for it. It is
    kept as the time the bucket is full again (the "theoretical arrival
    time" of the generic cell rate algorithm): a reservation at ``now`` starts
    at ``max(now, full_at - (burst - 1) / rate)`` and moves ``full_at`` one
    interval on. Starts are therefore spaced ``1 / rate`` apart after the
    first ``burst``, measured from the schedule and not from when the caller
    woke, so late wake-ups do not drift the rate down. The rate is given per
    call (each endpoint has its own, and it can change between calls).

    A key whose bucket is full again is indistinguishable from a new one, so
    such keys are swept (at most once a second): memory is the keys that
    reserved within the last interval, not every key ever seen.
    """

    def __init__(self) -> None:
        self._full_at: dict[str, float] = {}
        self._swept = -math.inf

    def __len__(self) -> int:
        return len(self._full_at)

    def reserve(self, key: str, rate: float, now: float, burst: int = 1) -> float:
        """Seconds from ``now`` until this start may happen (0: at once); ``rate`` must be positive."""
        if rate <= 0 or burst < 1:
            raise ValueError("a pace needs a positive rate and a burst of at least 1")
        if now - self._swept >= 1.0:
            self._swept = now
            self._full_at = {k: t for k, t in self._full_at.items() if t > now}
        interval = 1.0 / rate
        full_at = max(self._full_at.get(key, now), now)
        start = max(now, full_at - (burst - 1) * interval)
        self._full_at[key] = full_at + interval
        return start - now
