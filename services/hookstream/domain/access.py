"""Who a bearer token speaks for: the operator (everything) or one application (its own data only).

Application-scoped tokens (Svix's app-portal access, Outpost's tenant
tokens) are stateless: the application id and an expiry, authenticated with
an HMAC under a key derived from the operator token. Nothing is stored, so
every API process accepts a token any other one issued, and changing the
operator token revokes every application token at once. One application's
tokens are revoked by raising its token generation (Svix's expire-all, kept
on the application's record on ``config``): a generation above 0 signs with a
key of its own, so the tokens issued before no longer verify (those of the
generation just before may be given a grace period).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass

APP_TOKEN_PREFIX = "hs_app_"
_CONTEXT = b"hookstream app token v1\x00"
_MAC_BYTES = 16


@dataclass(frozen=True)
class Scope:
    """``app_id`` None is the operator; otherwise the one application the token may see."""

    app_id: uuid.UUID | None = None

    @property
    def is_operator(self) -> bool:
        return self.app_id is None

    def allows(self, app_id: uuid.UUID | str) -> bool:
        """Whether data of ``app_id`` may be shown; callers answer 404 (never 403) when not."""
        if self.app_id is None:
            return True
        return self.app_id == (app_id if isinstance(app_id, uuid.UUID) else uuid.UUID(app_id))


OPERATOR = Scope()


def app_token_key(operator_token: str) -> bytes:
    return hashlib.sha256(_CONTEXT + operator_token.encode()).digest()


@dataclass(frozen=True)
class Generation:
    """Which tokens of an application verify: this generation's, and the one before until ``previous_until``."""

    current: int = 0
    previous_until: float | None = None  # Unix seconds


Generations = Callable[[uuid.UUID], Generation]


def _first(_app_id: uuid.UUID) -> Generation:
    return Generation()


def generation_key(key: bytes, app_id: uuid.UUID, generation: int) -> bytes:
    """Generation 0 is the deployment's key itself, so tokens issued before generations existed still verify."""
    if generation == 0:
        return key
    return hmac.new(key, b"generation\x00" + app_id.bytes + generation.to_bytes(8, "big"), hashlib.sha256).digest()


def _mac(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, _CONTEXT + body, hashlib.sha256).digest()[:_MAC_BYTES]


def issue_app_token(key: bytes, app_id: uuid.UUID, expires_at: int, generation: int = 0) -> str:
    """A token for ``app_id`` valid until ``expires_at`` (Unix seconds), signed for the application's generation."""
    body = app_id.bytes + expires_at.to_bytes(8, "big")
    mac = _mac(generation_key(key, app_id, generation), body)
    return APP_TOKEN_PREFIX + base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


def verify_app_token(key: bytes, token: str, now: float, generations: Generations = _first) -> Scope | None:
    """The token's scope, or None when it is malformed, forged or expired."""
    if not token.startswith(APP_TOKEN_PREFIX):
        return None
    text = token[len(APP_TOKEN_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 16 + 8 + _MAC_BYTES:
        return None
    body, mac = raw[:24], raw[24:]
    app_id = uuid.UUID(bytes=body[:16])
    generation = generations(app_id)
    signed = [generation.current]
    if generation.current > 0 and generation.previous_until is not None and now < generation.previous_until:
        signed.append(generation.current - 1)
    if not any(hmac.compare_digest(mac, _mac(generation_key(key, app_id, g), body)) for g in signed):
        return None
    if int.from_bytes(body[16:], "big") <= now:
        return None
    return Scope(app_id)


def authenticate(operator_token: str, token: str, now: float, generations: Generations = _first) -> Scope | None:
    """The scope a presented bearer token grants, or None (401)."""
    token = token.strip()
    if not token:
        return None
    if hmac.compare_digest(token.encode(), operator_token.encode()):
        return OPERATOR
    return verify_app_token(app_token_key(operator_token), token, now, generations)
