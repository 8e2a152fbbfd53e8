"""Idempotent POSTs (Svix's ``idempotency-key``): which request a key names, what is kept, for how long.

A key counts for one token on one method and path, as Svix's does; the body is
not part of it. The request key is a hash so the raw bearer token never
reaches the log. Only completed answers are kept: a 2xx or a 4xx that the
same request would get again. A 401 (the token may be fixed), a 429 (the
limit passes) and any 5xx (the work may not have happened) are not, so a retry
does the work.

``ResponseWindow`` is the fold of stored answers: newest-per-key, each kept
for the window from when it was answered, older ones dropped so memory
follows the request rate, not the topic's age. The clock is an argument.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEY_MAX_LENGTH = 256
UNSTORED_STATUSES = frozenset({401, 429})
# Set by the HTTP server for each answer, or wrong once the body is replayed.
_TRANSIENT_HEADERS = frozenset(
    {"content-length", "date", "server", "transfer-encoding", "connection", "keep-alive", "content-encoding"}
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_key: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    answered_at: float
    """Seconds since the epoch; the window runs from here."""


def key_problem(raw: str) -> str | None:
    """Why an ``idempotency-key`` header value is refused, or None when it is usable."""
    if not raw:
        return "must not be empty"
    if len(raw) > KEY_MAX_LENGTH:
        return f"is {len(raw)} characters; at most {KEY_MAX_LENGTH} are allowed"
    if not all("\x21" <= ch <= "\x7e" for ch in raw):
        return "must be printable ASCII without spaces"
    return None


def request_key(token: str, method: str, path: str, key: str) -> str:
    """Hex SHA-256 naming (token, method, path, key); a path answers with and without its trailing slash."""
    digest = hashlib.sha256()
    for part in (token, method.upper(), path.rstrip("/") or "/", key):
        encoded = part.encode()
        digest.update(len(encoded).to_bytes(4, "big"))  # length-prefixed: no two tuples hash alike
        digest.update(encoded)
    return digest.hexdigest()


def storable(status: int) -> bool:
    return 200 <= status < 300 or (400 <= status < 500 and status not in UNSTORED_STATUSES)


def replayable_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The headers a replay repeats: the handler's own, not the server's per-answer ones."""
    return {name: value for name, value in headers if name.lower() not in _TRANSIENT_HEADERS}


class ResponseWindow:
    def __init__(self, window_s: float) -> None:
        if window_s <= 0:
            raise ValueError(f"the idempotency window must be positive, got {window_s} s")
        self.window_s = window_s
        self._by_key: dict[str, StoredResponse] = {}
        self._arrivals: deque[tuple[float, str]] = deque()

    def __len__(self) -> int:
        return len(self._by_key)

    def remember(self, response: StoredResponse, now: float) -> bool:
        """Fold one stored answer in; False when it has already expired (an old record replayed at start).

        The first answer of a key wins: two API processes racing on one key
        both write, and every process must replay the same one.
        """
        self.prune(now)
        if not self._live(response, now):
            return False
        known = self._by_key.get(response.request_key)
        if known is not None and known.answered_at <= response.answered_at:
            return False
        self._by_key[response.request_key] = response
        self._arrivals.append((response.answered_at, response.request_key))
        return True

    def get(self, request_key: str, now: float) -> StoredResponse | None:
        found = self._by_key.get(request_key)
        return found if found is not None and self._live(found, now) else None

    def prune(self, now: float) -> None:
        """Drop what the window has passed, oldest arrival first.

        Arrivals are roughly in answer order (one clock per process); a late
        one only delays pruning behind it, it is never kept past ``get``'s check.
        """
        while self._arrivals and self._arrivals[0][0] <= now - self.window_s:
            at, key = self._arrivals.popleft()
            known = self._by_key.get(key)
            if known is not None and known.answered_at == at:
                del self._by_key[key]

    def _live(self, response: StoredResponse, now: float) -> bool:
        return now - response.answered_at < self.window_s
