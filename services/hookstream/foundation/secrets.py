"""Endpoint signing secrets, sealed with AES-256-GCM before they touch the log.

The config topic is replicated, compacted and kept forever, so secrets on it
must be useless without the deployment's key. Several keys may be configured:
the first seals, every one of them opens, so a key can be rotated without
rewriting the topic first. A key id (a hash prefix of the key) travels with
each ciphertext to pick the right key without trial decryption.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
_AAD = b"hookstream endpoint secret v1"


class SecretKeyError(ValueError):
    """A key that cannot be used, or a ciphertext no configured key opens."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"hookstream key id" + key).hexdigest()[:12]


def parse_keys(text: str) -> list[bytes]:
    """Comma-separated base64 keys of 32 bytes each, the sealing key first."""
    keys = []
    for position, part in enumerate(p.strip() for p in text.split(",") if p.strip()):
        try:
            key = base64.b64decode(part, validate=True)
        except ValueError as exc:
            raise SecretKeyError(f"HOOKSTREAM_SECRET_KEYS entry {position + 1} is not base64: {exc}") from exc
        if len(key) != 32:
            raise SecretKeyError(f"HOOKSTREAM_SECRET_KEYS entry {position + 1} is {len(key)} bytes, expected 32")
        keys.append(key)
    if not keys:
        raise SecretKeyError("no secret key configured: set HOOKSTREAM_SECRET_KEYS to a base64 32-byte key")
    return keys


def new_key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class SecretBox:
    def __init__(self, keys: Sequence[bytes]) -> None:
        if not keys:
            raise SecretKeyError("a SecretBox needs at least one key")
        self._sealing_id = key_id(keys[0])
        self._ciphers = {key_id(key): AESGCM(key) for key in keys}

    @property
    def sealing_key_id(self) -> str:
        return self._sealing_id

    def seal(self, secret: str) -> tuple[bytes, str]:
        nonce = os.urandom(_NONCE)
        return nonce + self._ciphers[self._sealing_id].encrypt(nonce, secret.encode(), _AAD), self._sealing_id

    def open(self, ciphertext: bytes, with_key_id: str) -> str:
        cipher = self._ciphers.get(with_key_id)
        if cipher is None:
            raise SecretKeyError(f"secret sealed with key {with_key_id}, which is not among the configured keys")
        try:
            return cipher.decrypt(ciphertext[:_NONCE], ciphertext[_NONCE:], _AAD).decode()
        except InvalidTag as exc:
            raise SecretKeyError(f"secret sealed with key {with_key_id} does not open: corrupt or wrong key") from exc

    def sealed(self, secret: str, now: datetime) -> dict[str, Any]:
        """``secret`` as an endpoint record carries it: sealed, with the key that sealed it, created ``now``."""
        ciphertext, key_id = self.seal(secret)
        return {"ciphertext": ciphertext, "key_id": key_id, "created_at": now, "expires_at": None}

    def rotated(
        self, current: Sequence[Mapping[str, Any]], secret: str, now: datetime, grace: timedelta
    ) -> list[dict[str, Any]]:
        """The new secret first; the ones still valid keep signing for ``grace`` (both dialects rotate so)."""
        until = now + grace
        kept = [{**old, "expires_at": min(old["expires_at"] or until, until)}
                for old in current if old["expires_at"] is None or old["expires_at"] > now]  # fmt: skip
        return [self.sealed(secret, now), *kept]
