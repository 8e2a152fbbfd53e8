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

Pruning (``status_retention``): a timer scans the messages table and, for each
message final everywhere and unchanged for the retention
(:func:`hookstream.domain.status.prunable`), sends a prune request keyed by
message id on an internal topic with the partitions of ``attempts``, so the
request lands on the partition that owns the message's table entry (faust lets
only an agent handling an event of that partition change it). The ``prune``
agent checks again (a new attempt may have come in since), deletes the entry
and writes tombstones for the pair and message keys to ``status``. The scan
covers whatever the table holds, so a table rebuilt from its changelog or from
``attempts`` is pruned too. The ``statuses`` agent applies the same rule after
each fold: an attempt replayed after its message was pruned (a crash before
the commit) makes a state that is prunable at once, so it is forgotten again
instead of resurrected.

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
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import faust
from prometheus_client import CollectorRegistry, Counter

from hookstream.domain.directory import endpoint_record
from hookstream.domain.health import DisableRule, EndpointHealth, fold_health
from hookstream.domain.operational import endpoint_disabled_event, message_event
from hookstream.domain.schedule import parse_duration
from hookstream.domain.status import (
    AttemptFacts,
    Folded,
    MessageState,
    SkipFacts,
    fold_attempt,
    fold_skip,
    from_us,
    message_record,
    pair_record,
    prunable,
    status_retention_s,
    to_us,
)
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec, UndecodableRecord, UnexpectedType
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.streams import dead_letter_of, decode_event, faust_app, raw_topic
from hookstream.log.topics import ATTEMPTS, CONFIG, DEAD_LETTER, OPERATIONAL, STATUS, TopicNames

log = logging.getLogger("hookstream.status")


@dataclass
class StatusMetrics:
    registry: CollectorRegistry
    statuses: Counter = field(init=False)
    operational: Counter = field(init=False)
    pruned: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.statuses = Counter(
            "hookstream_status_updates_total", "Status records written, by record type", ["record"],
            registry=self.registry,
        )  # fmt: skip
        self.operational = Counter(
            "hookstream_operational_events_total", "Operational events written, by type", ["type"],
            registry=self.registry,
        )  # fmt: skip
        self.pruned = Counter(
            "hookstream_status_pruned_total", "Messages whose final status was forgotten after the retention",
            registry=self.registry,
        )  # fmt: skip


