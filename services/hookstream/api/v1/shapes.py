"""Projection rows -> v1 JSON (seed 002), and the JSON Schemas the OpenAPI document publishes for them.

Each schema sits beside the function that produces its shape, so a field is
added to both at once. Following the seed's example, an optional field
whose value is unknown is left out rather than sent as null; the exception
is ``processing_ms``, which the seed declares nullable. Durations are
recorded in microseconds and shown in whole milliseconds. The five phases
(dns, tcp, tls, ttfb, transfer) are always present, as in both of the seed's
examples: a phase that did not happen (a reused connection, an IP literal,
plain http, a failure before it) took 0 ms.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from hookstream.api.spec import JsonSchema


def ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _ms(us: int | None) -> int | None:
    return None if us is None else (us + 500) // 1000


_INT = {"type": "integer", "minimum": 0}
_HEADERS = {"type": "object", "additionalProperties": {"type": "string"}}
META = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string", "description": "Unique identifier for this request (useful for support)"},
    },
    "required": ["request_id"],
}  # fmt: skip
ATTEMPT: JsonSchema = {
    "type": "object",
    "description": "A single delivery attempt for a webhook message",
    "required": ["id", "attempt_no", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "Unique attempt identifier (UUIDv7)"},
        "endpoint_id": {"type": "string", "format": "uuid", "description": "The endpoint this attempt was made to"},
        "attempt_no": {"type": "integer", "minimum": 1, "description": "Attempt number (1-based), per endpoint"},
        "response_status": {"type": "integer", "description": "HTTP status code from the endpoint"},
        "response_latency_ms": {**_INT, "description": "Response latency in milliseconds"},
        "processing_ms": {"type": ["integer", "null"], "minimum": 0,
                          "description": "Total processing time in milliseconds (task picked up to attempt recorded)"},
        "error_text": {"type": "string", "description": "Error message if the attempt failed"},
        "response_headers": {**_HEADERS, "description": "Response headers from the endpoint"},
        "retry_type": {"type": "string", "enum": ["none", "immediate", "fast", "slow", "retry_after"],
                       "description": "Type of retry scheduling applied"},
        "retry_after_seconds": {**_INT, "description": "Seconds until next retry was scheduled"},
        "resolved_ip": {"type": "string", "description": "IP address the endpoint hostname resolved to"},
        "request_headers": {**_HEADERS, "description": "Request headers sent to the endpoint"},
        "dns_ms": {**_INT, "description": "DNS resolution time in milliseconds"},
        "tcp_connect_ms": {**_INT, "description": "TCP connection time in milliseconds"},
        "tls_handshake_ms": {**_INT, "description": "TLS handshake time in milliseconds"},
        "ttfb_ms": {**_INT, "description": "Time to first byte in milliseconds"},
        "transfer_ms": {**_INT, "description": "Response transfer time in milliseconds"},
        "conn_reused": {"type": "boolean", "description": "Whether the TCP connection was reused"},
        "response_body_url": {"type": "string", "format": "uri",
                              "description": "Signed link to the stored response body; expires (api_body_url_ttl)"},
        "response_body_truncated": {"type": "boolean", "const": True,
                                    "description": "Whether the stored response body was truncated. Only present "
                                                   "when true; absence means the body was not truncated."},
        "created_at": {"type": "string", "format": "date-time", "description": "When the attempt was made"},
    },
}  # fmt: skip
ATTEMPT_LIST: JsonSchema = {
    "type": "object",
    "required": ["data", "meta"],
    "properties": {
        "data": {"type": "array", "maxItems": 200, "items": ref("V1Attempt")},
        "meta": {**META, "required": ["request_id", "has_more"], "properties": {
            **META["properties"],
            "has_more": {"type": "boolean", "description": "Whether more attempts exist beyond the returned set"},
        }},
    },
}  # fmt: skip
MESSAGE: JsonSchema = {
    "type": "object",
    "description": "A message accepted for delivery",
    "required": ["id", "project_id", "event_type", "channels", "tags", "created_at"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "Unique message identifier (UUIDv7)"},
        "project_id": {"type": "string", "format": "uuid", "description": "The project (application) it belongs to"},
        "event_type": {"type": "string"},
        "event_id": {"type": "string", "description": "The sender's idempotency key, when one was given"},
        "channels": {"type": "array", "items": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "payload": {"description": "The JSON payload; absent once expunged"},
        "expunged": {"type": "boolean", "const": True, "description": "Only present when the payload was expunged"},
        "created_at": {"type": "string", "format": "date-time", "description": "When the message was accepted"},
    },
}  # fmt: skip
MESSAGE_RESPONSE: JsonSchema = {
    "type": "object",
    "required": ["data", "meta"],
    "properties": {"data": ref("V1Message"), "meta": META},
}
ERROR: JsonSchema = {
    "type": "object",
    "required": ["error", "meta"],
    "properties": {
        "error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string", "description": "Machine-readable error code"},
            "message": {"type": "string", "description": "Human-readable error message"},
        }},
        "meta": META,
    },
}  # fmt: skip
SCHEMAS = {
    "V1Attempt": ATTEMPT,
    "V1AttemptList": ATTEMPT_LIST,
    "V1Message": MESSAGE,
    "V1MessageResponse": MESSAGE_RESPONSE,
    "V1Error": ERROR,
}


def _present(out: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in out.items() if value is not None}


def attempt_out(row: dict[str, Any], *, body_url: str | None) -> dict[str, Any]:
    """An ``attempts`` row as the seed's attempt; ``body_url`` is None when no body is stored."""

    def phase(column: str) -> int:
        return _ms(row[column]) or 0

    return _present({
        "id": str(row["attempt_id"]),
        "endpoint_id": str(row["endpoint_id"]),
        "attempt_no": row["attempt_number"],
        "response_status": row["response_status"] or None,
        "response_latency_ms": _ms(row["total_us"]),
        "error_text": row["error_text"] or None,
        "response_headers": dict(row.get("response_headers") or {}),
        "retry_type": row["retry_type"],
        "retry_after_seconds": row["retry_after_seconds"],
        "resolved_ip": row["resolved_ip"],
        "request_headers": dict(row.get("request_headers") or {}),
        "dns_ms": phase("dns_us"),
        "tcp_connect_ms": phase("tcp_connect_us"),
        "tls_handshake_ms": phase("tls_handshake_us"),
        "ttfb_ms": phase("ttfb_us"),
        "transfer_ms": phase("transfer_us"),
        "conn_reused": bool(row["conn_reused"]),
        "response_body_url": body_url,
        "response_body_truncated": True if row["response_body_truncated"] else None,
        "created_at": iso(row["started_at"]),
    }) | {"processing_ms": _ms(row["processing_us"])}  # fmt: skip


def message_out(message: dict[str, Any]) -> dict[str, Any]:
    """A ``messages`` row or a MessageAccepted record (both carry these names)."""
    expunged = bool(message.get("expunged"))
    payload = message.get("payload")
    return _present({
        "id": str(message["msg_id"]),
        "project_id": str(message["app_id"]),
        "event_type": message["event_type"],
        "event_id": message.get("event_id"),
        "channels": list(message.get("channels") or ()),
        "tags": list(message.get("tags") or ()),
        "payload": json.loads(payload) if payload and not expunged else None,
        "expunged": True if expunged else None,
        "created_at": iso(message["accepted_at"]),
    })  # fmt: skip


def as_uuid(value: str | uuid.UUID) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
