"""The Svix dialect's shapes as JSON Schema: request bodies the handlers validate with, and what they answer.

Request bodies accept what svix 2.9.1's ``*In``/``*Patch`` models send
(camelCase, optional fields absent or null, unknown fields ignored as Svix
ignores them). What JSON Schema cannot say stays in the handlers, raising the
same 422: URL scheme and host, secret encoding, custom-header rules
(``domain.custom_headers``), metadata key and value lengths, payload size.
Answers are the SDK's ``*Out`` models under ``Svix`` component names; they
stay open (no ``additionalProperties: false``), so hookstream's extra attempt
fields are additional properties the SDK ignores.
"""

from __future__ import annotations

from typing import Any

from hookstream.api.spec import JsonSchema
from hookstream.api.svix.params import MAX_MAP_ENTRIES, MAX_MAP_KEY_CHARS, MAX_MAP_VALUE_CHARS
from hookstream.api.svix.params import name_schema as name
from hookstream.api.svix.shapes import STATUS_NUMBER, TRIGGER_NUMBER
from hookstream.domain.access import CAPABILITIES
from hookstream.domain.message_in import MESSAGE_IN  # noqa: F401 (a body of this dialect, shared with intake)


def ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/Svix{name}"}


def names(*, nullable: bool = True) -> JsonSchema:
    return {"type": ["array", "null"] if nullable else "array", "items": name()}


def nullable(kind: str, **more: Any) -> JsonSchema:
    return {"type": [kind, "null"], **more}


UID = name("a valid uid", nullable=True)
METADATA = nullable(
    "object", additionalProperties={"type": "string"}, maxProperties=MAX_MAP_ENTRIES,
    description=f"string labels; keys hold at most {MAX_MAP_KEY_CHARS} characters and values {MAX_MAP_VALUE_CHARS}",
)  # fmt: skip
# u16 as in Svix (and within the int of the Avro records)
THROTTLE = nullable("integer", minimum=0, maximum=65535, description="messages per second; null: unthrottled")
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = nullable("string", format="date-time")
_STATUS = {"type": "integer", "enum": sorted(STATUS_NUMBER.values()),
           "description": "0 success, 1 pending, 2 fail, 3 sending, 4 canceled"}  # fmt: skip
_STATUS_TEXT = {"type": "string", "enum": list(STATUS_NUMBER)}


def _object(required: list[str], **properties: JsonSchema) -> JsonSchema:
    return {"type": "object", "required": required, "properties": properties}


# ---- request bodies


def application_in(*, partial: bool = False) -> JsonSchema:
    return _object(
        [] if partial else ["name"],
        name={"type": "string", "minLength": 1}, uid=UID, throttleRate=THROTTLE, metadata=METADATA,
    )  # fmt: skip


MAX_URL_CHARS = 2048  # what browsers and most proxies take; a longer URL is a mistake or an attack
MAX_DESCRIPTION_CHARS = 4096
HEADERS = nullable("object", additionalProperties={"type": "string"}, description="headers sent with each request")


def endpoint_in(*, partial: bool = False) -> JsonSchema:
    fields: dict[str, JsonSchema] = {
        "url": {"type": "string", "maxLength": MAX_URL_CHARS, "description": "an http(s) URL with a host"},
        "description": nullable("string", maxLength=MAX_DESCRIPTION_CHARS),
        "disabled": nullable("boolean"), "eventTypes": names(), "channels": names(), "throttleRate": THROTTLE,
        "uid": UID, "metadata": METADATA,
        "filterTypes": {**names(), "description": "the older name of eventTypes, still sent by older clients"},
    }  # fmt: skip
    if not partial:
        fields["secret"] = nullable("string", description="base64 of 24-64 bytes, optionally prefixed whsec_")
        fields["headers"] = HEADERS
    return _object([] if partial else ["url"], **fields)


def headers_in(*, patch: bool) -> JsonSchema:
    value: JsonSchema = {"type": ["string", "null"] if patch else "string"}
    return _object(["headers"], headers={"type": "object", "additionalProperties": value})


DEFAULT_GRACE_S = 24 * 3600
MAX_GRACE_S = 7 * 24 * 3600
SECRET_ROTATE_IN = _object(
    [], key=nullable("string", description="the new secret; null: a fresh one"),
    gracePeriodSeconds=nullable("integer", minimum=0, maximum=MAX_GRACE_S, default=DEFAULT_GRACE_S),
)  # fmt: skip
RECOVER_IN = _object(["since"], since=_TIME, until=_NULLABLE_TIME)
REPLAY_IN = RECOVER_IN  # Svix's ReplayIn has RecoverIn's fields
# Svix's bounds for a portal token's life: one hour to seven days, seven days by default.
MIN_EXPIRY_S = 3600
MAX_EXPIRY_S = 7 * 24 * 3600
APP_PORTAL_ACCESS_IN: JsonSchema = {
    **_object(
        [], expiry=nullable("integer", minimum=MIN_EXPIRY_S, maximum=MAX_EXPIRY_S, default=MAX_EXPIRY_S),
        readOnly=nullable("boolean"), capabilities=nullable("array", items={"enum": list(CAPABILITIES)}),
        featureFlags=names(), sessionId=nullable("string"),
        application={**application_in(), "type": ["object", "null"]},
    ),
    "type": ["object", "null"],
}  # fmt: skip


