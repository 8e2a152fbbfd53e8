"""Standard Webhooks signatures: what receivers check to trust a delivery.

A signature is ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))
where the key is the base64 text after ``whsec_``. The id and the timestamp
are signed with the body so a captured request cannot be replayed under
another id or, once the receiver's tolerance has passed, at all.

During a secret rotation every unexpired secret signs, and the header carries
all the signatures separated by spaces: a receiver that knows either secret
accepts the request, so rotation never drops a delivery.

Pure: the caller passes the timestamp, the clock (``now``) and random bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
DEFAULT_TOLERANCE_S = 300
SIGNATURE_VERSION = "v1"


class InvalidSecret(ValueError):
    """A signing secret that is not ``whsec_`` + base64 of some bytes."""


class InvalidSignature(ValueError):
    """A request whose signature headers do not prove it came from us, with the reason."""


def generate_secret(rand: bytes) -> str:
    """``whsec_`` + base64 of ``rand``; the spec asks for 24 to 64 random bytes."""
    if not MIN_SECRET_BYTES <= len(rand) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"a signing secret needs {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} random bytes, got {len(rand)}"
        )
    return SECRET_PREFIX + base64.b64encode(rand).decode("ascii")


def decode_secret(secret: str) -> bytes:
    """The HMAC key inside a secret.

    Accepts the bare base64 too, and missing ``=`` padding, because Svix and
    the Standard Webhooks libraries do, and secrets get imported from them.
    """
    encoded = secret.removeprefix(SECRET_PREFIX)
    if not encoded:
        raise InvalidSecret("empty signing secret")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidSecret(f"signing secret is not {SECRET_PREFIX} + standard base64: {error}") from None
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature, ``v1,<base64>``, of ``body`` as sent under ``msg_id`` at ``timestamp`` (unix s)."""
    mac = _mac(decode_secret(secret), msg_id, timestamp, body)
    return f"{SIGNATURE_VERSION},{base64.b64encode(mac).decode('ascii')}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The signature header value: one signature per distinct secret, space-separated."""
    if isinstance(secrets, str):
        raise TypeError("secrets is a sequence of secrets; wrap a single secret in a list")
    unique = list(dict.fromkeys(secrets))
    if not unique:
        raise ValueError("at least one signing secret is needed")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in unique)


def webhook_headers(
    msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str], svix_names: bool = False
) -> dict[str, str]:
    """The three headers a delivery carries: ``webhook-*``, or ``svix-*`` for Svix receivers."""
    prefix = "svix" if svix_names else "webhook"
    return {
        f"{prefix}-id": msg_id,
        f"{prefix}-timestamp": str(timestamp),
        f"{prefix}-signature": signature_header(secrets, msg_id, timestamp, body),
    }


def verify(
    secrets: Sequence[str],
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: int,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Check a request the way a careful receiver would; raise :class:`InvalidSignature` if not ours.

    Header names may be ``webhook-*`` or ``svix-*`` in any case. The timestamp
    must lie within ``tolerance_s`` of ``now`` (unix seconds) to stop replays;
    signatures are compared in constant time so a failed check leaks nothing
    about the expected value.
    """
    if isinstance(secrets, str):
        raise TypeError("secrets is a sequence of secrets; wrap a single secret in a list")
    msg_id, timestamp_text, signatures = _signature_headers(headers)
    if not timestamp_text.isascii() or not timestamp_text.isdigit():
        raise InvalidSignature(f"timestamp header is not whole unix seconds: {timestamp_text!r}")
    timestamp = int(timestamp_text)
    if not _printable_id(msg_id):
        raise InvalidSignature(f"id header is not printable text without spaces: {msg_id!r}")
    if timestamp < now - tolerance_s:
        raise InvalidSignature(f"timestamp {timestamp} is too old (now {now}, tolerance {tolerance_s}s)")
    if timestamp > now + tolerance_s:
        raise InvalidSignature(f"timestamp {timestamp} is too new (now {now}, tolerance {tolerance_s}s)")
    expected = [_mac(decode_secret(secret), msg_id, timestamp, body) for secret in secrets]
    for candidate in signatures.split():
        version, _, encoded = candidate.partition(",")
        if version != SIGNATURE_VERSION:
            continue
        try:
            given = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        # compare against every secret, no early exit on the first miss
        if any([hmac.compare_digest(given, mac) for mac in expected]):
            return
    raise InvalidSignature("no v1 signature matches any of the endpoint's secrets")


def _signature_headers(headers: Mapping[str, str]) -> tuple[str, str, str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    # Svix names only when the request uses them and not the standard ones: errors then name what was sent
    uses_svix = any(name.startswith("svix-") for name in lowered)
    uses_standard = any(name.startswith("webhook-") for name in lowered)
    prefix = "svix" if uses_svix and not uses_standard else "webhook"
    found = []
    for part in ("id", "timestamp", "signature"):
        value = lowered.get(f"{prefix}-{part}", "")
        if not value:
            raise InvalidSignature(f"missing header {prefix}-{part}")
        found.append(value)
    return found[0], found[1], found[2]


def _printable_id(msg_id: str) -> bool:
    """Ids go into a header line and the signed text; whitespace would corrupt both."""
    return bool(msg_id) and not any(char.isspace() or not char.isprintable() for char in msg_id)


def _mac(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    if not _printable_id(msg_id):
        raise ValueError(f"message id must be non-empty printable text without spaces, got {msg_id!r}")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError(f"timestamp must be whole unix seconds, got {timestamp!r}")
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
