"""The ``status`` role: attempts in; statuses, operational events and endpoint disables out.

A faust app with two agents:

* ``statuses`` (on ``attempts``) folds each attempt into its message's state
  (a table keyed by message id, co-partitioned with ``attempts``) and writes
  the pair's ``MessageEndpointStatus`` and the ``MessageStatus`` to the
  compacted ``status`` topic, ``message.attempt.failing/exhausted/recovered``
  to ``operational``, and the attempt's facts (JSON) to an internal topic
  keyed by endpoint.
* ``health`` (on that internal topic) folds them into the endpoint's health
  (a table keyed by endpoint id). An endpoint that only failed for the whole
  window is disabled by an ``EndpointUpserted`` on ``config`` (the endpoint
  as the config view has it, ``disabled`` set, version bumped) and an
  ``endpoint.disabled`` event.

At-least-once: faust saves a table change and flushes what an event sent
before committing the event, but a crash in between can keep the one and
lose the other. So a repeated attempt (already in the state) sends its
records, signals and facts again: identical records, events with the same
ids, and an idempotent disable.

The folds are pure (:mod:`hookstream.domain.status`, :mod:`hookstream.domain.health`)
and read only the attempts, so a fresh app replaying the topic derives the
same records.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field

import faust
from prometheus_client import CollectorRegistry, Counter

from hookstream.config.cache import ConfigCache
from hookstream.domain.config import endpoint_record
from hookstream.domain.health import EndpointHealth, fold_health
from hookstream.domain.operational import endpoint_disabled_event, message_event
from hookstream.domain.schedule import parse_duration
from hookstream.domain.status import (
    AttemptFacts,
    MessageState,
    fold_attempt,
    from_us,
    message_record,
    pair_record,
    to_us,
)
from hookstream.log.codec import AvroCodec, UndecodableRecord, UnexpectedType
from hookstream.log.streams import dead_letter_of, decode_event, faust_app, raw_topic
from hookstream.log.topics import ATTEMPTS, CONFIG, DEAD_LETTER, OPERATIONAL, STATUS, TopicNames
from hookstream.runtime.settings import Settings

log = logging.getLogger("hookstream.status")


@dataclass
class StatusMetrics:
    registry: CollectorRegistry
    statuses: Counter = field(init=False)
    operational: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.statuses = Counter(
            "hookstream_status_updates_total", "Status records written, by record type", ["record"],
            registry=self.registry,
        )  # fmt: skip
        self.operational = Counter(
            "hookstream_operational_events_total", "Operational events written, by type", ["type"],
            registry=self.registry,
        )  # fmt: skip


def build_status_app(
    settings: Settings, codec: AvroCodec, cache: ConfigCache, metrics: StatusMetrics, *, name: str = "status"
) -> faust.App:
    """The faust app of the status processor; ``name`` (under the namespace) is its group and changelog prefix."""
    app = faust_app(settings, name)
    names = TopicNames(settings.topic_namespace, settings.retry_schedule)
    failing_after = settings.status_failing_after
    disable_after_us = int(parse_duration(settings.endpoint_disable_after) * 1_000_000)
    attempts = raw_topic(app, names(ATTEMPTS))
    endpoint_attempts = raw_topic(app, f"{app.conf.id}-endpoint-attempts", internal=True)
    status_topic = raw_topic(app, names(STATUS))
    operational = raw_topic(app, names(OPERATIONAL))
    config = raw_topic(app, names(CONFIG))
    dead_letters = raw_topic(app, names(DEAD_LETTER))
    messages = app.Table("messages", default=None)
    endpoints = app.Table("endpoints", default=None)

    async def facts_of(event: faust.EventT) -> AttemptFacts | None:
        try:
            name, record = decode_event(codec, event)
            if name != "AttemptFinished":
                raise UnexpectedType(f"expected AttemptFinished on the attempts topic, got {name}")
        except UndecodableRecord as error:
            log.error("status: undecodable attempt dead-lettered: %s", error.reason)
            letter = dead_letter_of(event, error, app.conf.id)
            await dead_letters.send(key=event.message.key, value=codec.encode("DeadLetter", letter))
            return None
        return AttemptFacts.of(record)

    async def emit(event_record: dict) -> None:
        value = codec.encode("OperationalEvent", event_record)
        await operational.send(key=event_record["endpoint_id"].encode(), value=value)
        metrics.operational.labels(event_record["type"]).inc()

    @app.agent(attempts, name="statuses")
    async def statuses(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            facts = await facts_of(event)
            if facts is None:
                continue
            stored = messages.get(facts.msg_id)
            folded = fold_attempt(MessageState.from_json(stored) if stored else None, facts, failing_after)
            if folded.changed:
                messages[facts.msg_id] = folded.message.as_json()
            pair = codec.encode("MessageEndpointStatus", pair_record(folded.message, folded.pair))
            await status_topic.send(key=f"{facts.msg_id}:{facts.endpoint_id}".encode(), value=pair)
            message = codec.encode("MessageStatus", message_record(folded.message))
            await status_topic.send(key=facts.msg_id.encode(), value=message)
            metrics.statuses.labels("MessageEndpointStatus").inc()
            metrics.statuses.labels("MessageStatus").inc()
            for signal in folded.signals:
                await emit(message_event(signal, facts))
            await endpoint_attempts.send(key=facts.endpoint_id.encode(), value=json.dumps(facts.as_json()).encode())

    @app.agent(endpoint_attempts, name="health")
    async def health(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            facts = AttemptFacts.from_json(json.loads(event.message.value))
            stored = endpoints.get(facts.endpoint_id)
            step = fold_health(EndpointHealth.from_json(stored) if stored else None, facts, disable_after_us)
            endpoints[facts.endpoint_id] = step.health.as_json()
            if step.disable and step.health.failing_since_us is not None:
                await disable(facts, step.health.failing_since_us)

    async def disable(facts: AttemptFacts, failing_since_us: int) -> None:
        """Disable the endpoint, unless it is gone, already disabled, or was changed after the attempt that
        decided it: a replay (a rebuild of the statuses) must not disable again an endpoint someone has
        enabled since."""
        endpoint_id = uuid.UUID(facts.endpoint_id)
        endpoint = cache.view.endpoints.get(endpoint_id)
        if endpoint is None:
            await cache.catch_up()
            endpoint = cache.view.endpoints.get(endpoint_id)
        if endpoint is None or endpoint.disabled:
            return
        if endpoint.updated_at is not None and to_us(endpoint.updated_at) > facts.finished_us:
            log.info("endpoint %s not disabled: changed after the attempt that decided it", endpoint_id)
            return
        changed_at = from_us(facts.finished_us)
        record = endpoint_record(endpoint, updated_at=changed_at, disabled=True, version=endpoint.version + 1)
        await config.send(key=facts.endpoint_id.encode(), value=codec.encode("EndpointUpserted", record))
        application = cache.view.applications.get(endpoint.app_id)
        log.warning("endpoint %s disabled: only failures since %s", endpoint_id, from_us(failing_since_us))
        app_uid = application.uid if application else None
        await emit(endpoint_disabled_event(facts, failing_since_us, app_uid=app_uid, endpoint_uid=endpoint.uid))

    return app
