"""Hookstream records -> the JSON outpost-sdk 1.7.0's models read, and the same shapes as JSON Schema.

``Attempt`` follows seed 000 field for field (plus the SDK's ``latency_ms``
and ``destination``); ``response_data`` and ``event`` are present only when
asked for with ``include``. Times are RFC 3339 in UTC.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hookstream.api.outpost.lookup import destination_id, event_id, tenant_id
from hookstream.api.svix.shapes import iso, payload_of
from hookstream.domain.ids import IdKind, as_uuid, to_svix

ALL_TOPICS = "*"


def topics_of(endpoint: Mapping[str, Any]) -> str | list[str]:
    """An endpoint with no event types (or with ``*``) takes every topic: Outpost writes that ``"*"``."""
    types = list(endpoint.get("filter_types") or ())
    return ALL_TOPICS if not types or ALL_TOPICS in types else types


def tenant_out(app: Mapping[str, Any], endpoints: list[dict[str, Any]]) -> dict[str, Any]:
    topics: set[str] = set()
    for endpoint in endpoints:
        subscribed = topics_of(endpoint)
        topics |= {ALL_TOPICS} if subscribed == ALL_TOPICS else set(subscribed)
    return {
        "id": tenant_id(dict(app)),
        "destinations_count": len(endpoints),
        "topics": sorted(topics),
        "metadata": dict(app.get("metadata") or {}) or None,
        "created_at": iso(app.get("created_at") or app["updated_at"]),
        "updated_at": iso(app["updated_at"]),
    }


def _disabled_at(endpoint: Mapping[str, Any]) -> str | None:
    """Hookstream keeps no separate disable time: a disabled endpoint was disabled by its last change."""
    return iso(endpoint["updated_at"]) if endpoint.get("disabled") else None


def destination_base(app: Mapping[str, Any], endpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The fields shared by ``Destination`` and the credential-free ``AttemptDestination``."""
    payload_filter = endpoint.get("payload_filter")
    return {
        "id": destination_id(dict(endpoint)),
        "tenant_id": tenant_id(dict(app)),
        "type": "webhook",
        "topics": topics_of(endpoint),
        "disabled_at": _disabled_at(endpoint),
        "created_at": iso(endpoint.get("created_at") or endpoint["updated_at"]),
        "updated_at": iso(endpoint["updated_at"]),
        "filter": json.loads(payload_filter) if payload_filter else None,
        "delivery_metadata": dict(endpoint.get("delivery_metadata") or {}) or None,
        "metadata": dict(endpoint.get("metadata") or {}) or None,
        "target": endpoint["url"],
        "target_url": endpoint["url"],
    }


def _config(endpoint: Mapping[str, Any]) -> dict[str, str]:
    config = {"url": endpoint["url"]}
    if endpoint.get("headers"):
        config["custom_headers"] = json.dumps(dict(endpoint["headers"]), separators=(",", ":"))
    return config


def destination_out(
    app: Mapping[str, Any], endpoint: Mapping[str, Any], secrets: list[tuple[str, datetime | None]]
) -> dict[str, Any]:
    """``secrets``: the opened signing secrets, newest first, each with its expiry (None: current)."""
    credentials: dict[str, Any] = {}
    if secrets:
        credentials["secret"] = secrets[0][0]
    if len(secrets) > 1:
        credentials["previous_secret"] = secrets[1][0]
        credentials["previous_secret_invalid_at"] = iso(secrets[1][1])
    return {**destination_base(app, endpoint), "config": _config(endpoint), "credentials": credentials}


def attempt_destination_out(app: Mapping[str, Any], endpoint: Mapping[str, Any]) -> dict[str, Any]:
    """``credentials`` is there (Outpost's Destination requires it) but empty: secrets show on destination routes."""
    return {**destination_base(app, endpoint), "config": _config(endpoint), "credentials": {}}


def event_out(
    app: Mapping[str, Any], message: Mapping[str, Any], *, matched: list[str], with_data: bool = True
) -> dict[str, Any]:
    """``Event``; ``metadata`` is known from the MessageAccepted record (the projection does not keep it)."""
    out = {
        "id": event_id(dict(message)),
        "tenant_id": tenant_id(dict(app)),
        "matched_destination_ids": matched,
        "topic": message["event_type"],
        "time": iso(message["accepted_at"]),
        "eligible_for_retry": message.get("eligible_for_retry", True),
        "metadata": dict(message["metadata"]) if message.get("metadata") else None,
    }
    if with_data:
        out["data"] = payload_of(message.get("payload"))
    return out


def _code(row: Mapping[str, Any]) -> str:
    """The response status, or the error class when no response came (``timeout``, ``connect``, ...)."""
    return str(row["response_status"]) if row["response_status"] else str(row.get("error_class") or "")


