"""A short-lived view of this API process's own writes, for read-your-writes on projected data.

Configuration is read from the in-memory config view, which ``catch_up()``
brings up to date synchronously. Messages and attempts are read from
ClickHouse, which the projector fills in batches (up to
``projector_batch_s`` behind). A client that creates a message and reads it
back at once must still see it, so the API remembers what it wrote for
``api_recent_writes_s`` and answers from here when ClickHouse has not got it
yet. The window only has to outlast the projector's lag. The same holds for
expunges: content this process expunged is blanked in its answers until the
projector has blanked it in ClickHouse.
"""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hookstream.domain.ids import as_uuid


class RecentWrites:
    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._messages: OrderedDict[uuid.UUID, tuple[float, dict[str, Any]]] = OrderedDict()
        self._event_ids: dict[tuple[str, str], uuid.UUID] = {}
        self._expunged: OrderedDict[uuid.UUID, float] = OrderedDict()
        self._trigger_seqs: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, int]] = {}

    def add_message(self, record: dict[str, Any]) -> None:
        self._prune()
        msg_id = uuid.UUID(record["msg_id"])
        self._messages[msg_id] = (self._clock(), record)
        if record.get("event_id"):
            self._event_ids[(record["app_id"], record["event_id"])] = msg_id

    def forget_message(self, record: dict[str, Any]) -> None:
        msg_id = uuid.UUID(record["msg_id"])
        self._messages.pop(msg_id, None)
        if record.get("event_id"):
            self._event_ids.pop((record["app_id"], record["event_id"]), None)

    def message(self, app_id: uuid.UUID, msg_id: uuid.UUID) -> dict[str, Any] | None:
        self._prune()
        entry = self._messages.get(msg_id)
        return entry[1] if entry is not None and entry[1]["app_id"] == str(app_id) else None

    def message_by_event_id(self, app_id: uuid.UUID, event_id: str) -> dict[str, Any] | None:
        self._prune()
        msg_id = self._event_ids.get((str(app_id), event_id))
        return self.message(app_id, msg_id) if msg_id is not None else None

    def add_expunged(self, content_id: uuid.UUID) -> None:
        """An attempt's response, or a message's payload, expunged by this process."""
        self._prune()
        self._expunged[content_id] = self._clock()

    def is_expunged(self, *content_ids: uuid.UUID | str) -> bool:
        """Whether any of these (an attempt's id and its message's id) had its content expunged here.

        Asked for every row of every list: the common answer (nothing expunged lately) costs no id parsing.
        """
        if not self._expunged:
            return False
        return any(as_uuid(content_id) in self._expunged for content_id in content_ids)

    def without_expunged_payload(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message record or row as reads must show it: no payload once this process expunged it."""
        if not self.is_expunged(message["msg_id"]):
            return message
        return {**message, "payload": None, "expunged": 1}

    def next_trigger_seq(self, msg_id: uuid.UUID, endpoint_id: uuid.UUID, recorded: int) -> int:
        """One past both the highest recorded sequence and the last one this process handed out."""
        self._prune()
        _, issued = self._trigger_seqs.get((msg_id, endpoint_id), (0.0, 0))
        seq = max(recorded, issued) + 1
        self._trigger_seqs[(msg_id, endpoint_id)] = (self._clock(), seq)
        return seq

    def _prune(self) -> None:
        horizon = self._clock() - self.ttl_s
        while self._messages:
            _, (at, record) = next(iter(self._messages.items()))
            if at > horizon:
                break
            self.forget_message(record)
        while self._expunged and next(iter(self._expunged.values())) <= horizon:
            self._expunged.popitem(last=False)
        for key in [key for key, (at, _) in self._trigger_seqs.items() if at <= horizon]:
            del self._trigger_seqs[key]
