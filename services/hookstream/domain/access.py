"""Who a bearer token speaks for: the operator (everything) or one application (its own data only).

Application-scoped tokens (Svix's app-portal access, Outpost's tenant
tokens) are stateless: the application id and an expiry, authenticated with
an HMAC under a key derived from the operator token. Nothing is stored, so
every API process accepts a token any other one issued, and changing the
operator token revokes every application token at once. One application's
tokens are revoked by raising its token generation (Svix's expire-all, kept
on the application's record on ``config``): a generation above 0 signs with a
key of its own, so the tokens issued before no longer verify (those of the
generation just before may be given a grace period). One token is revoked
by logging it out: its digest joins a set of revoked tokens (kept on the log
by the API, ``domain.revocation``) that verification consults last, and that
forgets a token once it has expired anyway.

A token may be narrowed to some of Svix's app-portal capabilities (or to
read-only, which is ``ViewBase`` alone). They are a byte of the signed
body, so a holder cannot widen them; a token with every capability has no
such byte, so it is the same token as before capabilities existed. What
each operation needs is :data:`NEEDS`, the one table the API consults
(:func:`permits`); a capability implies the ones Svix describes it as
including (:data:`IMPLIES`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

APP_TOKEN_PREFIX = "hs_app_"
_CONTEXT = b"hookstream app token v1\x00"
_MAC_BYTES = 16
_BODY_BYTES = 16 + 8  # application id, expiry
NONCE_BYTES = 8
"""Random bytes after the expiry in every token the API issues, so two tokens issued for one application in the
same second are two tokens (logging one out leaves the other); tokens issued before nonces existed have none."""
_LENGTHS = frozenset(_BODY_BYTES + nonce + bits + _MAC_BYTES for nonce in (0, NONCE_BYTES) for bits in (0, 1))

VIEW_BASE, VIEW_SECRET, MANAGE_SECRET = "ViewBase", "ViewEndpointSecret", "ManageEndpointSecret"
MANAGE_TRANSFORMATIONS, CREATE_ATTEMPTS, MANAGE_ENDPOINT = "ManageTransformations", "CreateAttempts", "ManageEndpoint"
CAPABILITIES = (VIEW_BASE, VIEW_SECRET, MANAGE_SECRET, MANAGE_TRANSFORMATIONS, CREATE_ATTEMPTS, MANAGE_ENDPOINT)
"""Svix's ``AppPortalCapability``, in the order of their bits in a token."""
ALL_CAPABILITIES = frozenset(CAPABILITIES)
IMPLIES: Mapping[str, frozenset[str]] = {
    MANAGE_SECRET: frozenset({VIEW_SECRET}),  # "rotate and view the endpoint secret"
    MANAGE_ENDPOINT: frozenset({VIEW_SECRET, MANAGE_SECRET}),  # "any field or configuration ... (including secrets)"
}
NEEDS: Mapping[str, frozenset[str]] = {
    "v1.endpoint.create": frozenset({MANAGE_ENDPOINT}),
    "v1.endpoint.update": frozenset({MANAGE_ENDPOINT}),
    "v1.endpoint.patch": frozenset({MANAGE_ENDPOINT}),
    "v1.endpoint.delete": frozenset({MANAGE_ENDPOINT}),
    "v1.endpoint.update-headers": frozenset({MANAGE_ENDPOINT}),
    "v1.endpoint.patch-headers": frozenset({MANAGE_ENDPOINT}),
    "v1.endpoint.get-secret": frozenset({VIEW_SECRET}),
    "v1.endpoint.rotate-secret": frozenset({MANAGE_SECRET}),
    "v1.endpoint.recover": frozenset({CREATE_ATTEMPTS}),
    "v1.endpoint.replay-missing": frozenset({CREATE_ATTEMPTS}),
    "v1.endpoint.send-example": frozenset({CREATE_ATTEMPTS}),
    "v1.message-attempt.resend": frozenset({CREATE_ATTEMPTS}),
    "v1.authentication.logout": frozenset({VIEW_BASE}),
}
"""What an application token needs for an operation (by Svix operation id), beyond being its application's.

Not listed: a read (GET, HEAD) needs ``ViewBase``; any other write
(sending a message, expunging content, ...) is no portal capability, so only
a token with all of them (an unnarrowed one) may make it.
"""
_READS = frozenset({"GET", "HEAD"})


def granted(capabilities: Iterable[str] | None, *, read_only: bool = False) -> frozenset[str]:
    """The capabilities a token is issued with: all by default, ``ViewBase`` alone when read-only.

    Raises ValueError for an unknown capability, or a list without ``ViewBase`` ("always required", Svix).
    """
    if read_only:
        return frozenset({VIEW_BASE})
    if capabilities is None:
        return ALL_CAPABILITIES
    asked = frozenset(capabilities)
    if unknown := asked - ALL_CAPABILITIES:
        raise ValueError(f"unknown capabilities: {', '.join(sorted(unknown))}")
    if VIEW_BASE not in asked:
        raise ValueError(f"{VIEW_BASE} is always required")
    return asked


FULL_ACCESS = "an unnarrowed token (every capability)"