def attempt_out(
    app: Mapping[str, Any],
    row: Mapping[str, Any],
    *,
    destination: str,
    response_data: bool = False,
    event: dict[str, Any] | None = None,
    endpoint: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``Attempt``; ``destination`` is its destination id, ``event`` the included event (if asked)."""
    out: dict[str, Any] = {
        "id": to_svix(IdKind.ATTEMPT, as_uuid(row["attempt_id"])),
        "tenant_id": tenant_id(dict(app)),
        "status": row["status"],
        "time": iso(row["started_at"]),
        "code": _code(row),
        "attempt_number": row["attempt_number"],
        "manual": row["trigger"] == "manual",
        "latency_ms": row["total_us"] // 1000,
        "event_id": row.get("event_id") or to_svix(IdKind.MESSAGE, as_uuid(row["msg_id"])),
        "destination_id": destination,
    }
    if response_data:
        body = row.get("response_body")
        out["response_data"] = {
            "status_code": row["response_status"],
            "body": None if body is None else body.decode("utf-8", errors="replace"),
            "headers": dict(row.get("response_headers") or {}),
        }
    if event is not None:
        out["event"] = event
    if endpoint is not None:
        out["destination"] = attempt_destination_out(app, endpoint)
    return out


# --- the same shapes as JSON Schema, for /openapi.json -------------------------------------------

_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
_TOPICS = {"oneOf": [{"const": ALL_TOPICS}, {"type": "array", "items": {"type": "string"}}]}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/Outpost{name}"}


def _object(required: list[str], **properties: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


_DESTINATION_BASE = {
    "id": {"type": "string"}, "tenant_id": {"type": "string"}, "type": {"const": "webhook"}, "topics": _TOPICS,
    "disabled_at": {**_TIME, "type": ["string", "null"]}, "created_at": _TIME, "updated_at": _TIME,
    "filter": {"type": ["object", "null"]}, "delivery_metadata": _NULLABLE_MAP, "metadata": _NULLABLE_MAP,
    "target": {"type": "string"}, "target_url": {"type": ["string", "null"]},
    "config": _object(["url"], url={"type": "string"}, custom_headers={"type": "string"}),
}  # fmt: skip
_EVENT = {
    "id": {"type": "string"}, "tenant_id": {"type": "string"}, "topic": {"type": "string"}, "time": _TIME,
    "eligible_for_retry": {"type": "boolean"}, "metadata": _NULLABLE_MAP,
}  # fmt: skip


def _pagination() -> dict[str, Any]:
    nullable = {"type": ["string", "null"]}
    return _object(["limit"], order_by={"type": "string"}, dir={"enum": ["asc", "desc"]},
                   limit={"type": "integer"}, next=nullable, prev=nullable)  # fmt: skip


SCHEMAS: dict[str, dict[str, Any]] = {
    "OutpostTenant": _object(
        ["id"], id={"type": "string"}, destinations_count={"type": "integer"},
        topics={"type": "array", "items": {"type": "string"}}, metadata=_NULLABLE_MAP, created_at=_TIME,
        updated_at=_TIME,
    ),
    "OutpostTenantPage": _object(["models", "pagination"], models={"type": "array", "items": ref("Tenant")},
                                 pagination=_pagination(), count={"type": "integer"}),
    "OutpostTenantToken": _object(["token", "tenant_id"], token={"type": "string"}, tenant_id={"type": "string"}),
    "OutpostPortalRedirect": _object(["redirect_url", "tenant_id"], redirect_url={"type": "string"},
                                     tenant_id={"type": "string"}),
    "OutpostDestination": _object(
        ["id", "type", "topics", "disabled_at", "created_at", "updated_at", "config", "credentials"],
        **_DESTINATION_BASE,
        credentials=_object([], secret={"type": "string"}, previous_secret={"type": "string"},
                            previous_secret_invalid_at=_TIME),
    ),
    "OutpostAttemptDestination": _object(
        ["id", "tenant_id", "type", "topics", "config", "credentials", "disabled_at", "created_at", "updated_at",
         "target"],
        **_DESTINATION_BASE, credentials={"type": "object", "maxProperties": 0},
    ),
    "OutpostEventSummary": _object(["id", "topic", "time"], **_EVENT),
    "OutpostEventFull": _object(["id", "topic", "time", "data"], **_EVENT, data={"type": "object"}),
    "OutpostEvent": _object(["id", "tenant_id", "topic", "time"], **_EVENT,
                            matched_destination_ids={"type": "array", "items": {"type": "string"}},
                            data={"type": "object"}),
    "OutpostEventPage": _object(["models", "pagination"], models={"type": "array", "items": ref("Event")},
                                pagination=_pagination()),
    "OutpostAttempt": _object(
        ["id", "tenant_id", "status", "time", "code", "attempt_number", "manual", "event_id", "destination_id"],
        id={"type": "string"}, tenant_id={"type": "string"}, status={"enum": ["success", "failed"]}, time=_TIME,
        code={"type": "string"},
        response_data=_object(["status_code", "headers"], status_code={"type": "integer"},
                              body={"type": ["string", "null"]}, headers={"type": "object"}),
        attempt_number={"type": "integer", "minimum": 1}, manual={"type": "boolean"},
        latency_ms={"type": ["integer", "null"]}, event_id={"type": "string"}, destination_id={"type": "string"},
        event={"anyOf": [ref("EventFull"), ref("EventSummary")]}, destination=ref("AttemptDestination"),
    ),
    "OutpostAttemptPage": _object(["models", "pagination"], models={"type": "array", "items": ref("Attempt")},
                                  pagination=_pagination()),
    "OutpostPublishResponse": _object(["id", "duplicate", "destination_ids"], id={"type": "string"},
                                      duplicate={"type": "boolean"},
                                      destination_ids={"type": "array", "items": {"type": "string"}}),
    "OutpostSuccess": _object(["success"], success={"type": "boolean"}),
}  # fmt: skip
