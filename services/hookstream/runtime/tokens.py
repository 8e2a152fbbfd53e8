"""The operator token: generated on first start, kept in the data directory."""

from __future__ import annotations

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
