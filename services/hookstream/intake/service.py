"""The intake role: records upstream systems write to the intake topic become messages, or dead letters.

Each record is read raw (it is not Avro) and interpreted by ``domain/intake.py``
against the config view: a MessageAccepted goes to ``messages`` under the key
the API would use, a refusal goes to the dead-letter topic with the original
key, value and headers and its error class. The batch is committed only once
all of those are acknowledged (:class:`~hookstream.log.service.ConsumerService`),
so a crash reads the records again; their message ids are derived from their
place in the log, so the replayed messages are the same messages and the
router's dedupe window and the delivery path absorb them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from hookstream.domain.intake import UNKNOWN_APPLICATION, Accepted, IntakeRecord, IntakeRules, Refusal, interpret
from hookstream.domain.strict_json import JsonLimits
from hookstream.foundation import tracing
from hookstream.foundation.settings import Settings
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import ConsumerOptions, Event, Outputs
from hookstream.log.producer import EventProducer
from hookstream.log.service import ConsumerService
from hookstream.log.topics import INTAKE, MESSAGES


@dataclass
class IntakeMetrics:
    registry: CollectorRegistry
    accepted: Counter = field(init=False)
    refused: Counter = field(init=False)

    def __post_init__(self) -> None:
        self.accepted = Counter("hookstream_intake_accepted_total", "Intake records written to messages, by format",
                                ["format"], registry=self.registry)  # fmt: skip
        self.refused = Counter("hookstream_intake_refused_total", "Intake records dead-lettered, by error class",
                               ["error_class"], registry=self.registry)  # fmt: skip


def intake_rules(settings: Settings) -> IntakeRules:
    """The deployment's rules: the API's payload cap and JSON limits, so both paths accept the same messages."""
    limits = JsonLimits(settings.api_json_max_depth, settings.api_json_max_object_keys,
                        settings.api_json_max_array_items)  # fmt: skip
    return IntakeRules(settings.intake_application_attribute.lower(), settings.api_max_payload_bytes, limits)


class Intake(ConsumerService):
    def __init__(
        self, settings: Settings, producer: EventProducer, cache: ConfigFollower, metrics: IntakeMetrics
    ) -> None:
        super().__init__(settings, producer, "intake", [INTAKE], ConsumerOptions(raw=True))
        self.cache = cache
        self.metrics = metrics
        self.rules = intake_rules(settings)

    async def handle(self, batch: list[Event]) -> Outputs:
        """Each record written to ``messages`` or dead-lettered; counted once the batch's writes are acknowledged,
        so the accepted counter is the count of messages on the topic (what the ingest benchmark waits for)."""
        acks: list[asyncio.Future[Any]] = []
        accepted: dict[str, int] = {}
        refused: dict[str, int] = {}
        caught_up = False
        rules, topic = self.rules, self.names(MESSAGES)
        for event in batch:
            record = IntakeRecord(event.topic, event.partition, event.offset, event.timestamp_ms or 0, event.key,
                                  event.value, event.headers)  # fmt: skip
            result = interpret(record, rules, self.cache.view)
            if isinstance(result, Refusal) and result.error_class == UNKNOWN_APPLICATION and not caught_up:
                # The application may have been created a moment ago: read the config topic to its end once.
                await self.cache.catch_up()
                caught_up = True
                result = interpret(record, rules, self.cache.view)
            if isinstance(result, Refusal):
                refused[result.error_class] = refused.get(result.error_class, 0) + 1
                acks.append(await self.dead_letter(event, result.reason, result.error_class))
                continue
            acks.append(await self._accept(event, result, topic))
            accepted[result.format] = accepted.get(result.format, 0) + 1
        await asyncio.gather(*acks)
        for kind, count in accepted.items():
            self.metrics.accepted.labels(kind).inc(count)
        for error_class, count in refused.items():
            self.metrics.refused.labels(error_class).inc(count)
        return None

    async def _accept(self, event: Event, result: Accepted, topic: str) -> asyncio.Future[Any]:
        """Write the message; traced, under an ``accept`` span whose parent is the record's own ``traceparent``
        (an upstream producer's trace), its context carried on the MessageAccepted as the API's is."""
        key = result.key.encode()
        if not tracing.ENABLED:
            return await self.producer.send(topic, "MessageAccepted", result.record, key)
        attributes = {**tracing.message_attributes(result.record), "hookstream.intake.format": result.format}
        with tracing.span("accept", parent=event.headers, kind=tracing.SpanKind.CONSUMER, attributes=attributes):
            return await self.producer.send(topic, "MessageAccepted", result.record, key, tracing.current_headers())
