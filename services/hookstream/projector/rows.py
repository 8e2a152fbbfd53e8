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


@dataclass(frozen=True, slots=True)
class Row:
    table: str
    values: tuple[Any, ...]

    @property
    def key(self) -> Any:
        return self.values[COLUMNS[self.table].index(KEY_COLUMN[self.table])]


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
    created = r.get("created_at") or r["updated_at"]
    return Row(
        "event_types",
        (r["name"], r["description"], r.get("schemas") or "", r.get("feature_flag"), r.get("group_name"),
         int(r["archived"]), int(r["deprecated"]), created, r["updated_at"], 0, r["version"]),
    )  # fmt: skip


# The entity each table holds one row of (after merges): what a rebuild counts.
KEY_COLUMN = {
    "attempts": "attempt_id",
    "messages": "msg_id",
    "applications": "app_id",
    "endpoints": "endpoint_id",
    "event_types": "name",
}

COLUMNS = {
    "attempts": ATTEMPT_COLUMNS,
    "messages": MESSAGE_COLUMNS,
    "applications": APPLICATION_COLUMNS,
    "endpoints": ENDPOINT_COLUMNS,
    "event_types": EVENT_TYPE_COLUMNS,
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
}


def to_row(name: str, record: Mapping[str, Any]) -> Row | None:
    make = ROW_OF.get(name)
    return make(record) if make else None
