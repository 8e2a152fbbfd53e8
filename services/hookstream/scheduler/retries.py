"""The retry scheduler's stream processor: failed attempts in, next tasks onto the delay tiers.

A faust agent on ``attempts``. It decides nothing: the delivery worker wrote
the decision into each ``AttemptFinished`` (``next_attempt_at``), and
:func:`hookstream.domain.tiers.next_task` turns a record that asks for a
retry into the next ``DeliveryTask``, for the tier of its schedule step (or
straight onto ``tasks`` when the retry is immediate). A record whose outcome
header says it asks for none (:mod:`hookstream.domain.outcome`) is passed
over without decoding. No state: the backlog of pending retries lives in the
tier topics, not here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import faust
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookstream.domain.outcome import OUTCOME_HEADER, MalformedOutcome, retry_of_header
from hookstream.domain.schedule import parse_schedule, tier_name
from hookstream.domain.tiers import next_task
from hookstream.foundation.settings import Settings
from hookstream.foundation.tracing import trace_headers
from hookstream.log.codec import AvroCodec, UndecodableRecord, UnexpectedType
from hookstream.log.streams import (
    dead_letter_of,
    decode_event,
    event_header,
    faust_app,
    message_headers,
    now,
    raw_topic,
)
from hookstream.log.topics import ATTEMPTS, DEAD_LETTER, TASKS, TopicNames

log = logging.getLogger("hookstream.scheduler")


@dataclass
class SchedulerMetrics:
    registry: CollectorRegistry
    scheduled: Counter = field(init=False)
    forwarded: Counter = field(init=False)
    lateness: Histogram = field(init=False)
    held: Gauge = field(init=False)

    def __post_init__(self) -> None:
        self.scheduled = Counter(
            "hookstream_scheduler_retries_total", "Retries written to a delay tier (or `now`)", ["tier"],
            registry=self.registry,
        )  # fmt: skip
        self.forwarded = Counter(
            "hookstream_scheduler_forwarded_total", "Tasks a delay tier forwarded to `tasks`", ["tier"],
            registry=self.registry,
        )  # fmt: skip
        self.lateness = Histogram(
            "hookstream_scheduler_lateness_seconds", "Forwarded to `tasks` this long after the task was due",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60, 600), registry=self.registry,
        )  # fmt: skip
        self.held = Gauge(
            "hookstream_scheduler_held_tasks", "Tasks the delay-tier consumer holds in memory (bounded by its window)",
            registry=self.registry,
        )  # fmt: skip


def build_retry_app(settings: Settings, codec: AvroCodec, metrics: SchedulerMetrics) -> faust.App:
    """The faust app of the scheduler (consumer group ``<namespace>scheduler``)."""
    app = faust_app(settings, "scheduler")
    names = TopicNames.from_settings(settings)
    schedule = parse_schedule(settings.retry_schedule)
    attempts = raw_topic(app, names(ATTEMPTS))
    tasks = raw_topic(app, names(TASKS))
    dead_letters = raw_topic(app, names(DEAD_LETTER))
    tiers = {tier: raw_topic(app, names.retry_tier(tier)) for tier in names.tiers}

    @app.agent(attempts, name="retries")
    async def schedule_retries(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            await schedule_one(event)

    async def schedule_one(event: faust.EventT) -> None:
        if not needs_decoding(event):
            return
        try:
            name, record = decode_event(codec, event)
            if name == "DeliverySkipped":  # nothing was attempted: nothing to retry
                return
            if name != "AttemptFinished":
                raise UnexpectedType(f"expected AttemptFinished on the attempts topic, got {name}")
        except UndecodableRecord as error:
            log.error("scheduler: undecodable attempt dead-lettered: %s", error.reason)
            letter = dead_letter_of(event, error, app.conf.id)
            await dead_letters.send(key=event.message.key, value=codec.encode("DeadLetter", letter))
            return
        planned = next_task(record, schedule, names.tiers, now())
        if planned is None:
            if record.get("next_attempt_at") is not None and record.get("payload") is None:
                log.warning("scheduler: attempt %s asks for a retry but carries no payload", record["attempt_id"])
            return
        target = tasks if planned.tier_s is None else tiers[planned.tier_s]
        value = codec.encode("DeliveryTask", planned.task)
        # The attempt's trace context goes on with its retry (the tiers forward headers as they are), so the
        # next attempt joins the message's trace; copied as is, traced or not, as this hop makes no span.
        carried = trace_headers(message_headers(event.message))
        await target.send(key=planned.task["endpoint_id"].encode(), value=value, headers=carried or None)
        metrics.scheduled.labels("now" if planned.tier_s is None else tier_name(planned.tier_s)).inc()

    return app


def needs_decoding(event: faust.EventT) -> bool:
    """False when the record's outcome header says it asks for no retry (most do: successes, skips).

    A record without the header, or with one that does not parse, is decoded.
    """
    header = event_header(event, OUTCOME_HEADER)
    if header is None:
        return True
    try:
        return retry_of_header(header)
    except MalformedOutcome as error:
        log.warning("scheduler: %s; decoding the value instead", error)
        return True
