"""Operational events: the records of ``message.attempt.*`` and ``endpoint.disabled``, Svix-shaped.

Each record carries its facts as fields (for consumers on the log) and the
event exactly as Svix posts it to an operational webhook (``payload``), so
delivering it to an operator's endpoint needs no mapping. Event ids are
derived from the cause (the attempt, or the endpoint and the start of its
failing run) and the type, so the same cause always yields the same event:
a replayed status fold writes duplicates a consumer can drop by id.

Operational webhooks: the operator's subscriptions are endpoints of one
reserved application (:data:`OPERATIONAL_APP_ID`, the same in every
deployment, never listed among the tenants' applications). The relay turns
each event into a ``MessageAccepted`` of that application
(:func:`relay_message`), so routing, signing, retries and history are the
ordinary ones. The message id and ``eventId`` derive from the event id: a
replayed event is the same message, and the router's ``eventId`` dedupe
routes it once. Events about the reserved application's own endpoints are
never relayed (:func:`relayed`), or a failing operator endpoint would feed
itself.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from hookstream.domain.ids import IdKind, InvalidId, new_id, timestamp_ms, to_svix
from hookstream.domain.status import AttemptFacts, Signal, from_us

ENDPOINT_DISABLED = "endpoint.disabled"
EVENT_TYPES = (Signal.FAILING.value, Signal.EXHAUSTED.value, Signal.RECOVERED.value, ENDPOINT_DISABLED)


def _reserved_app_id() -> uuid.UUID:
    return new_id(0, hashlib.sha256(b"hookstream/operational-webhooks/application").digest()[:10])


OPERATIONAL_APP_ID = _reserved_app_id()
"""The application holding the operators' operational webhook endpoints (a UUIDv7 at the epoch)."""
OPERATIONAL_APP_NAME = "hookstream operational webhooks"


def _event_id(kind: str, cause: str, at_us: int) -> str:
    digest = hashlib.sha256(f"hookstream/operational/v1\x00{kind}\x00{cause}".encode()).digest()
    return str(new_id(at_us // 1000, digest[:10]))


def _svix(kind: IdKind, value: str) -> str:
    try:
        return to_svix(kind, uuid.UUID(value))
    except (InvalidId, ValueError):  # not a UUIDv7 (ids made outside hookstream): shown as given
        return value


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _payload(kind: str, data: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "data": data}, separators=(",", ":")).encode()


def message_event(signal: Signal, facts: AttemptFacts) -> dict[str, Any]:
    """``message.attempt.failing`` / ``exhausted`` / ``recovered``, caused by the attempt ``facts``."""
    data = {
        "appId": _svix(IdKind.APPLICATION, facts.app_id),
        "appUid": None,
        "msgId": _svix(IdKind.MESSAGE, facts.msg_id),
        "msgEventId": facts.event_id,
        "endpointId": _svix(IdKind.ENDPOINT, facts.endpoint_id),
        "lastAttempt": {
            "id": _svix(IdKind.ATTEMPT, facts.attempt_id),
            "timestamp": _iso(from_us(facts.started_us)),
            "responseStatusCode": facts.response_status,
        },
    }
    return {
        "event_id": _event_id(signal.value, facts.attempt_id, facts.finished_us),
        "type": signal.value,
        "app_id": facts.app_id,
        "endpoint_id": facts.endpoint_id,
        "msg_id": facts.msg_id,
        "attempt_id": facts.attempt_id,
        "response_status": facts.response_status,
        "failing_since": None,
        "occurred_at": from_us(facts.finished_us),
        "payload": _payload(signal.value, data),
    }


def endpoint_disabled_event(
    facts: AttemptFacts, failing_since_us: int, *, app_uid: str | None = None, endpoint_uid: str | None = None
) -> dict[str, Any]:
    """``endpoint.disabled``: the endpoint failed for the whole window; ``facts`` is the attempt that showed it."""
    data = {
        "appId": _svix(IdKind.APPLICATION, facts.app_id),
        "appUid": app_uid,
        "endpointId": _svix(IdKind.ENDPOINT, facts.endpoint_id),
        "endpointUid": endpoint_uid,
        "failSince": _iso(from_us(failing_since_us)),
        "trigger": "automatic",
    }
    return {
        "event_id": _event_id(ENDPOINT_DISABLED, f"{facts.endpoint_id}/{failing_since_us}", facts.finished_us),
        "type": ENDPOINT_DISABLED,
        "app_id": facts.app_id,
        "endpoint_id": facts.endpoint_id,
        "msg_id": None,
        "attempt_id": facts.attempt_id,
        "response_status": facts.response_status,
        "failing_since": from_us(failing_since_us),
        "occurred_at": from_us(facts.finished_us),
        "payload": _payload(ENDPOINT_DISABLED, data),
    }


def relayed(event: dict[str, Any]) -> bool:
    """Whether an operational event goes to the operators' endpoints (never one about those endpoints)."""
    return uuid.UUID(event["app_id"]) != OPERATIONAL_APP_ID


def relay_message(event: dict[str, Any]) -> dict[str, Any]:
    """The ``MessageAccepted`` delivering ``event`` (an ``OperationalEvent``) to the operators' endpoints."""
    event_id = uuid.UUID(event["event_id"])
    digest = hashlib.sha256(b"hookstream/operational-webhooks/message\x00" + event_id.bytes).digest()
    return {
        "msg_id": str(new_id(timestamp_ms(event_id), digest[:10])),
        "app_id": str(OPERATIONAL_APP_ID),
        "event_type": event["type"],
        "event_id": str(event_id),
        "channels": [],
        "payload": event["payload"],
        "tags": [],
        "accepted_at": event["occurred_at"],
        "source": "kafka",
        "metadata": {},
    }