def event_type_in(*, with_name: bool, partial: bool = False) -> JsonSchema:
    """POST (``name`` in the body), PUT (in the path), PATCH (only what is named changes; no nulls for flags)."""
    fields: dict[str, JsonSchema] = {
        "description": {"type": "string"},
        "archived": {"type": "boolean"} if partial else nullable("boolean"),
        "deprecated": {"type": "boolean"} if partial else nullable("boolean"),
        "schemas": nullable("object", description="JSON Schemas by version, e.g. {\"1\": {...}}"),
        "groupName": name("a valid group name", nullable=True), "featureFlags": names(),
    }  # fmt: skip
    required = [] if partial else ["description"]
    if with_name:
        fields = {"name": name("a valid event type name"), **fields}
        required = ["name", *required]
    return _object(required, **fields)


EVENT_TYPE_IMPORT_IN = _object(
    [], spec=nullable("object", description="the OpenAPI document, parsed"),
    specRaw=nullable("string", description="the OpenAPI document as YAML or JSON text"),
    replaceAll={"type": "boolean", "default": False, "description": "archive every event type it does not name"},
    dryRun={"type": "boolean", "default": False, "description": "change nothing; answer what would change"},
)  # fmt: skip


# ---- answers

_APPLICATION_OUT = _object(
    ["id", "name", "metadata", "createdAt", "updatedAt"], id={"type": "string"}, uid=nullable("string"),
    name={"type": "string"}, throttleRate=nullable("integer"), metadata={"type": "object"}, createdAt=_TIME,
    updatedAt=_TIME,
)  # fmt: skip
_ENDPOINT_FIELDS: dict[str, JsonSchema] = {
    "id": {"type": "string"}, "uid": nullable("string"), "url": {"type": "string"}, "description": {"type": "string"},
    "throttleRate": nullable("integer"), "disabled": nullable("boolean"),
    "eventTypes": nullable("array", items={"type": "string"}), "channels": nullable("array", items={"type": "string"}),
    "filterTypes": nullable("array", items={"type": "string"}, description="the same as eventTypes, its older name"),
    "createdAt": _TIME, "updatedAt": _TIME,
}  # fmt: skip
_ENDPOINT_OUT = _object(["id", "metadata", "url", "description", "createdAt", "updatedAt"],
                        **_ENDPOINT_FIELDS, metadata={"type": "object"})  # fmt: skip
_MESSAGE_FIELDS: dict[str, JsonSchema] = {
    "id": {"type": "string"}, "eventType": {"type": "string"}, "eventId": nullable("string"),
    "payload": {"type": "object"}, "channels": nullable("array", items={"type": "string"}),
    "tags": nullable("array", items={"type": "string"}), "timestamp": _TIME,
}  # fmt: skip
_DELIVERY_STATE: dict[str, JsonSchema] = {"status": _STATUS, "statusText": _STATUS_TEXT, "nextAttempt": _NULLABLE_TIME}
_MS = nullable("integer")
_ATTEMPT_OUT = _object(
    ["id", "msgId", "endpointId", "url", "response", "responseStatusCode", "responseDurationMs", "status",
     "statusText", "triggerType", "timestamp"],
    id={"type": "string"}, msgId={"type": "string"}, endpointId={"type": "string"}, url={"type": "string"},
    response={"type": "string"}, responseStatusCode={"type": "integer"}, responseDurationMs={"type": "integer"},
    status=_STATUS, statusText=_STATUS_TEXT,
    triggerType={"type": "integer", "enum": sorted(TRIGGER_NUMBER.values()), "description": "0 scheduled, 1 manual"},
    timestamp=_TIME,
    # hookstream's extra fields (additional properties to the svix SDK):
    attemptNumber={"type": "integer"}, statusCodeClass={"type": "integer"}, errorClass=nullable("string"),
    errorText=nullable("string"), resolvedIp=nullable("string"), connReused=nullable("boolean"),
    responseBodyTruncated={"type": "boolean"}, contentExpunged={"type": "boolean"},
    timing=_object([], dnsMs=_MS, tcpConnectMs=_MS, tlsHandshakeMs=_MS, ttfbMs=_MS, transferMs=_MS, totalMs=_MS),
    endpoint={**ref("EndpointOut"), "description": "only on the deprecated per-endpoint attempt list"},
)  # fmt: skip
_EVENT_TYPE_OUT = _object(
    ["name", "description", "deprecated", "createdAt", "updatedAt"], name={"type": "string"},
    description={"type": "string"}, archived=nullable("boolean"), deprecated={"type": "boolean"},
    schemas=nullable("object"), groupName=nullable("string"), featureFlags=nullable("array", items={"type": "string"}),
    featureFlag=nullable("string"), createdAt=_TIME, updatedAt=_TIME,
)  # fmt: skip
_TASK_STARTED = _object(["id", "status", "task", "updatedAt"], id={"type": "string"},
                        status={"enum": ["running", "finished", "failed"]}, task={"type": "string"},
                        updatedAt=_TIME)  # fmt: skip
