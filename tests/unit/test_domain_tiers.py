"""Delay tiers: which tier a retry waits in, the next task a failed attempt asks for, the due-ordered window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hookstream.domain.schedule import delay_tiers, parse_schedule
from hookstream.domain.tiers import DueWindow, next_task, tier_for
from hookstream.log.codec import AvroCodec
from tests.support import builders

SCHEDULE = parse_schedule("0s,5s,5m,30m,2h,5h,10h,10h")
TIERS = delay_tiers(SCHEDULE)
NOW = datetime(2025, 12, 6, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delay", "nominal", "tier"),
    [
        (6.0, 5.0, 5.0),  # jittered above its step: stays in the step's tier
        (4.0, 5.0, 5.0),
        (350.0, 300.0, 300.0),
        (60.0, None, 300.0),  # Retry-After: the smallest tier at least as long
        (5.0, None, 5.0),
        (3.0, None, 5.0),
        (99_999.0, None, 36000.0),  # longer than every tier: the longest, which waits for due_at
        (0.0, None, None),  # immediate: straight to tasks
        (7.0, 7.0, 300.0),  # a step that is not a tier (schedule changed): by the delay
    ],
)
def test_tier_for(delay: float, nominal: float | None, tier: float | None) -> None:
    assert tier_for(delay, TIERS, nominal) == tier


def test_tier_for_without_tiers_means_tasks() -> None:
    assert tier_for(5.0, ()) is None


def _failed(number: int, delay_s: float, **changes: Any) -> dict[str, Any]:
    message = builders.message(builders.application()["app_id"], event_id="e-1", channels=["eu"])
    record = builders.attempt(message, "01959a3c-9a00-7c11-8d22-33445566778a", attempt_number=number, status=500)
    return record | {"finished_at": NOW, "next_attempt_at": NOW + timedelta(seconds=delay_s), "payload": b'{"a":1}',
                     "accepted_at": NOW - timedelta(seconds=1), "retry_type": "fast"} | changes  # fmt: skip


def test_next_task_for_a_failed_scheduled_attempt() -> None:
    attempt = _failed(2, 330.0, retry_type="slow")
    planned = next_task(attempt, SCHEDULE, TIERS, NOW + timedelta(milliseconds=3))
    assert planned is not None and planned.tier_s == 300.0
    task = planned.task
    assert (task["msg_id"], task["app_id"], task["endpoint_id"]) == (
        attempt["msg_id"], attempt["app_id"], attempt["endpoint_id"],
    )  # fmt: skip
    assert (task["attempt_number"], task["trigger"], task["trigger_seq"]) == (3, "scheduled", 0)
    assert task["due_at"] == attempt["next_attempt_at"] and task["enqueued_at"] == NOW + timedelta(milliseconds=3)
    assert (task["payload"], task["accepted_at"]) == (attempt["payload"], attempt["accepted_at"])
    assert (task["event_type"], task["event_id"], task["channels"]) == ("invoice.paid", "e-1", ["eu"])
    AvroCodec().encode("DeliveryTask", task)  # the contract holds


def test_retry_after_goes_by_its_delay_and_immediate_goes_to_tasks() -> None:
    planned = next_task(_failed(1, 60.0, retry_type="retry_after"), SCHEDULE, TIERS, NOW)
    assert planned is not None and planned.tier_s == 300.0
    planned = next_task(_failed(1, 0.0, retry_type="immediate"), parse_schedule("0s,0s,5s"), (5.0,), NOW)
    assert planned is not None and planned.tier_s is None


@pytest.mark.parametrize(
    "changes",
    [
        {"status": "success", "next_attempt_at": None},
        {"trigger": "manual", "trigger_seq": 1},
        {"next_attempt_at": None, "retry_type": "none"},
        {"payload": None},  # written before payloads rode along: nothing to build the task from
    ],
)
def test_records_that_ask_for_no_retry_schedule_nothing(changes: dict[str, Any]) -> None:
    assert next_task(_failed(1, 5.0) | changes, SCHEDULE, TIERS, NOW) is None


def test_window_forwards_in_due_order_and_only_once_due() -> None:
    window: DueWindow[str] = DueWindow(max_records=10, max_bytes=1000)
    for offset, due in enumerate([30, 10, 20, 10]):
        window.add(due, offset, 10, f"task-{offset}")
    assert window.next_due_us() == 10
    assert window.pop_due(9) == []
    assert window.pop_due(20) == [(10, 1, "task-1"), (10, 3, "task-3"), (20, 2, "task-2")]
    assert (len(window), window.bytes, window.next_due_us()) == (1, 10, 30)
    window.clear()
    assert (len(window), window.bytes, window.next_due_us()) == (0, 0, None)


def test_window_is_bounded_by_records_and_by_bytes() -> None:
    by_count: DueWindow[int] = DueWindow(max_records=2, max_bytes=10**9)
    by_count.add(1, 0, 1, 0)
    assert not by_count.full
    by_count.add(1, 1, 1, 1)
    assert by_count.full
    by_bytes: DueWindow[int] = DueWindow(max_records=100, max_bytes=100)
    assert not by_bytes.full, "an empty window always takes one record, however large"
    by_bytes.add(1, 0, 500, 0)
    assert by_bytes.full
    by_bytes.pop_due(1)
    assert not by_bytes.full
    with pytest.raises(ValueError, match="at least one record"):
        DueWindow(0, 100)
