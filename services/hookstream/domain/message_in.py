"""Svix's ``MessageIn``: the rules a message must meet to be accepted, whichever way it arrives.

The HTTP dialects validate request bodies against :data:`MESSAGE_IN` and the
intake role (``domain/intake.py``) validates what upstream producers write to
the intake topic against the same schema, so a message refused on one path is
refused on the other. The payload's stored form (compact JSON under the cap)
and the ``messages`` key are here for the same reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

JsonSchema = dict[str, Any]

# Svix's pattern for uids, event type names and channels.
NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,256}$")
NAME_RULE = "1-256 of a-z A-Z 0-9 - _ ."

# Svix's own bounds for a message's channels and tags (its OpenAPI document, MessageIn and the list filters).
CHANNEL = re.compile(r"^[a-zA-Z0-9\-_.:+]+$")
TAG = re.compile(r"^[a-zA-Z0-9\-_./\\#]+$")
MAX_CHANNEL_CHARS = 128
MAX_TAG_CHARS = 128
MAX_MESSAGE_CHANNELS = 10
MAX_MESSAGE_TAGS = 5


def name_schema(what: str = "a valid name", *, nullable: bool = False) -> JsonSchema:
    """Svix's pattern for uids, event type names, channels and tags; the description is the 422's wording."""
    kind: Any = ["string", "null"] if nullable else "string"
    return {"type": kind, "pattern": NAME.pattern, "description": f"{what}: {NAME_RULE}"}


def channel_schema() -> JsonSchema:
    return {"type": "string", "maxLength": MAX_CHANNEL_CHARS, "pattern": CHANNEL.pattern,
            "description": f"a valid channel: 1-{MAX_CHANNEL_CHARS} of a-z A-Z 0-9 - _ . : +"}  # fmt: skip


def tag_schema() -> JsonSchema:
    return {"type": "string", "maxLength": MAX_TAG_CHARS, "pattern": TAG.pattern,
            "description": f"a valid tag: 1-{MAX_TAG_CHARS} of a-z A-Z 0-9 - _ . / \\ #"}  # fmt: skip


def _nullable(kind: str, **more: Any) -> JsonSchema:
    return {"type": [kind, "null"], **more}


MESSAGE_IN: JsonSchema = {
    "type": "object",
    "required": ["eventType", "payload"],
    "properties": {
        "eventType": name_schema(), "eventId": name_schema("a valid eventId", nullable=True),
        "payload": {"type": "object"},
        "channels": _nullable("array", items=channel_schema(), minItems=1, maxItems=MAX_MESSAGE_CHANNELS,
                              uniqueItems=True),
        "tags": _nullable("array", items=tag_schema(), maxItems=MAX_MESSAGE_TAGS, uniqueItems=True),
    },
}  # fmt: skip
"""The body of ``POST /app/{app_id}/msg`` (and a plain-JSON intake record)."""

_VALIDATOR = Draft202012Validator(MESSAGE_IN)
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
"""``json.dumps`` with these options, made once: dumps would build an encoder per payload."""


class PayloadTooLarge(Exception):
    """The payload's compact JSON is over the cap; each caller names the field in its own error shape."""

    def __init__(self, size: int, cap: int) -> None:
        super().__init__(f"{size} bytes serialized; the limit is {cap}")
        self.size = size
        self.cap = cap


def compact_payload(payload: Any, cap: int) -> bytes:
    """The stored form of a payload (compact JSON, as Svix minifies), within the cap that applies to those bytes."""
    encoded = _COMPACT.encode(payload).encode()
    if len(encoded) > cap:
        raise PayloadTooLarge(len(encoded), cap)
    return encoded


def _names(value: Any, pattern: re.Pattern[str], max_chars: int, min_items: int, max_items: int) -> bool:
    if type(value) is not list or not min_items <= len(value) <= max_items:
        return False
    if not all(type(v) is str and len(v) <= max_chars and pattern.fullmatch(v) for v in value):
        return False
    return len(set(value)) == len(value)


def plainly_valid(body: Any) -> bool:
    """True only for bodies :data:`MESSAGE_IN` accepts: the common case, without the schema walk (half the cost
    of reading an intake record); anything it does not recognise is judged by the schema."""
    if type(body) is not dict or type(body.get("payload")) is not dict:
        return False
    event_type, event_id = body.get("eventType"), body.get("eventId")
    if type(event_type) is not str or not NAME.fullmatch(event_type):
        return False
    if event_id is not None and (type(event_id) is not str or not NAME.fullmatch(event_id)):
        return False
    channels, tags = body.get("channels"), body.get("tags")
    if channels is not None and not _names(channels, CHANNEL, MAX_CHANNEL_CHARS, 1, MAX_MESSAGE_CHANNELS):
        return False
    return tags is None or _names(tags, TAG, MAX_TAG_CHARS, 0, MAX_MESSAGE_TAGS)


def message_in_problem(body: Any) -> tuple[str, bool] | None:
    """Why ``body`` is not a valid MessageIn (the first problem, by path), and whether it is a missing field."""
    if plainly_valid(body):
        return None
    problem = min(_VALIDATOR.iter_errors(body), key=lambda e: list(e.absolute_path), default=None)
    if problem is None:
        return None
    where = ".".join(str(part) for part in problem.absolute_path) or "body"
    message = problem.message if len(problem.message) <= 200 else problem.message[:197] + "..."
    return f"{where}: {message}", problem.validator == "required"


def message_key(record: Mapping[str, Any]) -> str:
    """The ``messages`` key of a MessageAccepted: app + dedupe key, so duplicates of one eventId share a partition."""
    return f"{record['app_id']}:{record['event_id'] or record['msg_id']}"