_EVENT_TYPE_FROM_OPENAPI = _object(
    ["name", "description", "deprecated"], name={"type": "string"}, description={"type": "string"},
    schemas=nullable("object"), deprecated={"type": "boolean"}, groupName=nullable("string"),
    featureFlags=nullable("array", items={"type": "string"}),
)  # fmt: skip
HTTP_ERROR = _object(["code", "detail"], code={"type": "string"}, detail={"type": "string"})
VALIDATION_ERROR = _object(["detail"], detail={"type": "array", "items": _object(
    ["loc", "msg", "type"], loc={"type": "array", "items": {"type": ["string", "integer"]}}, msg={"type": "string"},
    type={"type": "string"})})  # fmt: skip
_LISTED = ("ApplicationOut", "EndpointOut", "MessageOut", "MessageAttemptOut", "EndpointMessageOut",
           "MessageEndpointOut", "EventTypeOut", "BackgroundTaskOut")  # fmt: skip


def list_of(item: str) -> JsonSchema:
    return ref(f"ListResponse{item}")


def _list_response(item: str) -> JsonSchema:
    return _object(["data", "iterator", "done"], data={"type": "array", "items": ref(item)},
                   iterator=nullable("string"), prevIterator=nullable("string"), done={"type": "boolean"})  # fmt: skip


SCHEMAS: dict[str, JsonSchema] = {
    "SvixApplicationOut": _APPLICATION_OUT,
    "SvixEndpointOut": _ENDPOINT_OUT,
    "SvixMessageOut": _object(["id", "eventType", "payload", "timestamp"], **_MESSAGE_FIELDS),
    "SvixMessageAttemptOut": _ATTEMPT_OUT,
    "SvixEndpointMessageOut": _object(["id", "eventType", "payload", "timestamp", "status", "statusText"],
                                      **_MESSAGE_FIELDS, **_DELIVERY_STATE),
    "SvixMessageEndpointOut": _object(["id", "url", "description", "createdAt", "updatedAt", "status", "statusText"],
                                      **_ENDPOINT_FIELDS, **_DELIVERY_STATE),
    "SvixEventTypeOut": _EVENT_TYPE_OUT,
    "SvixEndpointSecretOut": _object(["key"], key={"type": "string"}),
    "SvixEndpointHeadersOut": _object(["headers", "sensitive"], headers={"type": "object", "additionalProperties":
                                      {"type": "string"}}, sensitive={"type": "array", "items": {"type": "string"}}),
    "SvixEndpointStats": _object(["success", "pending", "sending", "fail", "canceled"],
                                 **{status: {"type": "integer"} for status in STATUS_NUMBER}),
    "SvixRecoverOut": _TASK_STARTED,
    "SvixReplayOut": _TASK_STARTED,
    "SvixBackgroundTaskOut": _object(["id", "status", "task", "data", "updatedAt"], id={"type": "string"},
                                     status={"enum": ["running", "finished", "failed"]}, task={"type": "string"},
                                     data={"type": "object", "additionalProperties": {"type": "integer"}},
                                     updatedAt=_TIME),
    "SvixEventTypeImportOpenApiOut": _object(["data"], data=_object(
        ["modified"], modified={"type": "array", "items": {"type": "string"}},
        to_modify=nullable("array", items=_EVENT_TYPE_FROM_OPENAPI, description="only for a dryRun"))),
    "SvixAppPortalAccessOut": _object(["url", "token"], url={"type": "string"}, token={"type": "string"}),
    "SvixEmptyOut": {"type": "object", "description": "an empty object"},
    "SvixHttpError": HTTP_ERROR,
    "SvixHTTPValidationError": VALIDATION_ERROR,
    **{f"SvixListResponse{item}": _list_response(item) for item in _LISTED},
}  # fmt: skip
_ERROR = ref("HttpError")
ERRORS: dict[int, JsonSchema] = {
    400: _ERROR,
    401: _ERROR,
    403: _ERROR,
    404: _ERROR,
    409: _ERROR,
    415: _ERROR,
    422: ref("HTTPValidationError"),
    429: _ERROR,
    500: _ERROR,
    503: _ERROR,
}
