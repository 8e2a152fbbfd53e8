"""The outcome header says what the decoded record says: the same facts, the same "asks for a retry"."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hookstream.domain.attempt import AttemptTimes, Exchange, attempt_record
from hookstream.domain.classify import TransportError, classify
from hookstream.domain.outcome import (
    ATTEMPT_TAG,
    OUTCOME_HEADER,
    MalformedOutcome,
    facts_of_header,
    outcome_header,
    outcome_headers,
    retry_of_header,
)
from hookstream.domain.retry import RetryPolicy
from hookstream.domain.schedule import delay_tiers, parse_schedule
from hookstream.domain.status import AttemptFacts, SkipFacts, skip_record
from hookstream.domain.tiers import asks_for_retry, next_task
from hookstream.log.codec import AvroCodec
from tests.support import builders

CODEC = AvroCodec()
SCHEDULE = parse_schedule("0s,5s,5m,30m")
NOW = datetime(2025, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
EP = "01959a3c-9a00-7c11-8d22-33445566778a"


def _message(**changes: Any) -> dict[str, Any]:
    return builders.message(builders.application()["app_id"], **changes)


def _failed(**changes: Any) -> dict[str, Any]:
    record = builders.attempt(_message(event_id="e-1", channels=["eu", "billing"]), EP, attempt_number=2, status=500)
    return record | {"next_attempt_at": NOW + timedelta(seconds=5), "payload": b'{"a":1}', "accepted_at": NOW} | changes


ATTEMPTS = {
    "success": lambda: builders.attempt(_message(), EP),
    "failed, retry due": _failed,
    "failed, no next_attempt_at (exhausted)": lambda: _failed(next_attempt_at=None, payload=None, accepted_at=None),
    "manual, failed": lambda: _failed(trigger="manual", trigger_seq=3, next_attempt_at=None),
    "manual, failed, next_attempt_at set anyway": lambda: _failed(trigger="manual", trigger_seq=3),
    "no event_id, no channels": lambda: builders.attempt(_message(event_id=None, channels=[]), EP, status=404),
    "channels and event_id": lambda: builders.attempt(_message(event_id="inv-9", channels=["a", "b", "c"]), EP),
    "no response (status 0)": lambda: _failed(response_status=0, status_code_class=0, error_class="connect"),
    "unicode event type and channel": lambda: _failed(event_type="facture.payée", channels=["é", '"q"']),
}


@pytest.mark.parametrize("make", ATTEMPTS.values(), ids=ATTEMPTS.keys())
def test_an_attempt_header_carries_the_facts_and_the_retry_decision_of_the_decoded_record(make: Any) -> None:
    written = make()
    header = outcome_header("AttemptFinished", written)
    name, decoded = CODEC.decode(CODEC.encode("AttemptFinished", written))
    assert name == "AttemptFinished"
    assert facts_of_header(header) == AttemptFacts.of(decoded) == AttemptFacts.of(written)
    planned = next_task(decoded, SCHEDULE, delay_tiers(SCHEDULE), NOW)
    assert retry_of_header(header) is asks_for_retry(decoded)
    assert retry_of_header(header) is (planned is not None), "every record carries its payload when it asks"


def test_a_retry_without_payload_is_still_decoded() -> None:
    """The header says "retry" by the decision alone: the scheduler decodes, finds no payload, and warns."""
    record = _failed(payload=None)
    assert retry_of_header(outcome_header("AttemptFinished", record))
    assert next_task(record, SCHEDULE, delay_tiers(SCHEDULE), NOW) is None


def _real_attempt(exchange: Exchange, *, trigger: str = "scheduled", number: int = 1) -> dict[str, Any]:
    task = builders.delivery_task(builders.endpoint(str(uuid.uuid4()), "https://r.example/")) | {
        "trigger": trigger, "attempt_number": number,
    }  # fmt: skip
    return attempt_record(
        task, url="https://r.example/", exchange=exchange, verdict=classify(exchange.outcome()),
        request_headers={"webhook-id": "msg_1"}, times=AttemptTimes(NOW, NOW, NOW + timedelta(milliseconds=7)),
        worker_id="w", retry_policy=RetryPolicy.parse("0s,5s,5m", 0.1, "5s", "10h"),
    )  # fmt: skip


REAL = {
    "200": lambda: _real_attempt(Exchange(status=200, body=b"ok", body_size=2, total_us=900)),
    "503, retried": lambda: _real_attempt(Exchange(status=503, total_us=900)),
    "503, last attempt": lambda: _real_attempt(Exchange(status=503), number=3),
    "503, manual": lambda: _real_attempt(Exchange(status=503), trigger="manual"),
    "connect error, no status": lambda: _real_attempt(Exchange(error=TransportError.CONNECT, error_detail="refused")),
    "429 with Retry-After": lambda: _real_attempt(Exchange(status=429, headers={"Retry-After": "30"})),
}


@pytest.mark.parametrize("make", REAL.values(), ids=REAL.keys())
def test_records_the_delivery_worker_writes(make: Any) -> None:
    written = make()
    header = outcome_header("AttemptFinished", written)
    decoded = CODEC.decode(CODEC.encode("AttemptFinished", written))[1]
    assert facts_of_header(header) == AttemptFacts.of(decoded)
    assert retry_of_header(header) is (next_task(decoded, SCHEDULE, delay_tiers(SCHEDULE), NOW) is not None)


@pytest.mark.parametrize(("event_id", "channels", "trigger"), [("e-1", ["eu"], "scheduled"), (None, [], "manual")])
def test_a_skip_header_carries_the_skip_facts_and_never_a_retry(
    event_id: str | None, channels: list[str], trigger: str
) -> None:
    task = builders.delivery_task(builders.endpoint(str(uuid.uuid4()), "https://r.example/"))
    task |= {"event_id": event_id, "channels": channels, "trigger": trigger}
    written = skip_record(task, str(uuid.uuid4()), "endpoint_disabled", NOW)
    header = outcome_header("DeliverySkipped", written)
    decoded = CODEC.decode(CODEC.encode("DeliverySkipped", written))[1]
    assert facts_of_header(header) == SkipFacts.of(decoded) == SkipFacts.of(written)
    assert retry_of_header(header) is False


def test_headers_as_a_producer_takes_them() -> None:
    record = builders.attempt(_message(), EP)
    ((name, value),) = outcome_headers("AttemptFinished", record)
    assert (name, value) == (OUTCOME_HEADER, outcome_header("AttemptFinished", record))
    assert len(value) < 400, "compact: a few hundred bytes beside a ~500-byte value"
    with pytest.raises(ValueError, match="no outcome header"):
        outcome_header("DeadLetter", record)


def _attempt_items() -> list[Any]:
    return json.loads(outcome_header("AttemptFinished", _failed()))


def _with(position: int, value: Any) -> bytes:
    items = _attempt_items()
    items[position] = value
    return json.dumps(items).encode()


MALFORMED = {
    "not JSON": b"{nope",
    "not UTF-8": b"\xff\xfe\x00",
    "empty": b"",
    "an object": b'{"tag": "a1"}',
    "an empty list": b"[]",
    "a later layout": json.dumps(["a2", *_attempt_items()[1:]]).encode(),
    "unknown tag": b'["x", 1, 2]',
    "an item short": json.dumps(_attempt_items()[:-1]).encode(),
    "an item over": json.dumps([*_attempt_items(), 1]).encode(),
    "retry not a bool": _with(1, 1),
    "attempt number a string": _with(6, "2"),
    "success a number": _with(8, 0),
    "next attempt a float": _with(12, 1.5),
    "channels a string": _with(16, "eu"),
    "a channel a number": _with(16, [1]),
    "a skip an item short": json.dumps(["s1", "id", "app", "msg", "ep", 1, False, 5, "t", None]).encode(),
    "a skip with a bad time": json.dumps(["s1", "id", "app", "msg", "ep", 1, False, "5", "t", None, []]).encode(),
}


@pytest.mark.parametrize("value", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_header_is_refused_not_trusted(value: bytes) -> None:
    with pytest.raises(MalformedOutcome):
        facts_of_header(value)


@pytest.mark.parametrize(
    "value", [MALFORMED[k] for k in ("not JSON", "not UTF-8", "empty", "an object", "an empty list", "a later layout",
                                     "unknown tag", "an item short", "retry not a bool", "a skip an item short")],
)  # fmt: skip
def test_a_malformed_header_never_says_no_retry(value: bytes) -> None:
    with pytest.raises(MalformedOutcome):
        retry_of_header(value)


def test_the_layout_is_tagged() -> None:
    assert _attempt_items()[:2] == [ATTEMPT_TAG, True]


def test_the_cases_above_cover_both_answers() -> None:
    for cases in (ATTEMPTS, REAL):
        answers = {retry_of_header(outcome_header("AttemptFinished", make())) for make in cases.values()}
        assert answers == {True, False}
