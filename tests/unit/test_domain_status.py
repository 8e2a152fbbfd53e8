"""The status fold: pair and message status, counts and versions, signals, duplicates, late and manual attempts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hookstream.domain.status import (
    AttemptFacts,
    DeliveryStatus,
    MessageState,
    Signal,
    SkipFacts,
    fold_attempt,
    fold_skip,
    from_us,
    message_record,
    pair_record,
    skip_record,
    to_us,
)
from hookstream.log.codec import AvroCodec

T0 = to_us(datetime(2025, 12, 6, 12, 0, 0, tzinfo=UTC))
S = 1_000_000
MSG = "01959a3d-0000-7abc-8def-0123456789ab"
APP = "01959a3c-8f1e-7b2a-9c4d-5e6f7a8b9c0d"
EP_A = "01959a3c-9a00-7c11-8d22-33445566778a"
EP_B = "01959a3c-9a00-7c11-8d22-33445566778b"


def attempt(
    number: int, ok: bool, at_s: float, *, endpoint: str = EP_A, next_s: float | None = None, manual: bool = False
) -> AttemptFacts:
    started = T0 + int(at_s * S)
    return AttemptFacts(
        attempt_id=f"{endpoint[-4:]}-{number}-{'m' if manual else 's'}-{at_s}", app_id=APP, msg_id=MSG,
        endpoint_id=endpoint, attempt_number=number, manual=manual, success=ok, response_status=200 if ok else 500,
        started_us=started, finished_us=started + 1000,
        next_attempt_us=None if next_s is None else T0 + int(next_s * S),
        event_type="invoice.paid", event_id="inv-1", channels=("eu",),
    )  # fmt: skip


def fold_all(*attempts: AttemptFacts, failing_after: int = 4) -> tuple[MessageState, list[Signal]]:
    state: MessageState | None = None
    signals: list[Signal] = []
    for facts in attempts:
        folded = fold_attempt(state, facts, failing_after)
        state = folded.message
        signals += folded.signals
    assert state is not None
    return state, signals


def test_fail_fail_succeed() -> None:
    state, signals = fold_all(attempt(1, False, 0, next_s=1), attempt(2, False, 1, next_s=3), attempt(3, True, 3),
                              failing_after=2)  # fmt: skip
    pair = state.pairs[EP_A]
    assert (pair.status, pair.version, pair.next_attempt_us, pair.last_response_status) == (
        DeliveryStatus.SUCCESS, 3, None, 200,
    )  # fmt: skip
    assert signals == [Signal.FAILING, Signal.RECOVERED]
    assert state.status is DeliveryStatus.SUCCESS


def test_a_pending_retry_is_sending_with_its_time_and_exhaustion_is_fail() -> None:
    state, signals = fold_all(attempt(1, False, 0, next_s=5))
    assert (state.pairs[EP_A].status, state.pairs[EP_A].next_attempt_us) == (DeliveryStatus.SENDING, T0 + 5 * S)
    state, signals = fold_all(attempt(1, False, 0, next_s=5), attempt(2, False, 5))
    assert (state.pairs[EP_A].status, state.pairs[EP_A].next_attempt_us) == (DeliveryStatus.FAIL, None)
    assert signals == [Signal.EXHAUSTED]


def test_a_repeated_attempt_changes_nothing() -> None:
    first = attempt(1, False, 0, next_s=5)
    state, _ = fold_all(first)
    again = fold_attempt(state, first, 4)
    assert not again.changed and again.message == state and again.signals == ()


def test_a_repeat_of_the_attempt_that_raised_signals_raises_them_again() -> None:
    state, _ = fold_all(attempt(1, False, 0, next_s=1), attempt(2, False, 1, next_s=3), failing_after=2)
    again = fold_attempt(state, attempt(2, False, 1, next_s=3), 2)
    assert not again.changed and again.signals == (Signal.FAILING,), "made up for, in case the first send was lost"
    assert fold_attempt(state, attempt(1, False, 0, next_s=1), 2).signals == ()


def test_a_late_older_attempt_does_not_overwrite_the_newer_one() -> None:
    state, _ = fold_all(attempt(2, True, 5), attempt(1, False, 0, next_s=5))
    pair = state.pairs[EP_A]
    assert (pair.status, pair.version, pair.last_started_us) == (DeliveryStatus.SUCCESS, 2, T0 + 5 * S)


def test_manual_attempts_neither_retry_nor_cancel_a_pending_retry() -> None:
    state, _ = fold_all(attempt(1, False, 0, next_s=60), attempt(1, False, 10, manual=True))
    assert (state.pairs[EP_A].status, state.pairs[EP_A].next_attempt_us) == (DeliveryStatus.SENDING, T0 + 60 * S)
    state, signals = fold_all(attempt(1, False, 0, next_s=5), attempt(2, False, 5), attempt(1, True, 20, manual=True))
    assert state.pairs[EP_A].status is DeliveryStatus.SUCCESS, "a resend after exhaustion succeeds"
    assert signals == [Signal.EXHAUSTED, Signal.RECOVERED]
    state, _ = fold_all(attempt(1, True, 0), attempt(1, False, 9, manual=True))
    assert state.pairs[EP_A].status is DeliveryStatus.FAIL, "a failed resend is final: manual is not retried"


def test_failing_is_sent_once_per_run_of_failures() -> None:
    runs = [attempt(n, False, n, next_s=n + 1) for n in range(1, 6)]
    _, signals = fold_all(*runs, failing_after=2)
    assert signals == [Signal.FAILING]


def test_message_aggregate_across_endpoints() -> None:
    state, _ = fold_all(attempt(1, True, 0), attempt(1, False, 0, endpoint=EP_B, next_s=5))
    record = message_record(state)
    assert (record["status"], record["endpoint_count"], record["succeeded_endpoints"]) == ("sending", 2, 1)
    assert record["next_attempt_at"] == from_us(T0 + 5 * S) and record["version"] == 2
    state, _ = fold_all(attempt(1, True, 0), attempt(1, False, 0, endpoint=EP_B, next_s=5),
                        attempt(2, False, 5, endpoint=EP_B))  # fmt: skip
    record = message_record(state)
    assert (record["status"], record["failed_endpoints"], record["attempt_count"]) == ("fail", 1, 3)
    assert record["last_attempt_at"] == from_us(T0 + 5 * S) and record["next_attempt_at"] is None


def test_records_follow_the_contracts_and_the_state_survives_json() -> None:
    state, _ = fold_all(attempt(1, False, 0, next_s=5), attempt(1, True, 0, endpoint=EP_B))
    codec = AvroCodec()
    pair = pair_record(state, state.pairs[EP_A])
    assert codec.decode(codec.encode("MessageEndpointStatus", pair))[1] == pair
    assert (pair["status"], pair["attempt_count"], pair["event_id"], pair["channels"]) == (
        "sending",
        1,
        "inv-1",
        ["eu"],
    )
    summary = message_record(state)
    assert codec.decode(codec.encode("MessageStatus", summary))[1] == summary
    assert MessageState.from_json(json.loads(json.dumps(state.as_json()))) == state


@pytest.mark.parametrize("seed", range(5))
def test_replaying_the_same_attempts_in_the_same_order_gives_the_same_records(seed: int) -> None:
    attempts = [attempt(1, False, 0, next_s=1), attempt(1, False, 0, endpoint=EP_B, next_s=2),
                attempt(2, False, 1, next_s=3), attempt(2, True, 2, endpoint=EP_B), attempt(3, True, 3)]  # fmt: skip
    attempts = attempts[seed:] + attempts[:seed]  # any order the log happened to have
    live, _ = fold_all(*attempts, attempts[0])
    rebuilt, _ = fold_all(*attempts)
    assert live == rebuilt
    assert [pair_record(live, p) for p in live.pairs.values()] == [
        pair_record(rebuilt, p) for p in rebuilt.pairs.values()
    ]
    assert message_record(live) == message_record(rebuilt)


def test_facts_read_from_an_attempt_record() -> None:
    from tests.support import builders

    message = builders.message(APP, event_id="e-9", channels=["eu"])
    record = builders.attempt(message, EP_A, attempt_number=2, status=503) | {"next_attempt_at": from_us(T0)}
    facts = AttemptFacts.of(record)
    assert (facts.attempt_number, facts.success, facts.response_status, facts.manual) == (2, False, 503, False)
    assert (facts.next_attempt_us, facts.event_id, facts.channels) == (T0, "e-9", ("eu",))
    assert replace(facts, next_attempt_us=None) == AttemptFacts.of(record | {"next_attempt_at": None})


def skip(number: int, at_s: float, *, manual: bool = False, endpoint: str = EP_A) -> SkipFacts:
    record = skip_record(
        {"msg_id": MSG, "app_id": APP, "endpoint_id": endpoint, "event_type": "invoice.paid", "event_id": "inv-1",
         "channels": ["eu"], "attempt_number": number, "trigger": "manual" if manual else "scheduled",
         "trigger_seq": 1 if manual else 0, "due_at": from_us(T0)},
        f"skip-{endpoint[-4:]}-{number}-{manual}", "endpoint_disabled", from_us(T0 + int(at_s * S)),
    )  # fmt: skip
    AvroCodec().encode("DeliverySkipped", record)
    return SkipFacts.of(record)


def test_a_skipped_retry_makes_a_sending_pair_fail_once() -> None:
    state, _ = fold_all(attempt(1, False, 0, next_s=5))
    assert state.pairs[EP_A].status is DeliveryStatus.SENDING
    folded = fold_skip(state, skip(2, 5))
    pair = folded.pair
    assert (pair.status, pair.next_attempt_us, len(pair.attempts), pair.version) == (DeliveryStatus.FAIL, None, 1, 2)
    assert folded.signals == () and folded.changed
    assert pair_record(folded.message, pair)["next_attempt_at"] is None
    assert message_record(folded.message)["status"] == "fail"
    again = fold_skip(folded.message, skip(2, 5))
    assert not again.changed and again.message == folded.message, "a repeated skip changes nothing"


def test_a_skipped_first_delivery_is_a_failed_pair_without_attempts() -> None:
    folded = fold_skip(None, skip(1, 0))
    record = pair_record(folded.message, folded.pair)
    assert (record["status"], record["attempt_count"], record["version"], record["last_attempt_id"]) == (
        "fail", 0, 1, None,
    )  # fmt: skip
    assert message_record(folded.message)["attempt_count"] == 0


def test_a_skipped_manual_attempt_leaves_a_pending_retry_alone() -> None:
    state, _ = fold_all(attempt(1, False, 0, next_s=5))
    folded = fold_skip(state, skip(1, 1, manual=True))
    assert folded.pair.status is DeliveryStatus.SENDING and folded.pair.next_attempt_us == T0 + 5 * S
    state, _ = fold_all(attempt(1, True, 0))
    assert fold_skip(state, skip(1, 1, manual=True)).pair.status is DeliveryStatus.SUCCESS
    state = MessageState.from_json(json.loads(json.dumps(folded.message.as_json())))
    assert state == folded.message, "skips survive the table's JSON"
