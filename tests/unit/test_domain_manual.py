import uuid
from datetime import UTC, datetime

from hookstream.domain.manual import manual_task

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
