"""Endpoint health and operational events: the failing run, the disable, recovery, and the Svix-shaped records."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from hookstream.domain.directory import Endpoint, SealedSecret, endpoint_from_record, endpoint_record
from hookstream.domain.health import DisableRule, EndpointHealth, fold_health
from hookstream.domain.operational import (
    OPERATIONAL_APP_ID,
    endpoint_disabled_event,
    message_event,
    relay_message,
    relayed,
)
from hookstream.domain.status import AttemptFacts, Signal, to_us
from hookstream.log.codec import AvroCodec

T0 = to_us(datetime(2025, 12, 6, 12, 0, 0, tzinfo=UTC))
S = 1_000_000
DAY = 86_400 * S
WINDOW = 5 * DAY
HOUR = 3600 * S
ANY_SPAN = DisableRule(WINDOW)  # the window alone, without Svix's 12 h / 24 h condition
SVIX = DisableRule(WINDOW, 12 * HOUR, 24 * HOUR)
APP = "01959a3c-8f1e-7b2a-9c4d-5e6f7a8b9c0d"
EP = "01959a3c-9a00-7c11-8d22-33445566778a"
MSG = "01959a3d-0000-7abc-8def-0123456789ab"


def attempt(ok: bool, at_us: int, n: int = 0) -> AttemptFacts:
    return AttemptFacts(
        attempt_id=f"01959a3d-0001-7abc-8def-{n:012d}" if n else f"attempt-at-{at_us}", app_id=APP, msg_id=MSG,
        endpoint_id=EP, attempt_number=n,
        manual=False, success=ok, response_status=200 if ok else 500, started_us=at_us, finished_us=at_us + 1000,
        next_attempt_us=None, event_id="inv-1",
    )  # fmt: skip


def fold(*attempts: AttemptFacts, rule: DisableRule = ANY_SPAN) -> tuple[EndpointHealth, list[bool]]:
    health: EndpointHealth | None = None
    disables = []
    for facts in attempts:
        step = fold_health(health, facts, rule)
        health = step.health
        disables.append(step.disable)
    assert health is not None
    return health, disables


def test_only_failures_for_the_window_disable_once() -> None:
    hours = [0, 24, 48, 96, 119, 120, 120]  # two attempts at hour 120: the second one is in flight
    health, disables = fold(*(attempt(False, T0 + h * 3600 * S - (n == 6), n + 1) for n, h in enumerate(hours)))
    assert disables == [False] * 5 + [True, False], "disabled on the first failure 5 days into the run"
    assert (health.consecutive_failures, health.failing_since_us) == (7, T0)
    assert health.disabled_at_us == T0 + 120 * 3600 * S + 1000


def test_svix_clock_starts_only_after_failures_12_to_24_hours_apart() -> None:
    hours = [0, 24, 48, 96, 119, 120, 120]
    health, disables = fold(*(attempt(False, T0 + h * HOUR - (n == 6), n + 1) for n, h in enumerate(hours)), rule=SVIX)
    assert disables == [False] * 5 + [True, False], "0 h and 24 h are 24 h apart: the clock runs from hour 0"
    assert health.clock_since_us == T0 and health.failure_times == ()


def test_svix_clock_ignores_bursts_and_sparse_failures() -> None:
    burst = [attempt(False, T0 + m * 60 * S, m + 1) for m in range(0, 600, 10)]  # 10 h of failures every 10 min
    health, disables = fold(*burst, rule=SVIX)
    assert not any(disables) and health.clock_since_us is None, "spread under 12 h: no clock"
    assert len(health.failure_times) <= 25, "one time per hour bucket, however many failures"
    sparse = [attempt(False, T0 + d * DAY, d + 1) for d in range(0, 8, 2)]  # one failure every 2 days
    health, disables = fold(*sparse, rule=SVIX)
    assert not any(disables) and health.clock_since_us is None, "never two failures within 24 h"
    assert health.consecutive_failures == 4 and health.failing_since_us == T0


def test_svix_clock_counts_from_the_earlier_failure_of_the_first_qualifying_pair() -> None:
    facts = [attempt(False, T0, 1), attempt(False, T0 + 3 * DAY, 2), attempt(False, T0 + 3 * DAY + 13 * HOUR, 3),
             attempt(False, T0 + 7 * DAY, 4), attempt(False, T0 + 8 * DAY, 5)]  # fmt: skip
    health, disables = fold(*facts, rule=SVIX)
    assert health.failing_since_us == T0, "the run began at the first failure (the event's failSince)"
    assert disables == [False, False, False, False, True], "5 days from day 3, not from day 0"
    assert health.clock_since_us == T0 + 3 * DAY
    health, _ = fold(*facts[:3], attempt(True, T0 + 4 * DAY), rule=SVIX)
    assert (health.clock_since_us, health.failure_times, health.failing_since_us) == (None, (), None)
    assert EndpointHealth.from_json(json.loads(json.dumps(health.as_json()))) == health


def test_a_success_ends_the_run() -> None:
    health, disables = fold(attempt(False, T0), attempt(True, T0 + 3 * DAY), attempt(False, T0 + 4 * DAY),
                            attempt(False, T0 + 8 * DAY))  # fmt: skip
    assert not any(disables), "the run started on day 4, not day 0"
    assert (health.failing_since_us, health.consecutive_failures) == (T0 + 4 * DAY, 2)


def test_out_of_order_attempts_from_other_partitions() -> None:
    health, _ = fold(attempt(True, T0 + 2 * S), attempt(False, T0 + 1 * S))
    assert health.failing_since_us is None, "a failure older than the last success ends no run"
    health, _ = fold(attempt(False, T0 + 2 * S), attempt(False, T0 + 1 * S), attempt(True, T0 + 0 * S))
    assert (health.failing_since_us, health.consecutive_failures) == (T0 + 1 * S, 2)


def test_failing_again_after_being_enabled_starts_a_new_run() -> None:
    health, disables = fold(attempt(False, T0), attempt(False, T0 + 5 * DAY), attempt(False, T0 + 6 * DAY))
    assert disables == [False, True, False]
    assert (health.failing_since_us, health.consecutive_failures, health.disabled_at_us) == (T0 + 6 * DAY, 1, None)
    assert EndpointHealth.from_json(json.loads(json.dumps(health.as_json()))) == health


def test_a_repeated_attempt_is_not_counted_twice_and_a_repeated_disable_is_asked_again() -> None:
    first, second = attempt(False, T0, 1), attempt(False, T0 + WINDOW, 2)
    health, disables = fold(first, first, second, second, first)
    assert disables == [False, False, True, True, False]
    assert health.consecutive_failures == 2 and health.disabled_by == second.attempt_id


def test_operational_events_are_svix_shaped_and_derived_from_their_cause() -> None:
    codec = AvroCodec()
    facts = attempt(False, T0, n=4)
    event = message_event(Signal.EXHAUSTED, facts)
    assert event == message_event(Signal.EXHAUSTED, facts), "the same cause, the same event id"
    assert event["event_id"] != message_event(Signal.FAILING, facts)["event_id"]
    body = json.loads(event["payload"])
    assert body["type"] == "message.attempt.exhausted"
    assert body["data"]["msgId"].startswith("msg_") and body["data"]["endpointId"].startswith("ep_")
    assert body["data"]["msgEventId"] == "inv-1"
    assert body["data"]["lastAttempt"] == {"id": body["data"]["lastAttempt"]["id"], "timestamp":
                                           "2025-12-06T12:00:00.000Z", "responseStatusCode": 500}  # fmt: skip
    assert codec.decode(codec.encode("OperationalEvent", event))[1] == event
    disabled = endpoint_disabled_event(facts, T0 - DAY, app_uid="acme", endpoint_uid=None)
    body = json.loads(disabled["payload"])
    assert (body["type"], body["data"]["failSince"], body["data"]["trigger"]) == (
        "endpoint.disabled", "2025-12-05T12:00:00.000Z", "automatic",
    )  # fmt: skip
    assert disabled["msg_id"] is None and codec.decode(codec.encode("OperationalEvent", disabled))[1] == disabled


def test_an_endpoint_written_back_from_the_view_round_trips() -> None:
    sealed = SealedSecret(b"\x01sealed", "k1", datetime(2025, 1, 1, tzinfo=UTC))
    endpoint = Endpoint(
        uuid.UUID(EP), uuid.UUID(APP), "https://a.example/hook", 3, "desc", False, frozenset({"b", "a"}),
        frozenset({"eu"}), {"x": 1}, {"X-Tenant": "acme"}, (sealed,), 10, "uid-1", {"k": "v"},
        datetime(2025, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    updated = datetime(2025, 6, 1, tzinfo=UTC)
    record = endpoint_record(endpoint, updated_at=updated, disabled=True, version=4)
    AvroCodec().encode("EndpointUpserted", record)
    assert record["filter_types"] == ["a", "b"] and record["updated_at"] == updated
    back = endpoint_from_record(record)
    assert back == Endpoint(**{**{f: getattr(endpoint, f) for f in endpoint.__slots__}, "disabled": True,
                               "version": 4, "updated_at": updated})  # fmt: skip


def test_operational_events_relay_as_messages_of_the_reserved_application_with_derived_ids() -> None:
    codec = AvroCodec()
    event = message_event(Signal.EXHAUSTED, attempt(False, T0, n=4))
    message = relay_message(event)
    assert message == relay_message(dict(event)), "a replayed event is the same message"
    assert message["msg_id"] != event["event_id"] and message["event_id"] == event["event_id"]
    assert (message["app_id"], message["event_type"], message["payload"]) == (
        str(OPERATIONAL_APP_ID), "message.attempt.exhausted", event["payload"],
    )  # fmt: skip
    assert relay_message(message_event(Signal.FAILING, attempt(False, T0, n=4)))["msg_id"] != message["msg_id"]
    codec.encode("MessageAccepted", message)
    assert relayed(event)
    assert not relayed({**event, "app_id": str(OPERATIONAL_APP_ID)}), "no events about the operators' endpoints"
