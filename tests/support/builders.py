"""Records as the API will write them, for tests that produce straight to the topics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from hookstream.config.secrets import SecretBox
from hookstream.domain.ids import generate_id


def now() -> datetime:
    return datetime.now(UTC)


def application(app_id: uuid.UUID | None = None, *, version: int = 1, name: str = "acme") -> dict[str, Any]:
    return {
        "app_id": str(app_id or generate_id()),
        "name": name,
        "uid": None,
        "rate_limit": None,
        "metadata": {},
        "version": version,
        "created_at": now(),
        "updated_at": now(),
    }


def endpoint(
    app_id: str,
    url: str,
    *,
    box: SecretBox | None = None,
    secrets: list[str] = (),  # type: ignore[assignment]
    endpoint_id: uuid.UUID | None = None,
    version: int = 1,
    event_types: list[str] = (),  # type: ignore[assignment]
    channels: list[str] = (),  # type: ignore[assignment]
    payload_filter: dict[str, Any] | None = None,
    disabled: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    sealed = []
    for secret in secrets:
        assert box is not None, "secrets need a SecretBox to be sealed"
        ciphertext, key_id = box.seal(secret)
        sealed.append({"ciphertext": ciphertext, "key_id": key_id, "created_at": now(), "expires_at": None})
    return {
        "endpoint_id": str(endpoint_id or generate_id()),
        "app_id": app_id,
        "url": url,
        "description": "",
        "disabled": disabled,
        "filter_types": list(event_types),
        "channels": list(channels),
        "payload_filter": json.dumps(payload_filter) if payload_filter is not None else None,
        "headers": headers or {},
        "rate_limit": None,
        "uid": None,
        "metadata": {},
        "secrets": sealed,
        "version": version,
        "created_at": now(),
        "updated_at": now(),
    }


def message(
    app_id: str,
    event_type: str = "invoice.paid",
    *,
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
    channels: list[str] = (),  # type: ignore[assignment]
    msg_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    return {
        "msg_id": str(msg_id or generate_id()),
        "app_id": app_id,
        "event_type": event_type,
        "event_id": event_id,
        "channels": list(channels),
        "payload": json.dumps(payload if payload is not None else {"ok": True}).encode(),
        "tags": [],
        "accepted_at": now(),
        "source": "kafka",
        "metadata": {},
    }
