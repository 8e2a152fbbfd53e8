"""Events to ClickHouse rows: pure functions, one per event type.

Each row's ``version`` comes from the event itself (its entity version, or
the time the event happened), never from the clock of the projector: a
re-projected event writes an identical row, which ReplacingMergeTree and
``LIMIT 1 BY`` absorb, and a later event (an edit, an expunge) wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hookstream.domain.directory import event_type_flags
from hookstream.domain.ids import InvalidId, timestamp_ms

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ATTEMPT_COLUMNS = (
    "attempt_id", "app_id", "msg_id", "endpoint_id", "event_type", "event_id", "channels", "attempt_number",
    "trigger", "trigger_seq", "url", "status", "response_status", "status_code_class", "error_class", "error_text",
    "request_headers", "response_headers", "response_body", "response_body_size", "response_body_truncated",
    "response_content_type", "resolved_ip", "conn_reused", "dns_us", "tcp_connect_us", "tls_handshake_us",
    "ttfb_us", "transfer_us", "total_us", "processing_us", "retry_type", "retry_after_seconds", "next_attempt_at",
    "due_at", "started_at", "finished_at", "worker_id", "version", "expunged",
)  # fmt: skip
MESSAGE_COLUMNS = (
    "app_id", "msg_id", "event_type", "event_id", "channels", "tags", "payload", "accepted_at", "expunged", "version",
)  # fmt: skip
APPLICATION_COLUMNS = (
    "app_id", "uid", "name", "metadata", "rate_limit", "created_at", "updated_at", "deleted", "version",
)  # fmt: skip
ENDPOINT_COLUMNS = (
    "app_id", "endpoint_id", "uid", "url", "description", "event_types", "channels", "disabled", "rate_limit",
    "metadata", "headers", "created_at", "updated_at", "deleted", "version",
)  # fmt: skip
EVENT_TYPE_COLUMNS = (
    "name", "description", "schemas", "feature_flag", "group_name", "archived", "deprecated", "created_at",
    "updated_at", "deleted", "version",
)  # fmt: skip
ENDPOINT_STATUS_COLUMNS = (
    "app_id", "endpoint_id", "msg_id", "msg_created_at", "event_type", "event_id", "channels", "status",
    "attempt_count", "last_attempt_id", "last_attempt_at", "last_response_status", "next_attempt_at", "version",
    "updated_at",
)  # fmt: skip
MESSAGE_STATUS_COLUMNS = (
    "app_id", "msg_id", "msg_created_at", "status", "attempt_count", "last_attempt_id", "last_attempt_at",
    "next_attempt_at", "endpoint_count", "succeeded_endpoints", "failed_endpoints", "version", "updated_at",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Row:
    table: str
    values: tuple[Any, ...]

    @property
    def key(self) -> Any:
        columns = COLUMNS[self.table]
        return tuple(self.values[columns.index(name)] for name in KEY_COLUMN[self.table].split(", "))


def micros(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def attempt_row(r: Mapping[str, Any]) -> Row:
    values = {
        **r,
        "attempt_id": uuid.UUID(r["attempt_id"]),
        "app_id": uuid.UUID(r["app_id"]),
        "msg_id": uuid.UUID(r["msg_id"]),
        "endpoint_id": uuid.UUID(r["endpoint_id"]),
        "version": micros(r["finished_at"]),
        "expunged": 0,
    }
    return Row("attempts", tuple(values.get(column) for column in ATTEMPT_COLUMNS))


def message_row(r: Mapping[str, Any]) -> Row:
    return Row(
        "messages",
        (
            uuid.UUID(r["app_id"]), uuid.UUID(r["msg_id"]), r["event_type"], r.get("event_id"), r["channels"],
            r["tags"], r["payload"], r["accepted_at"], 0, micros(r["accepted_at"]),
        ),
    )  # fmt: skip


def application_row(r: Mapping[str, Any]) -> Row:
    created = r.get("created_at") or r["updated_at"]
    return Row(
        "applications",
        (uuid.UUID(r["app_id"]), r.get("uid"), r["name"], r["metadata"], r.get("rate_limit"), created,
         r["updated_at"], 0, r["version"]),
    )  # fmt: skip


def application_deleted_row(r: Mapping[str, Any]) -> Row:
    at = r["deleted_at"]
    return Row("applications", (uuid.UUID(r["app_id"]), r.get("uid"), "", {}, None, at, at, 1, r["version"]))


def endpoint_row(r: Mapping[str, Any]) -> Row:
    created = r.get("created_at") or r["updated_at"]
    return Row(
        "endpoints",
        (uuid.UUID(r["app_id"]), uuid.UUID(r["endpoint_id"]), r.get("uid"), r["url"], r["description"],
         r["filter_types"], r["channels"], int(r["disabled"]), r.get("rate_limit"), r["metadata"], r["headers"],
         created, r["updated_at"], 0, r["version"]),
    )  # fmt: skip


def endpoint_deleted_row(r: Mapping[str, Any]) -> Row:
    at = r["deleted_at"]
    return Row(
        "endpoints",
        (uuid.UUID(r["app_id"]), uuid.UUID(r["endpoint_id"]), r.get("uid"), "", "", [], [], 1, None, {}, {},
         at, at, 1, r["version"]),
    )  # fmt: skip


def event_type_row(r: Mapping[str, Any]) -> Row:
    """``feature_flag`` holds every flag, comma-separated (flag names cannot contain a comma)."""
    created = r.get("created_at") or r["updated_at"]
    flags = ",".join(event_type_flags(r)) or None
    return Row(
        "event_types",
        (r["name"], r["description"], r.get("schemas") or "", flags, r.get("group_name"),
         int(r["archived"]), int(r["deprecated"]), created, r["updated_at"], 0, r["version"]),
    )  # fmt: skip


def event_type_deleted_row(r: Mapping[str, Any]) -> Row:
    at = r["deleted_at"]
    return Row("event_types", (r["name"], "", "", None, None, 1, 0, at, at, 1, r["version"]))


def _uuid(value: str | None) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(value)


def _msg_created_at(msg_id: uuid.UUID) -> datetime:
    """The message's creation time from its UUIDv7; the epoch for an id that is not one (never changes either way)."""
    try:
        return datetime.fromtimestamp(timestamp_ms(msg_id) / 1000, UTC)
    except InvalidId:
        return _EPOCH


