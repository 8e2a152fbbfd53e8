"""Signed, expiring links to one attempt's stored response body.

The link is the credential: whoever holds it may read that one body until
it expires, without a bearer token, so it can be handed to a browser or a
support ticket. The signature covers the application, the message, the
attempt and the expiry together, so changing any of them (to read another
attempt's body, or to stretch the expiry) breaks it. The key is derived
from the operator token, like application tokens' (``domain.access``):
every API process can verify a link any other one issued, and changing the
operator token revokes every outstanding link at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from enum import StrEnum

_CONTEXT = b"hookstream body link v1\x00"
_MAC_BYTES = 16


@dataclass(frozen=True, slots=True)
class BodyRef:
    """Which stored body a link opens: everything needed to find the row without a scan."""

    app_id: uuid.UUID
    msg_id: uuid.UUID
    attempt_id: uuid.UUID


class LinkCheck(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    FORGED = "forged"  # malformed, tampered with, or signed under another key


def body_link_key(operator_token: str) -> bytes:
    return hashlib.sha256(_CONTEXT + operator_token.encode()).digest()


def _mac(key: bytes, ref: BodyRef, expires_at: int) -> bytes:
    signed = _CONTEXT + ref.app_id.bytes + ref.msg_id.bytes + ref.attempt_id.bytes + expires_at.to_bytes(8, "big")
    return hmac.new(key, signed, hashlib.sha256).digest()[:_MAC_BYTES]


def sign(key: bytes, ref: BodyRef, expires_at: int) -> str:
    """The signature (URL-safe base64, unpadded) of ``ref`` until ``expires_at`` (Unix seconds)."""
    if not 0 <= expires_at < 1 << 63:
        raise ValueError(f"expires_at must be Unix seconds, got {expires_at}")
    return base64.urlsafe_b64encode(_mac(key, ref, expires_at)).decode().rstrip("=")


def verify(key: bytes, ref: BodyRef, expires_at: int, signature: str, now: float) -> LinkCheck:
    """Whether the link may be served now. The signature is checked first: a forged link is never "expired"."""
    if not 0 <= expires_at < 1 << 63:
        return LinkCheck.FORGED
    try:
        mac = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    except (binascii.Error, ValueError):
        return LinkCheck.FORGED
    if not hmac.compare_digest(mac, _mac(key, ref, expires_at)):
        return LinkCheck.FORGED
    return LinkCheck.VALID if now < expires_at else LinkCheck.EXPIRED
