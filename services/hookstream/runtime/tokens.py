"""The operator token: generated on first start, kept in the data directory."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

TOKEN_FILE = "operator_token"
TOKEN_PREFIX = "hs_op_"


def operator_token(configured: str, data_dir: Path) -> tuple[str, bool]:
    """The token to accept, and whether it was created just now (so the caller prints it once)."""
    if configured:
        return configured, False
    path = data_dir / TOKEN_FILE
    if path.exists():
        return path.read_text().strip(), False
    data_dir.mkdir(parents=True, exist_ok=True)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token, True


KEYS_FILE = "secret_keys"


def secret_keys(configured: str, data_dir: Path) -> str:
    """The keys sealing endpoint secrets: configured, or generated once and kept beside the token.

    Losing this file makes every stored endpoint secret unreadable, so it is
    created with the same care as the token and never rewritten.
    """
    if configured:
        return configured
    path = data_dir / KEYS_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
