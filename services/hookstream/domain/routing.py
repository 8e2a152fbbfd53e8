"""A message in, delivery tasks out: the router's decision as a pure function."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hookstream.domain.directory import Directory, Endpoint
from hookstream.domain.matching import EndpointRule, MessageFacts, match_endpoints


@dataclass(frozen=True, slots=True)
class Routed:
    tasks: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class UnknownApplication:
    reason: str


@dataclass(frozen=True, slots=True)
class Duplicate:
    first_msg_id: str


def _micros(value: datetime | int) -> int:
    if isinstance(value, int):
        return value
    return int(value.timestamp() * 1_000_000)


def message_facts(message: Mapping[str, Any]) -> MessageFacts:
    return MessageFacts(
        msg_id=uuid.UUID(message["msg_id"]),
        event_type=message["event_type"],
        payload=message["payload"],
        channels=frozenset(message.get("channels") or ()),
        event_id=message.get("event_id"),
        metadata=message.get("metadata") or {},
        accepted_at_us=_micros(message["accepted_at"]),
    )


def replay_wanted(message: Mapping[str, Any], rule: EndpointRule) -> bool:
    """Whether an endpoint replay-missing sends ``message`` (a ``messages`` row) to the endpoint of ``rule``.

    The endpoint's filters as they are now (event types, channels, payload
    filter) decide, as routing would decide for a new message; a disabled
    endpoint still gets the tasks, which its worker skips as it skips any
    other. A row keeps no metadata, so a payload filter on ``metadata`` sees
    none; a row without a payload (expired, expunged) is matched on its type
    and channels and then counted as skipped by the caller.
    """
    row = {**message, "msg_id": str(message["msg_id"]), "payload": message.get("payload") or b"{}", "metadata": {}}
    return bool(match_endpoints(message_facts(row), [replace(rule, disabled=False)]))


def addressed(message: Mapping[str, Any], endpoints: Iterable[Endpoint]) -> list[EndpointRule]:
    """The rules the message is matched against: every endpoint's, or the one its ``destination_id`` names."""
    only = message.get("destination_id")
    return [e.rule for e in endpoints if only is None or str(e.endpoint_id) == only]


def route(message: Mapping[str, Any], view: Directory, now: datetime) -> Routed | UnknownApplication:
    """One first-attempt DeliveryTask record per matching endpoint, due at once.

    A message naming a ``destination_id`` goes to that endpoint only, and only
    if it matches like any other (Outpost: enabled, topic, filter).
    """
    try:
        app_id = uuid.UUID(message["app_id"])
    except ValueError:
        return UnknownApplication(f"app_id {message['app_id']!r} is not a UUID")
    if app_id not in view.applications:
        return UnknownApplication(f"application {app_id} does not exist")
    facts = message_facts(message)
    matched = match_endpoints(facts, addressed(message, view.endpoints_of(app_id)))
    tasks = [
        {
            "msg_id": message["msg_id"],
            "app_id": message["app_id"],
            "endpoint_id": str(rule.endpoint_id),
            "attempt_number": 1,
            "trigger": "scheduled",
            "trigger_seq": 0,
            "due_at": now,
            "enqueued_at": now,
            "event_type": message["event_type"],
            "event_id": message.get("event_id"),
            "channels": list(message.get("channels") or ()),
            "payload": message["payload"],
            "accepted_at": message["accepted_at"],
            "eligible_for_retry": message.get("eligible_for_retry", True),
        }
        for rule in matched
    ]
    return Routed(tasks)
