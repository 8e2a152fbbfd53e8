"""The store's two users: one for the roles (read-write), one read-only for analytics.

Their passwords are generated on first start and kept in the store's data
directory (mode 0600), like the operator token; a request names its user by
HTTP basic auth, by ``X-ClickHouse-User``/``X-ClickHouse-Key``, or by the
``user``/``password`` URL parameters, the three ways ClickHouse accepts.
There is no ``default`` user: a request without credentials is refused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hookstream.store.errors import AUTHENTICATION_FAILED, ClickHouseError

CREDENTIALS_FILE = "store_users.json"
WRITER = "hookstream"
READER = "analytics"


@dataclass(frozen=True)
class User:
    name: str
    password: str
    readonly: bool


@dataclass(frozen=True)
class Users:
    writer: User
    reader: User
    path: Path

    def authenticate(self, name: str, password: str) -> User:
        for user in (self.writer, self.reader):
            if hmac.compare_digest(name.encode(), user.name.encode()) and hmac.compare_digest(
                password.encode(), user.password.encode()
            ):
                return user
        raise ClickHouseError.raised(
            AUTHENTICATION_FAILED,
            f"{name or 'default'}: Authentication failed: password is incorrect, or there is no user with such name",
        )


def load_users(data_dir: Path) -> tuple[Users, bool]:
    """The users kept in ``data_dir``, created now if missing; and whether they were created just now."""
    path = data_dir / CREDENTIALS_FILE
    created = False
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        document = {WRITER: secrets.token_urlsafe(24), READER: secrets.token_urlsafe(24)}
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another start won the race; read what it wrote
        else:
            with os.fdopen(fd, "w") as handle:
                json.dump(document, handle)
                handle.write("\n")
            created = True
    passwords = json.loads(path.read_text())
    writer = User(WRITER, passwords[WRITER], readonly=False)
    reader = User(READER, passwords[READER], readonly=True)
    return Users(writer, reader, path), created


def credentials(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, str]:
    """The ``(user, password)`` a request presents, ClickHouse's precedence: headers, basic auth, URL parameters."""
    if "X-ClickHouse-User" in headers or "X-ClickHouse-Key" in headers:
        return headers.get("X-ClickHouse-User", ""), headers.get("X-ClickHouse-Key", "")
    authorization = headers.get("Authorization", "")
    if authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        name, _, password = decoded.partition(":")
        return name, password
    return query.get("user", ""), query.get("password", "")
