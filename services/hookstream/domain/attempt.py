"""The attempt record: what one delivery attempt looked like, as the ``AttemptFinished`` event carries it.

The HTTP client measures (an :class:`Exchange`), :func:`classify` judges, and
this module writes both down in the shape of the Avro contract, so the
projector, the scheduler and the status fold all read one record. The retry
decision is written into the same record (:mod:`hookstream.domain.retry`),
so the scheduler follows the record instead of deciding again. Pure: the
timestamps are arguments, and the attempt id (which also seeds the retry
jitter) is derived from the task, so a replayed task yields the same record.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hookstream.domain.classify import AttemptOutcome, Classification, TransportError
from hookstream.domain.ids import attempt_id
from hookstream.domain.retry import AttemptResult, RetryDecision, RetryPolicy, header, next_retry, retry_rng


@dataclass(frozen=True, slots=True)
class Exchange:
    """What the HTTP client saw of one POST, before anyone judged it.

    ``status`` is None when no status line arrived. Durations are microseconds
    and None when the phase did not happen (no DNS lookup for a cached name or
    a reused connection, no TLS for http). ``connected`` says a connection was
    up when an error hit, which tells a connect timeout from a slow receiver.
    ``request_headers`` is what actually went on the wire (None when nothing
    was sent, e.g. the SSRF guard refused the address).
    """

    status: int | None = None
    reason: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    body_size: int = 0
    truncated: bool = False
    content_type: str | None = None
    resolved_ip: str | None = None
    conn_reused: bool = False
    dns_us: int | None = None
    connect_us: int | None = None
    tls_us: int | None = None
    ttfb_us: int | None = None
    transfer_us: int | None = None
    total_us: int = 0
    error: TransportError | None = None
    error_detail: str = ""
    connected: bool = False
    request_headers: Mapping[str, str] | None = None
    phases: tuple[tuple[str, int, int], ...] = ()
    """The phases that happened as ``(name, start, end)`` on the monotonic clock (ns), named as the durations
    above; only when the client was asked for them (a traced attempt draws each as a span)."""

    def outcome(self) -> AttemptOutcome:
        """The input :func:`hookstream.domain.classify.classify` judges."""
        return AttemptOutcome(self.status, self.reason, self.error, self.error_detail, self.connected)


@dataclass(frozen=True, slots=True)
class AttemptTimes:
    """Wall-clock moments of one attempt (timezone-aware UTC), read by the caller.

    ``picked_up``: the worker took the task off the log; ``started``: the
    request began; ``finished``: the response (or the error) was complete and
    the record is being written. Processing time is picked-up to finished.
    Their order is not enforced: a wall clock can step back between two
    reads, and that must not cost an attempt record (processing clamps at 0).
    """

    picked_up: datetime
    started: datetime
    finished: datetime

    def __post_init__(self) -> None:
        for name in ("picked_up", "started", "finished"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware")


def attempt_record(
    task: Mapping[str, Any],
    *,
    url: str,
    exchange: Exchange,
    verdict: Classification,
    request_headers: Mapping[str, str],
    times: AttemptTimes,
    worker_id: str | None = None,
    retry_policy: RetryPolicy | None = None,
) -> dict[str, Any]:
    """The ``AttemptFinished`` record of one attempt at ``task`` (a decoded ``DeliveryTask``).

    With ``retry_policy`` the record carries the retry decision, and, when a
    retry is scheduled, the message's payload and acceptance time, so the
    scheduler can write the next task from this record alone. Without it the
    retry fields stay None.
    """
    msg_id = uuid.UUID(task["msg_id"])
    endpoint_id = uuid.UUID(task["endpoint_id"])
    trigger_seq = task.get("trigger_seq", 0)
    answered = exchange.status is not None
    this_attempt = attempt_id(msg_id, endpoint_id, task["attempt_number"], trigger_seq)
    decision = RetryDecision(None)
    if retry_policy is not None:
        result = AttemptResult(
            task["attempt_number"], task["trigger"] == "manual", verdict.success, exchange.status,
            header(exchange.headers, "Retry-After"), task.get("eligible_for_retry", True),
        )  # fmt: skip
        decision = next_retry(retry_policy, result, times.finished, retry_rng(this_attempt))
    next_at = decision.next_attempt_at(times.finished)
    return {
        "attempt_id": str(this_attempt),
        "app_id": task["app_id"],
        "msg_id": task["msg_id"],
        "endpoint_id": task["endpoint_id"],
        "event_type": task["event_type"],
        "event_id": task.get("event_id"),
        "channels": list(task.get("channels") or ()),
        "attempt_number": task["attempt_number"],
        "trigger": task["trigger"],
        "trigger_seq": trigger_seq,
        "url": url,
        "status": "success" if verdict.success else "failed",
        "response_status": exchange.status if exchange.status is not None else 0,
        "status_code_class": int(verdict.status_code_class),
        "error_class": verdict.error_class.value if verdict.error_class is not None else None,
        "error_text": verdict.error_text,
        "request_headers": dict(request_headers),
        "response_headers": dict(exchange.headers),
        "response_body": exchange.body if answered else None,
        "response_body_size": exchange.body_size,
        "response_body_truncated": exchange.truncated,
        "response_content_type": exchange.content_type,
        "resolved_ip": exchange.resolved_ip,
        "conn_reused": exchange.conn_reused,
        "dns_us": exchange.dns_us,
        "tcp_connect_us": exchange.connect_us,
        "tls_handshake_us": exchange.tls_us,
        "ttfb_us": exchange.ttfb_us,
        "transfer_us": exchange.transfer_us,
        "total_us": exchange.total_us,
        "processing_us": max(0, _micros(times.finished - times.picked_up)),
        "retry_type": decision.retry_type.value if decision.retry_type is not None else None,
        "retry_after_seconds": decision.retry_after_seconds,
        "next_attempt_at": next_at,
        "payload": task["payload"] if next_at is not None else None,
        "accepted_at": task.get("accepted_at") if next_at is not None else None,
        "due_at": task.get("due_at"),
        "started_at": times.started,
        "finished_at": times.finished,
        "worker_id": worker_id,
    }


def _micros(delta: timedelta) -> int:
    return delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
