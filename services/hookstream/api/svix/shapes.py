"""Domain records and projection rows -> the JSON the svix SDK's models read (camelCase).

Field names, enum numbers and optional fields follow svix 2.9.1's models
(``MessageAttemptOut``, ``MessageOut``, ``ApplicationOut``, ``EndpointOut``,
``MessageEndpointOut``, ``EndpointMessageOut``, ``EventTypeOut``). Attempt fields Svix does not
have (timing breakdown, resolved IP, error class) are extra properties,
which the SDK's models ignore.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from hookstream.domain.directory import event_type_flags
from hookstream.domain.ids import IdKind, timestamp_ms, to_svix
from hookstream.query.status import DeliveryState

STATUS_NUMBER = {"success": 0, "pending": 1, "fail": 2, "sending": 3, "canceled": 4}
_OUTCOME_STATUS = {"success": "success", "failed": "fail"}
TRIGGER_NUMBER = {"scheduled": 0, "manual": 1}


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _uuid(value: str | uuid.UUID) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def _ms(us: int | None) -> int | None:
    return None if us is None else us // 1000


# The light columns attempt_out reads: a list asks the engine for these only (query.attempts.list_attempts).
ATTEMPT_COLUMNS = ("msg_id", "endpoint_id", "url", "response_status", "total_us", "status", "trigger",
                   "attempt_number", "status_code_class", "error_class", "error_text", "resolved_ip", "conn_reused",
                   "response_body_truncated", "dns_us", "tcp_connect_us", "tls_handshake_us", "ttfb_us",
                   "transfer_us")  # fmt: skip


def attempt_out(row: dict[str, Any], *, expunged: bool = False) -> dict[str, Any]:
    status = _OUTCOME_STATUS[row["status"]]
    body = row.get("response_body")
    return {
        "id": to_svix(IdKind.ATTEMPT, row["attempt_id"]),
        "msgId": to_svix(IdKind.MESSAGE, row["msg_id"]),
        "endpointId": to_svix(IdKind.ENDPOINT, row["endpoint_id"]),
        "url": row["url"],
        "response": "" if body is None or expunged else body.decode("utf-8", errors="replace"),
        "responseStatusCode": row["response_status"],
        "responseDurationMs": row["total_us"] // 1000,
        "status": STATUS_NUMBER[status],
        "statusText": status,
        "triggerType": TRIGGER_NUMBER[row["trigger"]],
        "timestamp": iso(row["started_at"]),
        # hookstream's extra attempt fields (additional properties for the SDK):
        "attemptNumber": row["attempt_number"],
        "statusCodeClass": row["status_code_class"],
        "errorClass": row["error_class"],
        "errorText": row["error_text"],
        "resolvedIp": row["resolved_ip"],
        "connReused": row["conn_reused"],
        "responseBodyTruncated": row["response_body_truncated"],
        "timing": {
            "dnsMs": _ms(row["dns_us"]),
            "tcpConnectMs": _ms(row["tcp_connect_us"]),
            "tlsHandshakeMs": _ms(row["tls_handshake_us"]),
            "ttfbMs": _ms(row["ttfb_us"]),
            "transferMs": _ms(row["transfer_us"]),
            "totalMs": _ms(row["total_us"]),
        },
        "contentExpunged": bool(row.get("expunged")) or expunged,
    }


def payload_of(payload: bytes | str | None) -> dict[str, Any]:
    if not payload:
        return {}
    value = json.loads(payload)
    return value if isinstance(value, dict) else {"payload": value}


def message_out(message: dict[str, Any], *, with_content: bool) -> dict[str, Any]:
    """From a MessageAccepted record or a ``messages`` row (both carry these names)."""
    return {
        "id": to_svix(IdKind.MESSAGE, _uuid(message["msg_id"])),
        "eventType": message["event_type"],
        "eventId": message.get("event_id"),
        "payload": payload_of(message.get("payload")) if with_content else {},
        "channels": list(message["channels"]) or None,
        "tags": list(message.get("tags") or ()) or None,
        "timestamp": iso(message["accepted_at"]),
    }


def application_out(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": to_svix(IdKind.APPLICATION, _uuid(record["app_id"])),
        "uid": record.get("uid"),
        "name": record["name"],
        "throttleRate": record.get("rate_limit"),
        "metadata": dict(record.get("metadata") or {}),
        "createdAt": iso(record.get("created_at") or record["updated_at"]),
        "updatedAt": iso(record["updated_at"]),
    }


def endpoint_out(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": to_svix(IdKind.ENDPOINT, _uuid(record["endpoint_id"])),
        "uid": record.get("uid"),
        "url": record["url"],
        "description": record.get("description", ""),
        "throttleRate": record.get("rate_limit"),
        "disabled": bool(record.get("disabled")),
        "eventTypes": list(record.get("filter_types") or ()) or None,
        "filterTypes": list(record.get("filter_types") or ()) or None,  # the older name, still read by old clients
        "channels": list(record.get("channels") or ()) or None,
        "metadata": dict(record.get("metadata") or {}),
        "createdAt": iso(record.get("created_at") or record["updated_at"]),
        "updatedAt": iso(record["updated_at"]),
    }


def event_type_out(record: dict[str, Any], *, with_content: bool = True) -> dict[str, Any]:
    """``EventTypeOut``; lists leave ``schemas`` out unless asked ``with_content``, as Svix does."""
    flags = event_type_flags(record)
    return {
        "name": record["name"],
        "description": record["description"],
        "archived": record["archived"],
        "deprecated": record["deprecated"],
        "schemas": json.loads(record["schemas"]) if with_content and record.get("schemas") else None,
        "groupName": record.get("group_name"),
        "featureFlags": flags or None,
        "featureFlag": flags[0] if flags else None,  # Svix's older single-flag field
        "createdAt": iso(record.get("created_at") or record["updated_at"]),
        "updatedAt": iso(record["updated_at"]),
    }


def message_endpoint_out(state: DeliveryState, endpoint: dict[str, Any]) -> dict[str, Any]:
    """``MessageEndpointOut``: an attempted destination with the message's state there."""
    return {
        **endpoint_out(endpoint),
        "status": STATUS_NUMBER[state.status],
        "statusText": state.status,
        "nextAttempt": iso(state.next_attempt_at),
    }


def endpoint_message_out(state: DeliveryState, message: dict[str, Any] | None, *, with_content: bool) -> dict[str, Any]:
    """``EndpointMessageOut``: an attempted message with its latest state at the endpoint."""
    base = message or {
        "msg_id": state.msg_id, "event_type": state.event_type, "event_id": state.event_id,
        "channels": state.channels, "tags": [], "accepted_at": None,
    }  # fmt: skip
    out = message_out(base, with_content=with_content)
    if out["timestamp"] is None:  # the message row is not projected (yet): its id carries its time
        out["timestamp"] = iso(datetime.fromtimestamp(timestamp_ms(state.msg_id) / 1000, UTC))
    return {**out, "status": STATUS_NUMBER[state.status], "statusText": state.status,
            "nextAttempt": iso(state.next_attempt_at)}  # fmt: skip
