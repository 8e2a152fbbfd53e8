"""Intake records: what upstream systems write to the intake topic, read as the message the API would accept.

Upstream systems already emit events, so the intake topic takes them in the
shapes they come in (docs: the intake contract): CloudEvents 1.0 over the
Kafka protocol binding (binary mode: ``ce_*`` headers; structured mode: the
event as JSON), the Debezium outbox event router's records, and plain JSON
Svix ``MessageIn`` bodies. Each record becomes exactly the ``MessageAccepted``
``POST /app/{app_id}/msg`` would have written (the same MessageIn rules, the
same payload cap, the same stored payload bytes, the same ``messages`` key),
or a :class:`Refusal` whose ``error_class`` the dead letter carries.

The message id is derived from the record's place in the log and its
timestamp (:func:`~hookstream.domain.ids.intake_message_id`), so a record read
twice (a restart before its commit) is the same message twice, which the
router and the delivery path absorb.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from hookstream.domain.directory import Application, Directory
from hookstream.domain.ids import IdKind, InvalidId, intake_message_id, parse_id
from hookstream.domain.message_in import PayloadTooLarge, compact_payload, message_in_problem, message_key
from hookstream.domain.strict_json import JsonLimits, JsonRefused, read_json

NO_APPLICATION = "no_application"
UNKNOWN_APPLICATION = "unknown_application"
PAYLOAD_TOO_LARGE = "payload_too_large"
NOT_JSON = "not_json"
MISSING_FIELD = "missing_field"
INVALID_FIELD = "invalid_field"
UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
ERROR_CLASSES = (NO_APPLICATION, UNKNOWN_APPLICATION, PAYLOAD_TOO_LARGE, NOT_JSON, MISSING_FIELD, INVALID_FIELD,
                 UNSUPPORTED_CONTENT_TYPE)  # fmt: skip
"""Every ``error_class`` an intake dead letter may carry."""

CLOUDEVENTS_BINARY = "cloudevents_binary"
CLOUDEVENTS_STRUCTURED = "cloudevents_structured"
OUTBOX = "outbox"
PLAIN_JSON = "json"
FORMATS = (CLOUDEVENTS_BINARY, CLOUDEVENTS_STRUCTURED, OUTBOX, PLAIN_JSON)

APPLICATION_HEADER = "hookstream-application"
CE_PREFIX = "ce_"
STRUCTURED_TYPE = "application/cloudevents+json"
CE_REQUIRED = ("specversion", "id", "source", "type")
_APP_PREFIX = IdKind.APPLICATION.prefix
MAX_ESCAPE_RATIO = 6
"""A JSON text shrinks at most this much when compacted (``\\u0041`` is one byte): a value longer than the cap
times this holds a payload over the cap whatever it is, so it is refused without being parsed."""


class IntakeRecord(NamedTuple):
    """One record of the intake topic as the consumer read it (headers in order; a key may repeat).

    This, :class:`Accepted` and ``_Message`` are made once per record: named tuples, immutable values built at a
    third of a frozen dataclass's cost (whose ``__init__`` sets each field through ``object.__setattr__``)."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]] = ()


@dataclass(frozen=True, slots=True)
class IntakeRules:
    """The deployment's knobs that decide a record's fate (from Settings in the role, literal in tests)."""

    app_attribute: str = "hookstreamapp"
    max_payload_bytes: int = 1048576
    json_limits: JsonLimits = field(default_factory=lambda: JsonLimits(128, 10000, 100000))


@dataclass(frozen=True, slots=True)
class Refusal:
    error_class: str
    reason: str


class Accepted(NamedTuple):
    """The MessageAccepted record, its key on ``messages``, and which format the record was read as."""

    record: dict[str, Any]
    key: str
    format: str


class _Message(NamedTuple):
    """A record's message before its application is resolved: a MessageIn body, where the app is named, metadata."""

    body: dict[str, Any]
    app_ref: str | None
    metadata: dict[str, str]
    format: str


class _Refused(Exception):
    def __init__(self, error_class: str, reason: str) -> None:
        super().__init__(reason)
        self.refusal = Refusal(error_class, reason)


def interpret(record: IntakeRecord, rules: IntakeRules, directory: Directory) -> Accepted | Refusal:
    """The MessageAccepted ``record`` stands for, or why it cannot be one."""
    try:
        message = _read(record, rules)
        app = _application(message.app_ref, directory)
        problem = message_in_problem(message.body)
        if problem is not None:
            reason, missing = problem
            raise _Refused(MISSING_FIELD if missing else INVALID_FIELD, f"{message.format}: {reason}")
        try:
            payload = compact_payload(message.body["payload"], rules.max_payload_bytes)
        except PayloadTooLarge as error:
            raise _Refused(PAYLOAD_TOO_LARGE, f"payload is {error}") from None
    except _Refused as refused:
        return refused.refusal
    ms = max(0, record.timestamp_ms)
    accepted = {
        "msg_id": str(intake_message_id(record.topic, record.partition, record.offset, ms)),
        "app_id": str(app.app_id), "event_type": message.body["eventType"],
        "event_id": message.body.get("eventId"), "channels": message.body.get("channels") or [],
        "payload": payload, "tags": message.body.get("tags") or [],
        "accepted_at": datetime.fromtimestamp(ms / 1000, UTC), "source": "kafka", "metadata": message.metadata,
    }  # fmt: skip
    return Accepted(accepted, message_key(accepted), message.format)


