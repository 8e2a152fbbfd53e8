"""A manual attempt (Svix resend and recover, Outpost retry) as the DeliveryTask that carries it.

Trigger ``manual``, attempt number 1 and the pair's next trigger sequence:
its attempt id (derived from message, endpoint, number and sequence) is new,
and the delivery worker never schedules a retry of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def manual_task(message: Mapping[str, Any], endpoint_id: str, trigger_seq: int, now: datetime) -> dict[str, Any]:
    """``message`` is a MessageAccepted record or a ``messages`` row, with its payload."""
    payload = message["payload"]
    return {
        "msg_id": str(message["msg_id"]), "app_id": str(message["app_id"]), "endpoint_id": endpoint_id,
        "attempt_number": 1, "trigger": "manual", "trigger_seq": trigger_seq, "due_at": now, "enqueued_at": now,
        "event_type": message["event_type"], "event_id": message.get("event_id"),
        "channels": list(message.get("channels") or ()),
        "payload": payload if isinstance(payload, bytes) else payload.encode(), "accepted_at": message["accepted_at"],
    }  # fmt: skip