def build_status_app(
    settings: Settings, codec: AvroCodec, cache: ConfigFollower, metrics: StatusMetrics, *, name: str = "status"
) -> faust.App:
    """The faust app of the status processor; ``name`` (under the namespace) is its group and changelog prefix."""
    app = faust_app(settings, name)
    names = TopicNames(settings.topic_namespace, settings.retry_schedule)
    failing_after = settings.status_failing_after
    rule = disable_rule(settings)
    attempts = raw_topic(app, names(ATTEMPTS))
    endpoint_attempts = raw_topic(app, f"{app.conf.id}-endpoint-attempts", internal=True)
    status_topic = raw_topic(app, names(STATUS))
    operational = raw_topic(app, names(OPERATIONAL))
    config = raw_topic(app, names(CONFIG))
    dead_letters = raw_topic(app, names(DEAD_LETTER))
    prune_requests = raw_topic(app, f"{app.conf.id}-prune", internal=True)
    retention_s = status_retention_s(settings.status_retention, settings.payload_retention_days)
    retention_us = int(retention_s * 1_000_000)
    messages = app.Table("messages", default=None)
    endpoints = app.Table("endpoints", default=None)

    async def facts_of(event: faust.EventT) -> AttemptFacts | SkipFacts | None:
        try:
            name, record = decode_event(codec, event)
            if name == "DeliverySkipped":
                return SkipFacts.of(record)
            if name != "AttemptFinished":
                raise UnexpectedType(f"expected AttemptFinished on the attempts topic, got {name}")
        except UndecodableRecord as error:
            log.error("status: undecodable attempt dead-lettered: %s", error.reason)
            letter = dead_letter_of(event, error, app.conf.id)
            await dead_letters.send(key=event.message.key, value=codec.encode("DeadLetter", letter))
            return None
        return AttemptFacts.of(record)

    async def write_status(folded: Folded) -> None:
        msg_id, endpoint_id = folded.message.msg_id, folded.pair.endpoint_id
        pair = codec.encode("MessageEndpointStatus", pair_record(folded.message, folded.pair))
        await status_topic.send(key=f"{msg_id}:{endpoint_id}".encode(), value=pair)
        message = codec.encode("MessageStatus", message_record(folded.message))
        await status_topic.send(key=msg_id.encode(), value=message)
        metrics.statuses.labels("MessageEndpointStatus").inc()
        metrics.statuses.labels("MessageStatus").inc()

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
            state = MessageState.from_json(stored) if stored else None
            if isinstance(facts, SkipFacts):
                folded = fold_skip(state, facts)
            else:
                folded = fold_attempt(state, facts, failing_after)
            if prunable(folded.message, now_us(), retention_us):
                # Only an event older than the retention gets here (a replay after the message was pruned):
                # forget the message again rather than bring back a partial state.
                await forget(facts.msg_id, folded.message.pairs, stored is not None)
                continue
            if folded.changed:
                messages[facts.msg_id] = folded.message.as_json()
            await write_status(folded)
            if isinstance(facts, SkipFacts):
                continue
            for signal in folded.signals:
                await emit(message_event(signal, facts))
            await endpoint_attempts.send(key=facts.endpoint_id.encode(), value=json.dumps(facts.as_json()).encode())

    async def forget(msg_id: str, endpoint_ids: Iterable[str], stored: bool) -> None:
        """Delete the table entry (if any) and tombstone its status keys; the tombstones are written again on a
        repeat, as a crash may have lost them after the deletion was saved."""
        if stored:
            del messages[msg_id]
            metrics.pruned.inc()
        for endpoint_id in endpoint_ids:
            await status_topic.send(key=f"{msg_id}:{endpoint_id}".encode(), value=None)
        await status_topic.send(key=msg_id.encode(), value=None)

    requested: dict[str, float] = {}  # message id -> when its prune request was sent (no repeats while in flight)
    scan_every_s = prune_interval_s(retention_s)

    @app.timer(scan_every_s)
    async def scan() -> None:
        now = now_us()
        resend_before = time.monotonic() - 10 * scan_every_s
        for msg_id in [key for key, at in requested.items() if at < resend_before]:
            del requested[msg_id]
        for msg_id, stored in list(messages.items()):
            if msg_id in requested or stored is None:
                continue
            state = MessageState.from_json(stored)
            if prunable(state, now, retention_us):
                requested[msg_id] = time.monotonic()
                await prune_requests.send(key=msg_id.encode(), value=json.dumps(list(state.pairs)).encode())

    @app.agent(prune_requests, name="prune")
    async def prune(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            msg_id = event.message.key.decode()
            requested.pop(msg_id, None)
            stored = messages.get(msg_id)
            if stored is None:  # pruned before: tombstones again, the first ones may be lost
                await forget(msg_id, json.loads(event.message.value), stored=False)
                continue
            state = MessageState.from_json(stored)
            if prunable(state, now_us(), retention_us):
                await forget(msg_id, state.pairs, stored=True)

    @app.agent(endpoint_attempts, name="health")
    async def health(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            facts = AttemptFacts.from_json(json.loads(event.message.value))
            stored = endpoints.get(facts.endpoint_id)
            step = fold_health(EndpointHealth.from_json(stored) if stored else None, facts, rule)
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
        # The API writes endpoints too: when it took this version first the view keeps its record and drops
        # this one, so the disable is read back and applied again on top of what the view now holds (a later
        # version, a delete or a disabled endpoint mean nothing of this one was lost).
        for _ in range(DISABLE_TRIES):
            version = endpoint.version + 1
            stamp = max(changed_at, endpoint.updated_at or changed_at)  # never before what it replaces
            record = endpoint_record(endpoint, updated_at=stamp, disabled=True, version=version)
            await (await config.send(key=facts.endpoint_id.encode(), value=codec.encode("EndpointUpserted", record)))
            await cache.catch_up()
            held = cache.view.endpoints.get(endpoint_id)
            if held is None or held.disabled or held.version != version:
                break
            log.warning(
                "endpoint %s: disable lost version %d to another writer; applying it again", endpoint_id, version
            )
            endpoint = held
        application = cache.view.applications.get(endpoint.app_id)
        log.warning("endpoint %s disabled: only failures since %s", endpoint_id, from_us(failing_since_us))
        app_uid = application.uid if application else None
        await emit(endpoint_disabled_event(facts, failing_since_us, app_uid=app_uid, endpoint_uid=endpoint.uid))

    return app


DISABLE_TRIES = 5
"""Attempts of one disable when another writer keeps taking the version it needs."""


def now_us() -> int:
    return time.time_ns() // 1000


def prune_interval_s(retention_s: float) -> float:
    """How often the table is scanned: a small fraction of the retention, at most every ten minutes."""
    return min(600.0, max(0.2, retention_s / 20))


def disable_rule(settings: Settings) -> DisableRule:
    def us(text: str) -> int:
        return int(parse_duration(text) * 1_000_000)

    s = settings
    return DisableRule(us(s.endpoint_disable_after), us(s.endpoint_disable_min_span), us(s.endpoint_disable_within))
