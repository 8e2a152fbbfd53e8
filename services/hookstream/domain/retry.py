"""Whether and when an attempt is retried: decided once, when the attempt is recorded.

The delivery worker calls :func:`next_retry` while it writes the
``AttemptFinished`` record, and the record then carries the decision
(``retry_type``, ``retry_after_seconds``, ``next_attempt_at``). The scheduler
only follows it, so a replayed record can never be scheduled differently.
The jitter comes from an RNG seeded with the attempt id
(:func:`retry_rng`): a task that is attempted twice (at-least-once) records
the same decision both times.

``retry_type`` values (the ``AttemptFinished`` field, named as in seed 002):

* ``None`` (null): the attempt succeeded; nothing to retry.
* ``"none"``: it failed and is not retried: a manual attempt (resend,
  recover), or the schedule is exhausted.
* ``"immediate"``: retried at once (a ``0s`` step of the schedule).
* ``"fast"``: retried within :data:`FAST_LIMIT_S` (the schedule's early steps).
* ``"slow"``: retried later than that (5 min and beyond by default).
* ``"retry_after"``: the receiver's ``Retry-After`` (on 429 or 503) chose the
  delay, clamped to the configured bounds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Protocol

from hookstream.domain.schedule import InvalidSchedule, parse_duration, parse_schedule

FAST_LIMIT_S = 60.0
"""A retry due within this many seconds is ``fast``; a later one is ``slow``."""

RETRY_AFTER_STATUSES = frozenset({429, 503})
"""Responses whose ``Retry-After`` header is honoured (RFC 9110 defines it for 503 and 3xx; RFC 6585 for 429)."""


class RetryType(StrEnum):
    NONE = "none"
    IMMEDIATE = "immediate"
    FAST = "fast"
    SLOW = "slow"
    RETRY_AFTER = "retry_after"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The deployment's retry rules; ``schedule[i]`` is the delay before attempt ``i + 1``."""

    schedule: tuple[float, ...]
    jitter: float = 0.2
    retry_after_min_s: float = 5.0
    retry_after_max_s: float = 36000.0

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 1:
            raise InvalidSchedule(f"retry jitter is a fraction in [0, 1), got {self.jitter}")
        if not 0 <= self.retry_after_min_s <= self.retry_after_max_s:
            raise InvalidSchedule(
                f"Retry-After bounds must satisfy 0 <= min <= max, got {self.retry_after_min_s} and "
                f"{self.retry_after_max_s}"
            )

    @classmethod
    def parse(cls, schedule: str, jitter: float, retry_after_min: str, retry_after_max: str) -> RetryPolicy:
        return cls(parse_schedule(schedule), jitter, parse_duration(retry_after_min), parse_duration(retry_after_max))

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What the retry decision reads of one attempt."""

    attempt_number: int
    manual: bool
    success: bool
    status_code: int | None
    retry_after: str | None = None  # the raw header value, if the receiver sent one
    eligible: bool = True  # the message's eligible_for_retry (Outpost): False, no automatic retry


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """``retry_type`` None means success; ``delay_s`` None means no further attempt."""

    retry_type: RetryType | None
    delay_s: float | None = None

    def next_attempt_at(self, finished: datetime) -> datetime | None:
        return None if self.delay_s is None else finished + timedelta(seconds=self.delay_s)

    @property
    def retry_after_seconds(self) -> int | None:
        return None if self.delay_s is None else round(self.delay_s)


SUCCEEDED = RetryDecision(None)
NOT_RETRIED = RetryDecision(RetryType.NONE)


class Jitter(Protocol):
    """What :func:`next_retry` draws its jitter from: ``random.Random`` or :class:`AttemptJitter`."""

    def random(self) -> float: ...


class AttemptJitter:
    """``random.Random(seed)``, seeded on the first draw.

    Seeding a Mersenne Twister costs more than the rest of the retry decision
    (~10 µs), and a successful attempt, the common case, never draws.
    """

    __slots__ = ("_rng", "_seed")

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._rng: random.Random | None = None

    def random(self) -> float:
        if self._rng is None:
            self._rng = random.Random(self._seed)
        return self._rng.random()


def retry_rng(attempt: uuid.UUID) -> AttemptJitter:
    """The jitter source of one attempt: the same attempt id always draws the same jitter."""
    return AttemptJitter(attempt.int)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` value asks for: delta-seconds or an HTTP-date; None when unreadable.

    A date in the past means "now" (0 s). Anything else (negative numbers,
    fractions, garbage) is ignored rather than guessed at, so the schedule applies.
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; parsedate leaves "-0000" naive
        when = when.replace(tzinfo=now.tzinfo)
    return max(0.0, (when - now).total_seconds())


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A response header by case-insensitive name."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def next_retry(policy: RetryPolicy, attempt: AttemptResult, now: datetime, rng: Jitter) -> RetryDecision:
    """The decision for one finished attempt; ``now`` is when it finished (for HTTP-date Retry-After)."""
    if attempt.success:
        return SUCCEEDED
    if attempt.manual or not attempt.eligible or attempt.attempt_number >= policy.max_attempts:
        return NOT_RETRIED
    if attempt.status_code in RETRY_AFTER_STATUSES:
        asked = parse_retry_after(attempt.retry_after, now)
        if asked is not None:
            delay = min(max(asked, policy.retry_after_min_s), policy.retry_after_max_s)
            return RetryDecision(RetryType.RETRY_AFTER, delay)
    nominal = policy.schedule[attempt.attempt_number]
    if nominal <= 0:
        return RetryDecision(RetryType.IMMEDIATE, 0.0)
    delay = nominal * (1 + policy.jitter * (2 * rng.random() - 1))
    return RetryDecision(RetryType.FAST if delay <= FAST_LIMIT_S else RetryType.SLOW, delay)
