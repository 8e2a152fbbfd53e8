"""Routing: which endpoints a message reaches (enabled, event types, channels, payload filter)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from hookstream.domain import matching
from hookstream.domain.matching import EndpointRule, MessageFacts, filter_input, match_endpoints

MSG_ID = uuid.UUID("0193433e-a800-76d6-95cd-cd859d94b5a5")
ACCEPTED_AT_US = 1_736_935_200_123_456  # 2025-01-15T10:00:00.123456Z


def message(
    event_type: str = "invoice.paid",
    channels: tuple[str, ...] = (),
    payload: Any = None,
    **extra: Any,
) -> MessageFacts:
    body = json.dumps({"status": "paid", "amount": 250} if payload is None else payload).encode()
    return MessageFacts(
        msg_id=MSG_ID,
        event_type=event_type,
        payload=body,
        channels=frozenset(channels),
        accepted_at_us=ACCEPTED_AT_US,
        **extra,
    )


def endpoint(**fields: Any) -> EndpointRule:
    return EndpointRule(endpoint_id=uuid.uuid4(), **fields)


def reaches(msg: MessageFacts, rule: EndpointRule) -> bool:
    return match_endpoints(msg, [rule]) == [rule]


# (endpoint fields, message kwargs, reached?)
ROUTING: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    # no rules at all: everything
    ({}, {}, True),
    ({}, {"channels": ("project_1",)}, True),
    # disabled endpoints never
    ({"disabled": True}, {}, False),
    ({"disabled": True, "event_types": {"invoice.paid"}}, {}, False),
    # event types: None, empty and "*" mean all
    ({"event_types": None}, {}, True),
    ({"event_types": set()}, {}, True),
    ({"event_types": {"*"}}, {"event_type": "anything.else"}, True),
    ({"event_types": {"invoice.paid"}}, {}, True),
    ({"event_types": {"invoice.paid", "user.created"}}, {"event_type": "user.created"}, True),
    ({"event_types": {"invoice.paid"}}, {"event_type": "invoice.failed"}, False),
    ({"event_types": {"invoice.paid"}}, {"event_type": "Invoice.Paid"}, False),  # exact, case-sensitive
    ({"event_types": {"invoice"}}, {"event_type": "invoice.paid"}, False),  # no prefix matching
    # channels (Svix): endpoint without channels hears everything ...
    ({"channels": None}, {"channels": ("a", "b")}, True),
    ({"channels": set()}, {"channels": ("a",)}, True),
    ({"channels": set()}, {}, True),
    # ... an endpoint with channels needs an overlap, and a channel-less message has none
    ({"channels": {"a"}}, {"channels": ("a",)}, True),
    ({"channels": {"a", "b"}}, {"channels": ("b", "c")}, True),
    ({"channels": {"a"}}, {"channels": ("b", "c")}, False),
    ({"channels": {"a"}}, {}, False),
    # event types and channels must both pass
    ({"event_types": {"invoice.paid"}, "channels": {"a"}}, {"channels": ("a",)}, True),
    ({"event_types": {"invoice.paid"}, "channels": {"a"}}, {"channels": ("b",)}, False),
    ({"event_types": {"user.created"}, "channels": {"a"}}, {"channels": ("a",)}, False),
    # payload filter on top
    ({"payload_filter": {"data": {"status": "paid"}}}, {}, True),
    ({"payload_filter": {"data": {"status": "refunded"}}}, {}, False),
    ({"payload_filter": {}}, {}, True),  # {} removes the filter, as in Outpost
    ({"payload_filter": None}, {}, True),
    ({"payload_filter": {"data": {"amount": {"$gte": 100}}}, "event_types": {"invoice.paid"}}, {}, True),
    ({"payload_filter": {"data": {"amount": {"$gte": 100}}}, "event_types": {"user.created"}}, {}, False),
    ({"payload_filter": {"data": {"amount": {"$gte": 100}}}, "disabled": True}, {}, False),
    ({"payload_filter": {"topic": "invoice.paid"}}, {}, True),
    ({"payload_filter": {"topic": {"$startsWith": "user."}}}, {}, False),
    ({"payload_filter": {"metadata": {"source": "api"}}}, {"metadata": {"source": "api"}}, True),
    ({"payload_filter": {"metadata": {"source": "api"}}}, {"metadata": {"source": "kafka"}}, False),
    ({"payload_filter": {"metadata": {"source": {"$exist": False}}}}, {}, True),
    ({"payload_filter": {"id": "order-42"}}, {"event_id": "order-42"}, True),
    ({"payload_filter": {"id": str(MSG_ID)}}, {}, True),
    ({"payload_filter": {"time": {"$gte": "2025-01-15T00:00:00Z", "$lt": "2025-01-16T00:00:00Z"}}}, {}, True),
    ({"payload_filter": {"time": {"$lt": "2025-01-15T10:00:00Z"}}}, {}, False),
    # a JSON payload that is not an object is still the data
    ({"payload_filter": {"data": "just text"}}, {"payload": "just text"}, True),
    ({"payload_filter": {"data": {}}}, {"payload": "just text"}, False),
    ({"payload_filter": {"data": 3}}, {"payload": [1, 2, 3]}, True),
    ({"payload_filter": {"data": {"status": {"$exist": False}}}}, {"payload": []}, False),
]


@pytest.mark.parametrize(("fields", "msg_kwargs", "expected"), ROUTING)
def test_routing(fields: dict[str, Any], msg_kwargs: dict[str, Any], expected: bool) -> None:
    assert reaches(message(**msg_kwargs), endpoint(**fields)) is expected


def test_match_endpoints_keeps_input_order_and_drops_the_rest() -> None:
    a = endpoint(event_types={"invoice.paid"})
    b = endpoint(disabled=True)
    c = endpoint(channels={"x"})
    d = endpoint()
    e = endpoint(payload_filter={"data": {"amount": {"$lt": 100}}})
    f = endpoint(channels={"eu", "x"}, payload_filter={"data": {"status": "paid"}})
    msg = message(channels=("eu",))
    assert match_endpoints(msg, [f, e, d, c, b, a]) == [f, d, a]
    assert match_endpoints(msg, iter([a, d])) == [a, d]
    assert match_endpoints(msg, []) == []


def test_payload_is_parsed_only_when_a_filter_needs_it() -> None:
    broken = MessageFacts(msg_id=MSG_ID, event_type="x", payload=b"\xff not json")
    plain = endpoint()
    filtered = endpoint(payload_filter={"data": {"a": {"$exist": False}}})
    assert match_endpoints(broken, [plain, filtered]) == [plain, filtered]


def test_filter_input_is_shaped_like_an_outpost_event() -> None:
    msg = message(payload={"x": [1, 2]}, event_id="order-42", metadata={"source": "api"})
    assert filter_input(msg) == {
        "id": "order-42",
        "topic": "invoice.paid",
        "time": "2025-01-15T10:00:00Z",
        "metadata": {"source": "api"},
        "data": {"x": [1, 2]},
    }


def test_filter_input_falls_back_to_the_message_id_and_empty_data() -> None:
    msg = MessageFacts(msg_id=MSG_ID, event_type="x", payload=b"{oops")
    doc = filter_input(msg)
    assert doc["id"] == str(MSG_ID)
    assert doc["data"] == {}
    assert doc["metadata"] == {}
    assert doc["time"] == "1970-01-01T00:00:00Z"


def test_filter_input_survives_absurdly_nested_payloads() -> None:
    msg = MessageFacts(msg_id=MSG_ID, event_type="x", payload=b"[" * 100_000)
    assert filter_input(msg)["data"] == {}


def test_rules_freeze_their_collections() -> None:
    rule = EndpointRule(endpoint_id=MSG_ID, event_types=["a", "b", "a"], channels=("c",))  # type: ignore[arg-type]
    assert rule.event_types == frozenset({"a", "b"})
    assert rule.channels == frozenset({"c"})
    facts = MessageFacts(msg_id=MSG_ID, event_type="a", channels=["c"])  # type: ignore[arg-type]
    assert facts.channels == frozenset({"c"})
    with pytest.raises(AttributeError):
        rule.disabled = True  # type: ignore[misc]


@pytest.mark.parametrize(
    "build",
    [
        lambda: EndpointRule(endpoint_id=MSG_ID, event_types="invoice.paid"),  # type: ignore[arg-type]
        lambda: EndpointRule(endpoint_id=MSG_ID, channels="eu"),  # type: ignore[arg-type]
        lambda: MessageFacts(msg_id=MSG_ID, event_type="a", channels="eu"),  # type: ignore[arg-type]
    ],
)
def test_a_bare_string_is_not_a_set_of_names(build: Any) -> None:
    with pytest.raises(TypeError, match="not a single string"):
        build()


def test_matching_reexports_the_filter_api() -> None:
    assert matching.validate_filter is not None
    assert issubclass(matching.InvalidFilter, ValueError)
    with pytest.raises(matching.InvalidFilter, match=r"\$\.data\.a\.\$bad"):
        matching.validate_filter({"data": {"a": {"$bad": 1}}})