def detect_format(headers: Mapping[str, bytes | None]) -> str:
    """Which of the four shapes a record is, from its headers only (first match wins, as the contract orders)."""
    if "ce_specversion" in headers:
        return CLOUDEVENTS_BINARY
    content_type = headers.get("content-type")
    if content_type is not None and content_type.lower().startswith(STRUCTURED_TYPE.encode()):
        return CLOUDEVENTS_STRUCTURED
    if "eventtype" in headers:
        return OUTBOX
    return PLAIN_JSON


def _read(record: IntakeRecord, rules: IntakeRules) -> _Message:
    headers = {name.lower(): value for name, value in record.headers}  # the last of a repeated header wins
    kind = detect_format(headers)
    value = record.value
    if value is None:
        raise _Refused(NOT_JSON, f"{kind}: the record has no value (a tombstone)")
    cap = rules.max_payload_bytes
    if len(value) > cap * MAX_ESCAPE_RATIO + 65536:
        raise _Refused(PAYLOAD_TOO_LARGE, f"{kind}: the value is {len(value)} bytes; the payload limit is {cap}")
    if kind == CLOUDEVENTS_BINARY:
        return _binary(record, headers, value, rules)
    if kind == CLOUDEVENTS_STRUCTURED:
        return _structured(record, headers, value, rules)
    if kind == OUTBOX:
        return _outbox(record, headers, value, rules)
    body = _json(value, rules, kind, "the value")
    if not isinstance(body, dict):
        raise _Refused(INVALID_FIELD, f"{kind}: the value must be a JSON object (a MessageIn), got {_kind(body)}")
    return _Message(body, _fallback_app(record, headers, kind), {}, kind)


# ---- CloudEvents


def _binary(record: IntakeRecord, headers: Mapping[str, bytes | None], value: bytes, rules: IntakeRules) -> _Message:
    kind = CLOUDEVENTS_BINARY
    content_type = _header(headers, "content-type", kind)
    if content_type is not None and not _is_json_type(content_type):
        raise _Refused(UNSUPPORTED_CONTENT_TYPE, f"{kind}: content-type {content_type!r} is not JSON")
    attributes = {
        name[len(CE_PREFIX) :]: _header(headers, name, kind) for name in headers if name.startswith(CE_PREFIX)
    }
    data = _json(value, rules, kind, "the value (the event's data)")
    return _cloudevent({k: v for k, v in attributes.items() if v is not None}, data, record, headers, rules, kind)


def _structured(
    record: IntakeRecord, headers: Mapping[str, bytes | None], value: bytes, rules: IntakeRules
) -> _Message:
    kind = CLOUDEVENTS_STRUCTURED
    event = _json(value, rules, kind, "the value (the event)")
    if not isinstance(event, dict):
        raise _Refused(INVALID_FIELD, f"{kind}: the event must be a JSON object, got {_kind(event)}")
    content_type = event.get("datacontenttype")
    if content_type is not None and (not isinstance(content_type, str) or not _is_json_type(content_type)):
        raise _Refused(UNSUPPORTED_CONTENT_TYPE, f"{kind}: datacontenttype {content_type!r} is not JSON")
    if "data" in event:
        data = event["data"]
    elif "data_base64" in event:
        data = _base64_json(event["data_base64"], rules, kind)
    else:
        raise _Refused(MISSING_FIELD, f"{kind}: the event has no data")
    attributes = {name: value for name, value in event.items() if name not in ("data", "data_base64")}
    return _cloudevent(attributes, data, record, headers, rules, kind)


def _base64_json(text: Any, rules: IntakeRules, kind: str) -> Any:
    """``data_base64`` is taken only when it decodes to JSON: a payload is a JSON object, whatever carries it."""
    if not isinstance(text, str):
        raise _Refused(INVALID_FIELD, f"{kind}: data_base64 must be a string")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _Refused(NOT_JSON, f"{kind}: data_base64 is not base64") from None
    return _json(raw, rules, kind, "data_base64 (decoded)")


