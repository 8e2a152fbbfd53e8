"""A manual attempt (Svix resend and recover, Outpost retry) as the DeliveryTask that carries it.

Trigger ``manual``, attempt number 1 and the pair's next trigger sequence:
its attempt id (derived from message, endpoint, number and sequence) is new,
and the delivery worker never schedules a retry of it.
"""

from __future__ import annotations

from collections import OrderedDict
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


class Superseded:
    """Message x endpoint pairs a manual attempt delivered: a scheduled retry of them still pending is dropped.

    Outpost cancels the automatic retry of an event and destination once a
    manual retry of them succeeds. Here the pending retry is a task still in
    a delay tier; when it reaches the worker it is skipped instead of sent.
    Every task of an endpoint (manual ones too) is in one ``tasks`` partition,
    so the worker that saw the manual success is the one that meets the
    retry, unless the partition changed hands in between: then the retry is
    sent, which is what happened before this existed. Bounded: past
    ``max_pairs`` the oldest pair is forgotten, which can only send a retry.
    """

    def __init__(self, max_pairs: int = 50_000) -> None:
        if max_pairs < 1:
            raise ValueError("max_pairs must be at least 1")
        self.max_pairs = max_pairs
        self._pairs: OrderedDict[tuple[str, str], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pairs)

    def delivered(self, task: Mapping[str, Any], success: bool) -> None:
        """Note a finished attempt at ``task``; only a successful manual one supersedes anything."""
        if success and task["trigger"] == "manual":
            key = (task["msg_id"], task["endpoint_id"])
            self._pairs[key] = None
            self._pairs.move_to_end(key)
            while len(self._pairs) > self.max_pairs:
                self._pairs.popitem(last=False)

    def supersedes(self, task: Mapping[str, Any]) -> bool:
        """Whether ``task`` is an automatic retry of a pair a manual attempt has since delivered."""
        return (
            task["trigger"] == "scheduled"
            and task["attempt_number"] > 1
            and ((task["msg_id"], task["endpoint_id"]) in self._pairs)
        )
