"""Delay tiers: which tier a retry waits in, and what a tier consumer holds while it waits.

A retry decided by the delivery worker (:mod:`hookstream.domain.retry`) is
turned by the scheduler into the next ``DeliveryTask`` (:func:`next_task`)
and written to one delay-tier topic (:func:`tier_for`). Scheduled retries go
to the tier of their nominal schedule step (``retry.5m`` for the 5-minute
step), so a tier only mixes delays within the jitter band of one step; a
``Retry-After`` delay goes to the smallest tier at least as long, or the
longest tier when none is. A tier never makes a task early: its consumer
forwards a task only once the task's own ``due_at`` has passed.

Jitter means records of one tier are not exactly in due order, so the tier
consumer keeps a small window of the partition's head (:class:`DueWindow`,
bounded in records and bytes, independent of the backlog) and forwards
whichever of those is due; a record that is due behind a full window waits
for the window to move, as a plain head-of-line consumer would.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from hookstream.domain.retry import RetryType

T = TypeVar("T")


def tier_for(delay_s: float, tiers: tuple[float, ...], nominal_s: float | None = None) -> float | None:
    """The tier (its delay in seconds) a retry waits in; None means "no wait": straight to ``tasks``.

    ``nominal_s`` is the schedule step the delay was jittered from, when there is
    one (not for Retry-After); it wins when it is a tier.
    """
    if delay_s <= 0 or not tiers:
        return None
    if nominal_s is not None and nominal_s in tiers:
        return nominal_s
    return next((tier for tier in tiers if tier >= delay_s), tiers[-1])


@dataclass(frozen=True, slots=True)
class NextTask:
    """The next attempt's task and where it waits (``tier_s`` None: ``tasks`` directly)."""

    task: dict[str, Any]
    tier_s: float | None


def asks_for_retry(attempt: Mapping[str, Any]) -> bool:
    """Whether an ``AttemptFinished`` record asks for a retry: a failed scheduled attempt with ``next_attempt_at``.

    The delivery worker's decision, read back; the scheduler's outcome header
    (:mod:`hookstream.domain.outcome`) carries it so most records need no decoding.
    """
    return (
        attempt["status"] != "success" and attempt["trigger"] == "scheduled"
        and attempt.get("next_attempt_at") is not None
    )  # fmt: skip


def next_task(
    attempt: Mapping[str, Any], schedule: tuple[float, ...], tiers: tuple[float, ...], now: datetime
) -> NextTask | None:
    """The task for the attempt after ``attempt`` (a decoded ``AttemptFinished``), if its record asks for one.

    Only the record's own decision counts: a success, a manual attempt or a
    record without ``next_attempt_at`` schedules nothing. A record that asks
    for a retry but carries no payload (written before payloads were carried)
    cannot be turned into a task and schedules nothing either.
    """
    if not asks_for_retry(attempt) or attempt.get("payload") is None:
        return None
    due = attempt["next_attempt_at"]
    number = attempt["attempt_number"]
    delay = (due - attempt["finished_at"]).total_seconds()
    nominal = None
    if attempt.get("retry_type") != RetryType.RETRY_AFTER and number < len(schedule):
        nominal = schedule[number]
    task = {
        "msg_id": attempt["msg_id"],
        "app_id": attempt["app_id"],
        "endpoint_id": attempt["endpoint_id"],
        "attempt_number": number + 1,
        "trigger": "scheduled",
        "trigger_seq": 0,
        "due_at": due,
        "enqueued_at": now,
        "event_type": attempt["event_type"],
        "event_id": attempt.get("event_id"),
        "channels": list(attempt.get("channels") or ()),
        "payload": attempt["payload"],
        "accepted_at": attempt.get("accepted_at"),
    }
    return NextTask(task, tier_for(delay, tiers, nominal))


@dataclass(order=True, slots=True)
class _Held(Generic[T]):
    due_us: int
    offset: int
    size: int = field(compare=False)
    item: T = field(compare=False)


class DueWindow(Generic[T]):
    """The records of one partition's head that a tier consumer holds, earliest due first.

    Bounded by ``max_records`` and ``max_bytes`` (a single record larger than
    ``max_bytes`` is still taken when the window is empty, or nothing could
    move). Pure: the caller says what is due by passing the time.
    """

    def __init__(self, max_records: int, max_bytes: int) -> None:
        if max_records < 1:
            raise ValueError(f"a window holds at least one record, got {max_records}")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._heap: list[_Held[T]] = []
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def full(self) -> bool:
        return len(self._heap) >= self.max_records or (bool(self._heap) and self._bytes >= self.max_bytes)

    def add(self, due_us: int, offset: int, size: int, item: T) -> None:
        heapq.heappush(self._heap, _Held(due_us, offset, size, item))
        self._bytes += size

    def next_due_us(self) -> int | None:
        return self._heap[0].due_us if self._heap else None

    def pop_due(self, now_us: int) -> list[tuple[int, int, T]]:
        """Every held record due at ``now_us``, earliest first, as ``(due_us, offset, item)``."""
        due: list[tuple[int, int, T]] = []
        while self._heap and self._heap[0].due_us <= now_us:
            held = heapq.heappop(self._heap)
            self._bytes -= held.size
            due.append((held.due_us, held.offset, held.item))
        return due

    def clear(self) -> None:
        self._heap.clear()
        self._bytes = 0
