"""One task, one attempt: wait until due, sign, POST, judge, record, and get the record acknowledged.

Tasks whose endpoint was deleted or disabled are skipped, as Svix and Outpost
do: nothing was attempted, so there is no attempt to record (a made-up
failure would send the scheduler retrying a disabled endpoint); a log line
and ``hookstream_delivery_skipped_total`` say so, and a ``DeliverySkipped``
record on ``attempts`` lets the status processor make the pair final. An endpoint whose secrets
cannot be opened is skipped the same way, loudly: sending unsigned would
teach receivers to accept unsigned requests. An automatic retry of a pair a
manual attempt has since delivered is skipped the same way
(``superseded_by_manual``, :class:`~hookstream.domain.manual.Superseded`),
as Outpost cancels it. An endpoint with a rate limit
is paced before its slots are taken (throttle.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.errors import KafkaError
from opentelemetry.trace import Span

from hookstream.delivery.client import DeliveryClient
from hookstream.delivery.endpoints import EndpointDirectory, request_headers, user_agent
from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.slots import Slots
from hookstream.delivery.throttle import Throttle
from hookstream.domain.attempt import AttemptTimes, attempt_record
from hookstream.domain.classify import classify
from hookstream.domain.directory import Endpoint
from hookstream.domain.ids import IdKind, attempt_id, to_svix
from hookstream.domain.manual import Superseded
from hookstream.domain.outcome import outcome_headers
from hookstream.domain.retry import RetryPolicy
from hookstream.domain.status import skip_record
from hookstream.foundation import tracing
from hookstream.foundation.secrets import SecretKeyError
from hookstream.log.producer import EventProducer

log = logging.getLogger("hookstream.delivery")


def now() -> datetime:
    return datetime.now(UTC)


async def publish_acked(
    producer: EventProducer, topic: str, name: str, record: Mapping[str, Any], key: bytes | None,
    metrics: DeliveryMetrics, headers: list[tuple[str, bytes]] | None = None,
) -> None:  # fmt: skip
    """Produce and wait for the acknowledgement, retrying while the broker is away.

    The task's offset is committed only after this returns, so giving up
    would have to stall the partition anyway; waiting is the same, minus
    the bookkeeping. A contract violation (``InvalidRecord``) is a bug and raises.
    """
    backoff = 0.1
    while True:
        try:
            await (await producer.send(topic, name, record, key, headers))
            return
        except KafkaError as exc:
            log.warning("delivery: producing %s failed, retrying in %.1f s: %s", name, backoff, exc)
            metrics.publish_retries.inc()
            await producer.recover(exc)  # a producer whose sequence broke with the broker is replaced
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)


class Deliverer:
    """The per-task path, shared by all of a worker's tasks."""

    def __init__(
        self,
        *,
        client: DeliveryClient,
        endpoints: EndpointDirectory,
        slots: Slots,
        producer: EventProducer,
        attempts_topic: str,
        metrics: DeliveryMetrics,
        worker_id: str,
        retry_policy: RetryPolicy,
        svix_headers: bool = False,
        throttle: Throttle | None = None,
        propagate_trace: bool = False,
    ) -> None:
        self._client = client
        self._endpoints = endpoints
        self._slots = slots
        self._producer = producer
        self._attempts_topic = attempts_topic
        self._metrics = metrics
        self._worker_id = worker_id
        self._svix_headers = svix_headers
        self._propagate_trace = propagate_trace
        self._retry_policy = retry_policy
        self._throttle = throttle or Throttle()
        self._superseded = Superseded()
        self._user_agent = user_agent()

    async def deliver(
        self, task: Mapping[str, Any], picked_up: datetime, headers: Sequence[tuple[str, bytes]] = ()
    ) -> None:
        """Returns once the attempt record is acknowledged (or the task was skipped).

        Traced, the attempt is a ``deliver`` span under the context the task's ``headers`` carry (the route's,
        or the attempt that asked for this retry), from the moment it is due until its record is acknowledged.
        """
        due_in = (task["due_at"] - now()).total_seconds()
        if due_in > 0:
            await asyncio.sleep(due_in)
        if not tracing.ENABLED:
            return await self._deliver(task, picked_up, None)
        attributes = tracing.message_attributes(task) | {
            "hookstream.endpoint_id": task["endpoint_id"], "hookstream.attempt_number": task["attempt_number"],
            "hookstream.trigger": task["trigger"],
        }  # fmt: skip
        with tracing.span("deliver", parent=headers, kind=tracing.SpanKind.CLIENT, attributes=attributes) as span:
            await self._deliver(task, picked_up, span)

    async def _deliver(self, task: Mapping[str, Any], picked_up: datetime, span: Span | None) -> None:
        endpoint = await self._endpoints.get(uuid.UUID(task["endpoint_id"]))
        reason = self._skip_reason(task, endpoint)
        if reason is not None:
            log.info("delivery skipped (%s): message %s endpoint %s", reason, task["msg_id"], task["endpoint_id"])
            self._metrics.skipped.labels(reason).inc()
            skip_id = attempt_id(uuid.UUID(task["msg_id"]), uuid.UUID(task["endpoint_id"]), task["attempt_number"],
                                 task.get("trigger_seq", 0))  # fmt: skip
            record = skip_record(task, str(skip_id), reason, now())
            if span is not None:
                span.set_attribute("hookstream.skipped", reason)
            await self._record("DeliverySkipped", record, task)
            return
        assert endpoint is not None
        try:
            secrets = self._endpoints.secrets(endpoint, now())
        except SecretKeyError:
            log.exception("delivery skipped: a secret of endpoint %s does not open", endpoint.endpoint_id)
            self._metrics.skipped.labels("secret_unavailable").inc()
            return
        if not secrets:
            log.error("delivery skipped: endpoint %s has no active signing secret", endpoint.endpoint_id)
            self._metrics.skipped.labels("no_secret").inc()
            return
        async with contextlib.AsyncExitStack() as held:
            async with self._throttle.turn(endpoint.endpoint_id, endpoint.rate_limit) as waited:
                await held.enter_async_context(self._slots.hold(endpoint.endpoint_id))
            if waited:
                self._metrics.throttled.observe(waited)
            self._metrics.lag.observe(max(0.0, (now() - task["due_at"]).total_seconds()))
            record = await self._attempt(task, endpoint, secrets, picked_up, span)
        self._superseded.delivered(task, record["status"] == "success")
        with self._slots.recording():  # no await between the two: a stop cannot slip in and lose the record
            await self._record("AttemptFinished", record, task)

    def _skip_reason(self, task: Mapping[str, Any], endpoint: Endpoint | None) -> str | None:
        if endpoint is None:
            return "endpoint_deleted"
        if endpoint.disabled:
            return "endpoint_disabled"
        if self._superseded.supersedes(task):
            return "superseded_by_manual"
        return None

    async def _record(self, name: str, record: Mapping[str, Any], task: Mapping[str, Any]) -> None:
        """Write the attempt (or skip) with its outcome header, so the status fold and the scheduler
        need not decode it (:mod:`hookstream.domain.outcome`), and, traced, the ``deliver`` span's context,
        which the scheduler hands on to the retry it plans."""
        headers = outcome_headers(name, record)
        if tracing.ENABLED:
            headers += tracing.current_headers() or ()
        await publish_acked(
            self._producer, self._attempts_topic, name, record, task["msg_id"].encode(), self._metrics, headers
        )

    async def _attempt(
        self,
        task: Mapping[str, Any],
        endpoint: Endpoint,
        secrets: Sequence[str],
        picked_up: datetime,
        span: Span | None,
    ) -> dict[str, Any]:
        body: bytes = task["payload"]
        started = now()
        webhook_id = to_svix(IdKind.MESSAGE, uuid.UUID(task["msg_id"]))  # the same on every retry and replay
        headers = request_headers(
            endpoint, webhook_id, int(started.timestamp()), body, secrets,
            svix_names=self._svix_headers, user_agent=self._user_agent,
        )  # fmt: skip
        if span is not None and self._propagate_trace:
            headers.update(tracing.http_headers())  # not signed: the signature covers only the body
        self._metrics.in_flight.inc()
        try:
            exchange = await self._client.send(endpoint.url, headers, body, phases=span is not None)
        finally:
            self._metrics.in_flight.dec()
        verdict = classify(exchange.outcome())
        self._metrics.attempts.labels(verdict.error_class or "success").inc()
        self._metrics.latency.observe(exchange.total_us / 1e6)
        record = attempt_record(
            task, url=endpoint.url, exchange=exchange, verdict=verdict,
            request_headers=exchange.request_headers or headers,  # what would have gone out, if nothing did
            times=AttemptTimes(picked_up, started, now()), worker_id=self._worker_id, retry_policy=self._retry_policy,
        )  # fmt: skip
        if span is not None:
            tracing.add_phases(span, exchange.phases)
            span.set_attributes(attempt_attributes(record))
        return record


def attempt_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``deliver`` span says of its attempt's outcome (the ids and timings are the record's own)."""
    attributes = {
        "hookstream.attempt_id": record["attempt_id"], "hookstream.status": record["status"],
    }  # fmt: skip
    optional = {
        "http.response.status_code": record["response_status"] or None,
        "hookstream.error_class": record["error_class"],
        "hookstream.retry_type": record["retry_type"],
        "hookstream.next_attempt_at": record["next_attempt_at"] and record["next_attempt_at"].isoformat(),
    }
    return attributes | {name: value for name, value in optional.items() if value is not None}