def _cloudevent(
    attributes: Mapping[str, Any], data: Any, record: IntakeRecord, headers: Mapping[str, bytes | None],
    rules: IntakeRules, kind: str,
) -> _Message:  # fmt: skip
    for name in CE_REQUIRED:
        if attributes.get(name) in (None, ""):
            where = f"header ce_{name}" if kind == CLOUDEVENTS_BINARY else f"attribute {name}"
            raise _Refused(MISSING_FIELD, f"{kind}: {where} is required")
    for name in (*CE_REQUIRED, "subject", "time", "channels", "tags", rules.app_attribute):
        if name in attributes and attributes[name] is not None and not isinstance(attributes[name], str):
            raise _Refused(INVALID_FIELD, f"{kind}: attribute {name} must be a string")
    if attributes["specversion"] != "1.0":
        raise _Refused(INVALID_FIELD, f"{kind}: specversion {attributes['specversion']!r} is not 1.0")
    if not isinstance(data, dict):
        raise _Refused(INVALID_FIELD, f"{kind}: data must be a JSON object (a message payload), got {_kind(data)}")
    body: dict[str, Any] = {"eventType": attributes["type"], "eventId": attributes["id"], "payload": data}
    subject = attributes.get("subject")
    channels = _split(attributes.get("channels"))
    if channels is not None:
        body["channels"] = channels
    elif subject:
        body["channels"] = [subject]
    tags = _split(attributes.get("tags"))
    if tags is not None:
        body["tags"] = tags
    metadata = {f"ce_{name}": attributes[name] for name in ("source", "subject", "time") if attributes.get(name)}
    app_ref = attributes.get(rules.app_attribute) or _fallback_app(record, headers, kind)
    return _Message(body, app_ref, metadata, kind)


def _split(text: str | None) -> list[str] | None:
    """A comma-separated extension attribute as a list (spaces around names dropped); None when absent or empty."""
    if not text:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    return parts or None


def _is_json_type(content_type: str) -> bool:
    """``application/json`` or any ``*/*+json``, parameters (``; charset=utf-8``) ignored."""
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return (kind == "application" and subtype == "json") or (bool(kind) and subtype.endswith("+json"))


# ---- Debezium outbox


def _outbox(record: IntakeRecord, headers: Mapping[str, bytes | None], value: bytes, rules: IntakeRules) -> _Message:
    kind = OUTBOX
    event_type = _unquoted(_header(headers, "eventtype", kind))
    event_id = _unquoted(_header(headers, "id", kind))
    if not event_type:
        raise _Refused(MISSING_FIELD, f"{kind}: header eventType is empty")
    payload = _json(value, rules, kind, "the value")
    if isinstance(payload, dict) and payload.keys() == {"schema", "payload"}:
        payload = payload["payload"]  # JsonConverter with schemas enabled
    if isinstance(payload, str):  # a string column, written by JsonConverter as a JSON string
        payload = _json(payload.encode(), rules, kind, "the value's string")
    if not isinstance(payload, dict):
        raise _Refused(INVALID_FIELD, f"{kind}: the payload must be a JSON object, got {_kind(payload)}")
    body: dict[str, Any] = {"eventType": event_type, "payload": payload}
    if event_id:
        body["eventId"] = event_id
    return _Message(body, _fallback_app(record, headers, kind), {}, kind)


def _unquoted(text: str | None) -> str | None:
    """A header as Kafka Connect's JsonConverter writes a string (``"abc"``), or as the plain string."""
    if text is not None and len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            unquoted = json.loads(text)
        except ValueError:
            return text
        return unquoted if isinstance(unquoted, str) else text
    return text


# ---- shared


def _header(headers: Mapping[str, bytes | None], name: str, kind: str) -> str | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refused(INVALID_FIELD, f"{kind}: header {name} is not UTF-8") from None


def _fallback_app(record: IntakeRecord, headers: Mapping[str, bytes | None], kind: str) -> str | None:
    """The application named by the ``hookstream-application`` header, else by the record key."""
    named = _header(headers, APPLICATION_HEADER, kind)
    if named:
        return named
    if record.key:
        try:
            return record.key.decode("utf-8")
        except UnicodeDecodeError:
            raise _Refused(UNKNOWN_APPLICATION, f"{kind}: the record key names no application (not UTF-8)") from None
    return None


def _json(raw: bytes, rules: IntakeRules, kind: str, what: str) -> Any:
    try:
        return read_json(raw, rules.json_limits)
    except JsonRefused as error:
        raise _Refused(NOT_JSON, f"{kind}: {what} {error}") from None


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _application(ref: str | None, directory: Directory) -> Application:
    """The application ``ref`` names, by id (``app_...`` or a canonical UUID) or uid."""
    if not ref:
        raise _Refused(NO_APPLICATION, f"no application: attribute, header {APPLICATION_HEADER} and key all absent")
    if ref.startswith(_APP_PREFIX):
        try:
            found = directory.applications.get(parse_id(ref, IdKind.APPLICATION))
        except InvalidId as error:
            raise _Refused(UNKNOWN_APPLICATION, f"application {_short(ref)}: {error}") from None
    else:
        found = None
        if len(ref) == 36:
            with contextlib.suppress(ValueError):
                found = directory.applications.get(uuid.UUID(ref))
        found = found or directory.application_by_uid(ref)
    if found is None:
        raise _Refused(UNKNOWN_APPLICATION, f"no application {_short(ref)} (by id or uid)")
    return found


def _short(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:77] + "...")
