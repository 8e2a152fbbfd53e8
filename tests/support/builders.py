"""Records as the API will write them, for tests that produce straight to the topics."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from hookstream.domain.ids import generate_id
from hookstream.domain.status import AttemptFacts, fold_attempt, message_record, pair_record, to_us
from hookstream.foundation.secrets import SecretBox
from hookstream.projector.rows import endpoint_status_row, message_status_row


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
    rate_limit: int | None = None,
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
        "rate_limit": rate_limit,
        "delivery_metadata": {},
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
        "destination_id": None,
        "eligible_for_retry": True,
    }


def attempt(msg: dict[str, Any], endpoint_id: str, *, attempt_number: int = 1, status: int = 200) -> dict[str, Any]:
    """A complete AttemptFinished record, every optional field filled, as a delivery worker writes it."""
    from hookstream.domain.ids import attempt_id

    started = now()
    ok = 200 <= status < 300
    return {
        "attempt_id": str(attempt_id(uuid.UUID(msg["msg_id"]), uuid.UUID(endpoint_id), attempt_number, 0)),
        "app_id": msg["app_id"],
        "msg_id": msg["msg_id"],
        "endpoint_id": endpoint_id,
        "event_type": msg["event_type"],
        "event_id": msg["event_id"],
        "channels": msg["channels"],
        "attempt_number": attempt_number,
        "trigger": "scheduled",
        "trigger_seq": 0,
        "url": "https://receiver.example/hook",
        "status": "success" if ok else "failed",
        "response_status": status,
        "status_code_class": status // 100 * 100,
        "error_class": None if ok else "http_status",
        "error_text": None if ok else f"HTTP {status}",
        "request_headers": {"webhook-id": "msg_x", "content-type": "application/json"},
        "response_headers": {"content-type": "text/plain"},
        "response_body": b"ok" if ok else b"boom",
        "response_body_size": 2 if ok else 4,
        "response_body_truncated": False,
        "response_content_type": "text/plain",
        "resolved_ip": "127.0.0.1",
        "conn_reused": attempt_number > 1,
        "dns_us": 120,
        "tcp_connect_us": 340,
        "tls_handshake_us": None,
        "ttfb_us": 2100,
        "transfer_us": 45,
        "total_us": 2700,
        "processing_us": 3100,
        "retry_type": None if ok else "fast",
        "retry_after_seconds": None if ok else 5,
        "next_attempt_at": None,
        "due_at": started,
        "started_at": started,
        "finished_at": started,
        "worker_id": "worker-1",
    }


def delivery_task(endpoint: dict[str, Any], *, due_at: datetime | None = None, n: int = 0) -> dict[str, Any]:
    """A DeliveryTask for ``endpoint`` (a builders.endpoint record), the ``n``-th of a test's batch."""
    now = datetime.now(UTC)
    return {
        "msg_id": str(generate_id()),
        "app_id": endpoint["app_id"],
        "endpoint_id": endpoint["endpoint_id"],
        "attempt_number": 1,
        "trigger": "scheduled",
        "trigger_seq": 0,
        "due_at": due_at or now,
        "enqueued_at": now,
        "event_type": "invoice.paid",
        "event_id": f"evt-{n}",
        "channels": ["billing"],
        "payload": b'{"invoice":%d,"total":"12.50"}' % n,
        "accepted_at": now,
        "eligible_for_retry": True,
    }


def status_rows(updated_at: datetime) -> tuple[tuple, tuple]:
    """The endpoint-status and message-status ClickHouse rows of one successful attempt finished at ``updated_at``."""
    app = application()
    msg = message(app["app_id"])
    record = attempt(msg, str(uuid.uuid4()), status=200)
    record.update(started_at=updated_at, finished_at=updated_at)
    folded = fold_attempt(None, AttemptFacts.of(record), failing_after=4)
    assert folded.pair.updated_us == to_us(updated_at)
    return (endpoint_status_row(pair_record(folded.message, folded.pair)).values,
            message_status_row(message_record(folded.message)).values)  # fmt: skip
