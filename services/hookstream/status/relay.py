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

from hookstream.domain.operational import OPERATIONAL_APP_ID, relay_message, relayed
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import ConsumerOptions, Event, Outputs
from hookstream.log.producer import EventProducer
from hookstream.log.service import ConsumerService
from hookstream.log.topics import MESSAGES, OPERATIONAL


class OperationalRelay(ConsumerService):
    """``start()``/``stop()``; ``producer`` and ``cache`` belong to the process (started and stopped by it)."""

    def __init__(self, settings: Settings, codec: AvroCodec, producer: EventProducer, cache: ConfigFollower) -> None:
        super().__init__(settings, producer, "operational-relay", [OPERATIONAL], ConsumerOptions(typed=True))
        self._messages_topic = self.names(MESSAGES)
        self._cache = cache

    def _subscribed(self) -> bool:
        view = self._cache.view
        return OPERATIONAL_APP_ID in view.applications and bool(view.endpoints_of(OPERATIONAL_APP_ID))

    async def handle(self, batch: list[Event]) -> Outputs:
        events = [e for e in batch if e.name == "OperationalEvent" and relayed(e.record)]
        if events and not self._subscribed():
            await self._cache.catch_up()  # an endpoint added a moment ago counts
        if not events or not self._subscribed():
            return None
        acks = []
        for event in events:
            try:
                message = relay_message(event.record)
            except (ValueError, KeyError, TypeError) as error:  # one bad event must not stall the rest
                reason = f"cannot relay {event.name}: {type(error).__name__}: {error}"[:1000]
                acks.append(await self.dead_letter(event, reason, "unprocessable"))
                continue
            key = f"{message['app_id']}:{message['event_id']}".encode()
            acks.append(await self.producer.send(self._messages_topic, "MessageAccepted", message, key))
        return acks
