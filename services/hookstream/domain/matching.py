"""Which endpoints receive a message: enabled, event type, channels, payload filter.

Event types and channels follow Svix's server (``filtered_endpoints`` in
svix-server's ``core/message_app.rs``), since the Svix dialect promises Svix's
behaviour:

- an endpoint with no event types (None or empty) takes every type;
  ``"*"`` also means every type, as Outpost writes "all topics";
- an endpoint with no channels takes every message, whatever its channels;
- an endpoint *with* channels takes only messages sharing at least one of
  them, so a message without channels does *not* reach it. (Svix's code says
  so outright: "A message with no channels doesn't match an endpoint with
  channels." Channels narrow what an endpoint hears; a channel-less message
  is not addressed to any channel.)

The payload filter (Outpost's destination ``filter``) lives in
:mod:`hookstream.domain.payload_filter`; this module builds the event it is
matched against.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hookstream.domain.payload_filter import InvalidFilter, filter_matches, validate_filter

__all__ = [
    "EndpointRule",
    "InvalidFilter",
    "MessageFacts",
    "filter_input",
    "filter_matches",
    "match_endpoints",
    "validate_filter",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What routing needs to know about a message (a subset of ``MessageAccepted``)."""

    msg_id: uuid.UUID
    event_type: str
    payload: bytes = b"{}"
    channels: frozenset[str] = frozenset()
    event_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    accepted_at_us: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", _string_set("channels", self.channels))


@dataclass(frozen=True, slots=True)
class EndpointRule:
    """What routing needs to know about an endpoint (a subset of ``EndpointUpserted``)."""

    endpoint_id: uuid.UUID
    event_types: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    disabled: bool = False
    payload_filter: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        for name in ("event_types", "channels"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _string_set(name, value))


def match_endpoints(message: MessageFacts, endpoints: Iterable[EndpointRule]) -> list[EndpointRule]:
    """The endpoints that get a delivery task for ``message``, in the order given."""
    event: dict[str, Any] | None = None  # parsed once, and only if some endpoint filters
    matched = []
    for endpoint in endpoints:
        if not _subscribed(message, endpoint):
            continue
        if endpoint.payload_filter:
            if event is None:
                event = filter_input(message)
            if not filter_matches(endpoint.payload_filter, event):
                continue
        matched.append(endpoint)
    return matched


def filter_input(message: MessageFacts) -> dict[str, Any]:
    """The document a payload filter sees, shaped like an Outpost event.

    ``id`` is the caller's event id when there is one (that is the id an Outpost
    publisher chose), else the canonical message UUID. ``data`` is the parsed
    payload; a payload that is not JSON filters as ``{}``, as in Outpost.
    """
    try:
        data: Any = json.loads(message.payload)
    except (ValueError, RecursionError):  # not JSON, or nested past what json can parse
        data = {}
    return {
        "id": message.event_id if message.event_id is not None else str(message.msg_id),
        "topic": message.event_type,
        "time": (_EPOCH + timedelta(microseconds=message.accepted_at_us)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metadata": dict(message.metadata),
        "data": data,
    }


def _subscribed(message: MessageFacts, endpoint: EndpointRule) -> bool:
    if endpoint.disabled:
        return False
    types = endpoint.event_types
    if types and "*" not in types and message.event_type not in types:
        return False
    return not (endpoint.channels and endpoint.channels.isdisjoint(message.channels))


def _string_set(name: str, value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise TypeError(f"{name} is a collection of names, not a single string")
    return frozenset(value)
