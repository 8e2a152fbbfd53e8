"""Duplicate ``eventId`` detection within an application, over a time window.

Messages are keyed by application and dedupe key, so every copy of an event
id lands on one partition and one router sees them all, in log order. The
index is partition-local state rebuilt from the log itself (the window's
worth of records before the committed offset), so a restarted router judges
duplicates exactly as the one before it did.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FirstSeen:
    msg_id: str
    accepted_at_us: int


class DedupeIndex:
    def __init__(self, window_us: int) -> None:
        self.window_us = window_us
        self._first: OrderedDict[tuple[str, str], FirstSeen] = OrderedDict()

    def __len__(self) -> int:
        return len(self._first)

    def check(self, app_id: str, event_id: str | None, msg_id: str, accepted_at_us: int) -> FirstSeen | None:
        """The first message with this event id if this one repeats it within the window, else None.

        A replay of the first message itself (same msg_id) is not a duplicate:
        routing it again yields the same task ids and is absorbed downstream.
        """
        if event_id is None:
            return None
        self._expire(accepted_at_us)
        key = (app_id, event_id)
        first = self._first.get(key)
        if first is not None and first.msg_id != msg_id and accepted_at_us - first.accepted_at_us < self.window_us:
            return first
        if first is None or first.msg_id != msg_id:
            self._first[key] = FirstSeen(msg_id, accepted_at_us)
            self._first.move_to_end(key)
        return None

    def _expire(self, now_us: int) -> None:
        # Insertion order is accept order within a partition (log order), so the oldest are first.
        while self._first:
            key, first = next(iter(self._first.items()))
            if now_us - first.accepted_at_us < self.window_us:
                break
            del self._first[key]
