"""Per-key token buckets: a sustained rate with a burst allowance, and how long to wait when empty.

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