def endpoint_status_row(r: Mapping[str, Any]) -> Row:
    msg_id = uuid.UUID(r["msg_id"])
    return Row(
        "message_endpoint_status",
        (uuid.UUID(r["app_id"]), uuid.UUID(r["endpoint_id"]), msg_id, _msg_created_at(msg_id), r["event_type"],
         r.get("event_id"), r["channels"], r["status"], r["attempt_count"], _uuid(r.get("last_attempt_id")),
         r.get("last_attempt_at"), r.get("last_response_status"), r.get("next_attempt_at"), r["version"],
         r["updated_at"]),
    )  # fmt: skip


def message_status_row(r: Mapping[str, Any]) -> Row:
    msg_id = uuid.UUID(r["msg_id"])
    return Row(
        "message_status",
        (uuid.UUID(r["app_id"]), msg_id, _msg_created_at(msg_id), r["status"], r["attempt_count"],
         _uuid(r.get("last_attempt_id")), r.get("last_attempt_at"), r.get("next_attempt_at"), r["endpoint_count"],
         r["succeeded_endpoints"], r["failed_endpoints"], r["version"], r["updated_at"]),
    )  # fmt: skip


# The entity each table holds one row of (after merges): what a rebuild counts ("a, b" for a pair).
KEY_COLUMN = {
    "attempts": "attempt_id",
    "messages": "msg_id",
    "applications": "app_id",
    "endpoints": "endpoint_id",
    "event_types": "name",
    "message_endpoint_status": "msg_id, endpoint_id",
    "message_status": "msg_id",
}

COLUMNS = {
    "attempts": ATTEMPT_COLUMNS,
    "messages": MESSAGE_COLUMNS,
    "applications": APPLICATION_COLUMNS,
    "endpoints": ENDPOINT_COLUMNS,
    "event_types": EVENT_TYPE_COLUMNS,
    "message_endpoint_status": ENDPOINT_STATUS_COLUMNS,
    "message_status": MESSAGE_STATUS_COLUMNS,
}

# Events that become rows; any other event on a projected topic (SecretRotated: secrets are
# never projected) is consumed and skipped.
ROW_OF: dict[str, Callable[[Mapping[str, Any]], Row]] = {
    "AttemptFinished": attempt_row,
    "MessageAccepted": message_row,
    "ApplicationUpserted": application_row,
    "ApplicationDeleted": application_deleted_row,
    "EndpointUpserted": endpoint_row,
    "EndpointDeleted": endpoint_deleted_row,
    "EventTypeUpserted": event_type_row,
    "EventTypeDeleted": event_type_deleted_row,
    "MessageEndpointStatus": endpoint_status_row,
    "MessageStatus": message_status_row,
}


def to_row(name: str, record: Mapping[str, Any]) -> Row | None:
    make = ROW_OF.get(name)
    return make(record) if make else None
