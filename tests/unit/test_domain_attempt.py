"""The AttemptFinished record built from a task, an exchange and a verdict, checked against the Avro contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hookstream.domain.attempt import AttemptTimes, Exchange, attempt_record
from hookstream.domain.classify import TransportError, classify
from hookstream.domain.ids import attempt_id, new_id
from hookstream.domain.retry import RetryPolicy
from hookstream.log.codec import AvroCodec

T0 = datetime(2025, 12, 6, 12, 0, 0, tzinfo=UTC)
MSG = new_id(1_765_022_400_000, bytes(range(10)))
ENDPOINT = new_id(1_765_022_400_001, bytes(range(10, 20)))
APP = new_id(1_765_022_300_000, bytes(range(20, 30)))


def _task(**changes: Any) -> dict[str, Any]:
    task = {
        "msg_id": str(MSG),
        "app_id": str(APP),
        "endpoint_id": str(ENDPOINT),
        "attempt_number": 1,
        "trigger": "scheduled",
        "trigger_seq": 0,
        "due_at": T0,
        "enqueued_at": T0,
        "event_type": "invoice.paid",
        "event_id": "evt-1",
        "channels": ["eu", "billing"],
        "payload": b'{"ok":true}',
        "accepted_at": T0,
    }
    return task | changes


TIMES = AttemptTimes(T0 + timedelta(milliseconds=2), T0 + timedelta(milliseconds=5), T0 + timedelta(milliseconds=47))
SENT = {"webhook-id": "msg_x", "content-type": "application/json"}


def _record(exchange: Exchange, task: dict[str, Any] | None = None) -> dict[str, Any]:
    return attempt_record(
        task or _task(),
        url="https://hooks.example.com/in",
        exchange=exchange,
        verdict=classify(exchange.outcome()),
        request_headers=SENT,
        times=TIMES,
        worker_id="w1",
    )


def test_success_record_field_by_field_and_round_trips_through_avro() -> None:
    exchange = Exchange(
        status=200, reason="OK", headers={"Content-Type": "text/plain"}, body=b"ok", body_size=2,
        content_type="text/plain", resolved_ip="203.0.113.9", conn_reused=False, dns_us=120, connect_us=800,
        tls_us=2500, ttfb_us=30_000, transfer_us=40, total_us=42_000, connected=True,
    )  # fmt: skip
    record = _record(exchange)
    assert record == {
        "attempt_id": str(attempt_id(MSG, ENDPOINT, 1, 0)),
        "app_id": str(APP),
        "msg_id": str(MSG),
        "endpoint_id": str(ENDPOINT),
        "event_type": "invoice.paid",
        "event_id": "evt-1",
        "channels": ["eu", "billing"],
        "attempt_number": 1,
        "trigger": "scheduled",
        "trigger_seq": 0,
        "url": "https://hooks.example.com/in",
        "status": "success",
        "response_status": 200,
        "status_code_class": 200,
        "error_class": None,
        "error_text": None,
        "request_headers": SENT,
        "response_headers": {"Content-Type": "text/plain"},
        "response_body": b"ok",
        "response_body_size": 2,
        "response_body_truncated": False,
        "response_content_type": "text/plain",
        "resolved_ip": "203.0.113.9",
        "conn_reused": False,
        "dns_us": 120,
        "tcp_connect_us": 800,
        "tls_handshake_us": 2500,
        "ttfb_us": 30_000,
        "transfer_us": 40,
        "total_us": 42_000,
        "processing_us": 45_000,
        "retry_type": None,
        "retry_after_seconds": None,
        "next_attempt_at": None,
        "payload": None,
        "accepted_at": None,
        "due_at": T0,
        "started_at": TIMES.started,
        "finished_at": TIMES.finished,
        "worker_id": "w1",
    }
    codec = AvroCodec()
    name, decoded = codec.decode(codec.encode("AttemptFinished", record))
    assert name == "AttemptFinished"
    assert decoded == record


def test_http_failure_keeps_status_and_body() -> None:
    record = _record(Exchange(status=503, reason="Service Unavailable", body=b"busy", body_size=4, total_us=9))
    assert record["status"] == "failed"
    assert (record["response_status"], record["status_code_class"]) == (503, 500)
    assert record["error_class"] == "http_status"
    assert record["error_text"] == "HTTP 503 Service Unavailable"
    assert record["response_body"] == b"busy"


def test_transport_failure_has_no_response() -> None:
    exchange = Exchange(error=TransportError.SSRF_BLOCKED, error_detail="10.0.0.5 refused", total_us=80)
    record = _record(exchange)
    assert record["status"] == "failed"
    assert (record["response_status"], record["status_code_class"]) == (0, 0)
    assert record["error_class"] == "ssrf_blocked"
    assert record["error_text"] == "destination address not allowed: 10.0.0.5 refused"
    assert record["response_body"] is None
    assert record["response_headers"] == {}
    AvroCodec().encode("AttemptFinished", record)


def test_timeout_after_a_2xx_status_is_still_a_delivery() -> None:
    exchange = Exchange(status=200, body=b"", error=TransportError.TIMEOUT, connected=True, total_us=15_000_000)
    record = _record(exchange)
    assert record["status"] == "success"
    assert record["error_class"] is None


def test_truncated_body_is_flagged_with_the_size_read() -> None:
    record = _record(Exchange(status=200, body=b"x" * 16, body_size=4096, truncated=True))
    assert record["response_body"] == b"x" * 16
    assert record["response_body_size"] == 4096
    assert record["response_body_truncated"] is True


def test_attempt_id_is_deterministic_per_attempt_and_manual_trigger() -> None:
    first = _record(Exchange(status=200))["attempt_id"]
    assert _record(Exchange(status=500))["attempt_id"] == first  # a replay of the same task: same id
    assert _record(Exchange(status=200), _task(attempt_number=2))["attempt_id"] != first
    manual = _record(Exchange(status=200), _task(trigger="manual", trigger_seq=1))
    assert manual["attempt_id"] == str(attempt_id(MSG, ENDPOINT, 1, 1)) != first
    assert manual["trigger"] == "manual"


def test_clock_stepping_back_does_not_break_the_record() -> None:
    times = AttemptTimes(T0, T0 - timedelta(seconds=1), T0 - timedelta(seconds=2))
    record = attempt_record(
        _task(), url="u", exchange=Exchange(status=200), verdict=classify(Exchange(status=200).outcome()),
        request_headers={}, times=times,
    )  # fmt: skip
    assert record["processing_us"] == 0
    assert record["worker_id"] is None


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        AttemptTimes(datetime(2025, 1, 1), T0, T0)


def test_exchange_outcome_feeds_classify() -> None:
    outcome = Exchange(error=TransportError.TIMEOUT, error_detail="15 s", connected=True).outcome()
    assert classify(outcome).error_text == "response timeout: 15 s"
    assert uuid.UUID(_record(Exchange(status=204))["attempt_id"]).version == 7


POLICY = RetryPolicy.parse("0s,5s,5m", 0.2, "5s", "10h")


def _decided(exchange: Exchange, task: dict[str, Any] | None = None) -> dict[str, Any]:
    return attempt_record(
        task or _task(), url="u", exchange=exchange, verdict=classify(exchange.outcome()), request_headers={},
        times=TIMES, retry_policy=POLICY,
    )  # fmt: skip


def test_the_record_carries_the_retry_decision_and_what_the_next_task_needs() -> None:
    failed = _decided(Exchange(status=500))
    delay = (failed["next_attempt_at"] - TIMES.finished).total_seconds()
    assert failed["retry_type"] == "fast" and 4 <= delay <= 6 and failed["retry_after_seconds"] == round(delay)
    assert (failed["payload"], failed["accepted_at"]) == (b'{"ok":true}', T0)
    assert _decided(Exchange(status=500)) == failed, "a replayed task records the same decision"
    busy = _decided(Exchange(status=503, headers={"retry-after": "120"}))
    assert (busy["retry_type"], busy["retry_after_seconds"]) == ("retry_after", 120)
    assert busy["next_attempt_at"] == TIMES.finished + timedelta(seconds=120)
    codec = AvroCodec()
    assert codec.decode(codec.encode("AttemptFinished", busy))[1] == busy


@pytest.mark.parametrize(
    ("exchange", "task", "retry_type"),
    [
        (Exchange(status=200), {}, None),
        (Exchange(status=500), {"trigger": "manual", "trigger_seq": 1}, "none"),
        (Exchange(status=500), {"attempt_number": 3}, "none"),
    ],
)
def test_no_retry_means_no_next_attempt_and_no_payload(
    exchange: Exchange, task: dict[str, Any], retry_type: str | None
) -> None:
    record = _decided(exchange, _task(**task))
    assert record["retry_type"] == retry_type
    assert record["next_attempt_at"] is record["retry_after_seconds"] is record["payload"] is None
