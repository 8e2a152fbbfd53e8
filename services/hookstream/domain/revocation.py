"""Logged-out application tokens (Svix's logout): the set every API process consults, and its records.

A logout is a ``TokenRevoked`` record naming the token by its digest
(``domain.access.token_digest``, never the token) with the token's own
expiry. Past that expiry the token is refused as expired anyway, so the set
forgets the entry: it holds only the logged-out tokens still alive, which a
token's short life (seven days at most) keeps small. The records live on the
``background-tasks`` topic (``log.background_tasks`` says why). Everything
here is pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hookstream.domain.access import TokenId

RECORD = "TokenRevoked"
_PRUNE_FLOOR = 64


def to_record(token: TokenId, revoked_at: datetime) -> dict[str, Any]:
    return {"token_digest": token.digest, "app_id": str(token.app_id),
            "expires_at": datetime.fromtimestamp(token.expires_at, UTC), "revoked_at": revoked_at}  # fmt: skip


def from_record(record: Mapping[str, Any]) -> TokenId:
    return TokenId(record["token_digest"], uuid.UUID(record["app_id"]), int(record["expires_at"].timestamp()))


def key(token: TokenId) -> bytes:
    """The record's key: one per token, so compaction keeps one record of a token logged out twice."""
    return token.digest.encode()


class RevokedTokens:
    """Digest -> expiry of the logged-out tokens not yet expired; ``revoked`` is the request path's one lookup.

    Expired entries are dropped in bulk once the set has doubled since the
    last sweep, so adding stays O(1) amortized and a lookup never sweeps. An
    expired entry left until then is harmless: its token fails the expiry
    check before the set is consulted.
    """

    def __init__(self) -> None:
        self._expiries: dict[str, float] = {}
        self._swept_at_size = 0

    def __len__(self) -> int:
        return len(self._expiries)

    def add(self, token: TokenId, now: float) -> None:
        """Remember ``token`` until it expires; one already expired is not kept (a replay of old records)."""
        if token.expires_at <= now:
            return
        self._expiries[token.digest] = token.expires_at
        if len(self._expiries) >= 2 * max(self._swept_at_size, _PRUNE_FLOOR):
            self.forget_expired(now)

    def forget_expired(self, now: float) -> None:
        self._expiries = {digest: until for digest, until in self._expiries.items() if until > now}
        self._swept_at_size = len(self._expiries)

    def revoked(self, digest: str) -> bool:
        """``domain.access.Revoked``: whether this token was logged out."""
        return digest in self._expiries