def permits(capabilities: frozenset[str], operation_id: str, method: str) -> str | None:
    """None when a token with ``capabilities`` may call the operation; else the capability it lacks (or
    :data:`FULL_ACCESS` for a write no capability covers)."""
    held = capabilities.union(*(IMPLIES.get(c, frozenset()) for c in capabilities))
    need = NEEDS.get(operation_id)
    if need is None and method.upper() not in _READS:
        return None if held >= ALL_CAPABILITIES else FULL_ACCESS
    missing = sorted((need or frozenset({VIEW_BASE})) - held, key=CAPABILITIES.index)
    return missing[0] if missing else None


def _bits(capabilities: frozenset[str]) -> bytes:
    return bytes([sum(1 << i for i, c in enumerate(CAPABILITIES) if c in capabilities)])


def _from_bits(raw: bytes) -> frozenset[str] | None:
    if not raw:
        return ALL_CAPABILITIES
    if len(raw) != 1 or raw[0] >> len(CAPABILITIES):
        return None
    return frozenset(c for i, c in enumerate(CAPABILITIES) if raw[0] & (1 << i))


@dataclass(frozen=True)
class Scope:
    """``app_id`` None is the operator; otherwise the one application the token may see, with what it may do."""

    app_id: uuid.UUID | None = None
    capabilities: frozenset[str] = field(default=ALL_CAPABILITIES)

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


def issue_app_token(
    key: bytes,
    app_id: uuid.UUID,
    expires_at: int,
    generation: int = 0,
    capabilities: frozenset[str] = ALL_CAPABILITIES,
    nonce: bytes = b"",
) -> str:
    """A token for ``app_id`` valid until ``expires_at`` (Unix seconds), signed for the application's generation,
    carrying ``capabilities`` when they are fewer than all; ``nonce`` (:data:`NONCE_BYTES` random bytes, from the
    caller: this module stays pure) tells apart tokens otherwise alike."""
    if len(nonce) not in (0, NONCE_BYTES):
        raise ValueError(f"a token nonce is {NONCE_BYTES} bytes, not {len(nonce)}")
    body = app_id.bytes + expires_at.to_bytes(8, "big") + nonce
    if capabilities != ALL_CAPABILITIES:
        body += _bits(capabilities)
    mac = _mac(generation_key(key, app_id, generation), body)
    return APP_TOKEN_PREFIX + base64.urlsafe_b64encode(body + mac).decode().rstrip("=")


Revoked = Callable[[str], bool]
"""Whether the token of this digest (:func:`token_digest`) was logged out."""


def _none_revoked(_digest: str) -> bool:
    return False


def _decoded(token: str) -> bytes | None:
    """The token's bytes (body and MAC) when it is shaped like an application token; nothing is verified."""
    if not token.startswith(APP_TOKEN_PREFIX):
        return None
    text = token[len(APP_TOKEN_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) in _LENGTHS else None


def token_digest(raw: bytes) -> str:
    """What a revocation names a token by: a hash of its decoded bytes, never the token.

    Of the bytes, not the text, so every spelling that decodes to the same
    token (with or without base64 padding, other unused low bits in the last
    character) is one token; a hash, so the log never holds a usable token
    (body and MAC together are the token).
    """
    return hashlib.sha256(b"revoked\x00" + raw).hexdigest()[:32]


@dataclass(frozen=True)
class TokenId:
    """An application token as a revocation names it: its digest, application and expiry (Unix seconds)."""

    digest: str
    app_id: uuid.UUID
    expires_at: int


def token_id(token: str) -> TokenId | None:
    """The revocation name of a token already verified (None when it is not shaped like an application token)."""
    raw = _decoded(token.strip())
    if raw is None:
        return None
    expires_at = int.from_bytes(raw[16:_BODY_BYTES], "big")
    return TokenId(token_digest(raw), uuid.UUID(bytes=raw[:16]), expires_at)


def verify_app_token(
    key: bytes, token: str, now: float, generations: Generations = _first, revoked: Revoked = _none_revoked
) -> Scope | None:
    """The token's scope, or None when it is malformed, forged, expired or logged out.

    The revocation is looked up last, for a token that is otherwise good: a
    forged or expired one costs no hash, and the set only needs to hold
    tokens that have not expired.
    """
    raw = _decoded(token)
    if raw is None:
        return None
    body, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
    app_id = uuid.UUID(bytes=body[:16])
    generation = generations(app_id)
    signed = [generation.current]
    if generation.current > 0 and generation.previous_until is not None and now < generation.previous_until:
        signed.append(generation.current - 1)
    if not any(hmac.compare_digest(mac, _mac(generation_key(key, app_id, g), body)) for g in signed):
        return None
    tail = body[_BODY_BYTES:]  # [nonce] [capability bits]: their lengths tell which are there
    capabilities = _from_bits(tail[NONCE_BYTES:] if len(tail) >= NONCE_BYTES else tail)
    if capabilities is None or int.from_bytes(body[16:_BODY_BYTES], "big") <= now:
        return None
    if revoked(token_digest(raw)):
        return None
    return Scope(app_id, capabilities)


def authenticate(
    operator_token: str, token: str, now: float, generations: Generations = _first, revoked: Revoked = _none_revoked
) -> Scope | None:
    """The scope a presented bearer token grants, or None (401)."""
    token = token.strip()
    if not token:
        return None
    if hmac.compare_digest(token.encode(), operator_token.encode()):
        return OPERATOR
    return verify_app_token(app_token_key(operator_token), token, now, generations, revoked)
