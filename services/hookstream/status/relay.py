"""Operational webhooks: ``operational`` events in, messages of the operators' reserved application out.

Runs in the ``status`` role, beside the processor that writes the events.
Each ``OperationalEvent`` becomes a ``MessageAccepted`` for the reserved
application (:func:`hookstream.domain.operational.relay_message`); the router
fans it out to the operator endpoints subscribed to its type, and delivery
signs, retries and records it like any message. Offsets are committed after
the messages are acknowledged, so a crash replays events, and the replays are
the same messages (ids derived from the event id; the router routes a
repeated ``eventId`` once).

While no operator endpoint exists, events are passed over (as Svix: events
before a subscription are not sent), which also keeps the router from
dead-lettering messages of an application that does not exist yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from types import TracebackType

from hookstream.domain.operational import OPERATIONAL_APP_ID, relay_message, relayed
from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import cancel_and_wait
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import Event, EventConsumer, accepted_events
from hookstream.log.producer import EventProducer
from hookstream.log.topics import DEAD_LETTER, MESSAGES, OPERATIONAL, TopicNames

log = logging.getLogger("hookstream.operational")


class OperationalRelay:
    """``start()``/``stop()``; ``producer`` and ``cache`` belong to the process (started and stopped by it)."""

    def __init__(self, settings: Settings, codec: AvroCodec, producer: EventProducer, cache: ConfigFollower) -> None:
        names = TopicNames(settings.topic_namespace, settings.retry_schedule)
        self._messages_topic = names(MESSAGES)
        self._dead_letter_topic = names(DEAD_LETTER)
        self._codec = codec
        self._producer = producer
        self._cache = cache
        self._consumer = EventConsumer(
            settings.kafka_bootstrap_servers, [names(OPERATIONAL)], f"{settings.topic_namespace}operational-relay",
            codec, producer, names(DEAD_LETTER), accepts=accepted_events(names, OPERATIONAL),
        )  # fmt: skip
        self._loop: asyncio.Task[None] | None = None

    async def start(self) -> OperationalRelay:
        await self._consumer.start()
        self._loop = asyncio.create_task(self._run(), name="operational-relay")
        return self

    async def stop(self) -> None:
        await cancel_and_wait(self._loop)
        with contextlib.suppress(Exception):
            await self._consumer.stop()

    async def __aenter__(self) -> OperationalRelay:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _dead_letter(self, event: Event, error: Exception) -> asyncio.Future[object]:
        """An event that decodes but cannot become a message (e.g. an id that is no UUIDv7), with the reason."""
        log.error("operational relay: event at %s[%d] offset %d dead-lettered: %s", event.topic, event.partition,
                  event.offset, error)  # fmt: skip
        letter = {
            "topic": event.topic, "partition": event.partition, "offset": event.offset, "timestamp_ms": None,
            "key": event.key, "value": self._codec.encode(event.name, event.record), "headers": [],
            "reason": f"cannot relay {event.name}: {type(error).__name__}: {error}"[:1000],
            "error_class": "unprocessable", "consumer": self._consumer.group_id, "failed_at": datetime.now(UTC),
        }  # fmt: skip
        return await self._producer.send(self._dead_letter_topic, "DeadLetter", letter, event.key)

    def _subscribed(self) -> bool:
        view = self._cache.view
        return OPERATIONAL_APP_ID in view.applications and bool(view.endpoints_of(OPERATIONAL_APP_ID))

    async def _run(self) -> None:
        await self._consumer.run(self._relay, "operational relay")

    async def check(self) -> None:
        """The health check: fails while batches fail (they are retried)."""
        self._consumer.check()

    async def _relay(self, batch: list[Event]) -> None:
        events = [e for e in batch if e.name == "OperationalEvent" and relayed(e.record)]
        if events and not self._subscribed():
            await self._cache.catch_up()  # an endpoint added a moment ago counts
        if not events or not self._subscribed():
            return
        acks = []
        for event in events:
            try:
                message = relay_message(event.record)
            except (ValueError, KeyError, TypeError) as error:  # one bad event must not stall the rest
                acks.append(await self._dead_letter(event, error))
                continue
            key = f"{message['app_id']}:{message['event_id']}".encode()
            acks.append(await self._producer.send(self._messages_topic, "MessageAccepted", message, key))
        await asyncio.gather(*acks)
