import uuid
from datetime import UTC, datetime

from hookstream.domain.manual import Superseded, manual_task

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
MESSAGE = {
    "msg_id": uuid.UUID("0190f3a4-0000-7000-8000-000000000001"),
    "app_id": uuid.UUID("0190f3a4-0000-7000-8000-000000000002"),
    "event_type": "invoice.paid",
    "event_id": "inv-1",
    "channels": ("eu",),
    "payload": '{"a":1}',
    "accepted_at": NOW,
}


def test_manual_task_is_attempt_one_with_the_given_sequence_and_never_scheduled() -> None:
    task = manual_task(MESSAGE, "0190f3a4-0000-7000-8000-000000000003", 4, NOW)
    assert (task["trigger"], task["attempt_number"], task["trigger_seq"]) == ("manual", 1, 4)
    assert task["msg_id"] == str(MESSAGE["msg_id"]) and task["app_id"] == str(MESSAGE["app_id"])
    assert task["payload"] == b'{"a":1}' and task["channels"] == ["eu"]
    assert task["due_at"] == task["enqueued_at"] == NOW and task["accepted_at"] == NOW


def test_bytes_payload_and_missing_channels() -> None:
    task = manual_task({**MESSAGE, "payload": b"{}", "channels": None}, "e", 1, NOW)
    assert task["payload"] == b"{}" and task["channels"] == []


def _task(trigger: str, number: int, msg: str = "m1", endpoint: str = "e1") -> dict[str, object]:
    return {"msg_id": msg, "endpoint_id": endpoint, "trigger": trigger, "attempt_number": number}


def test_a_delivered_manual_attempt_supersedes_the_pairs_pending_automatic_retries_only() -> None:
    superseded = Superseded()
    superseded.delivered(_task("manual", 1), success=False)
    assert not superseded.supersedes(_task("scheduled", 2)), "a failed manual attempt cancels nothing"
    superseded.delivered(_task("scheduled", 1), success=True)
    assert not superseded.supersedes(_task("scheduled", 2)), "only a manual success cancels"
    superseded.delivered(_task("manual", 1), success=True)
    assert superseded.supersedes(_task("scheduled", 2)) and superseded.supersedes(_task("scheduled", 5))
    assert not superseded.supersedes(_task("manual", 1)), "another manual retry still goes"
    assert not superseded.supersedes(_task("scheduled", 2, msg="m2"))
    assert not superseded.supersedes(_task("scheduled", 2, endpoint="e2"))


def test_superseded_pairs_are_bounded_forgetting_the_oldest() -> None:
    superseded = Superseded(max_pairs=2)
    for msg in ("m1", "m2", "m3"):
        superseded.delivered(_task("manual", 1, msg=msg), success=True)
    assert len(superseded) == 2
    assert not superseded.supersedes(_task("scheduled", 2, msg="m1")), "forgotten: the retry goes, as before"
    assert superseded.supersedes(_task("scheduled", 2, msg="m3"))
