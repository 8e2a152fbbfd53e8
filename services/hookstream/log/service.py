"""A consuming service: one consumer group of the deployment, its background loop, its health, its dead letters.

Every service that reads a topic is one of these, so starting, stopping,
reporting a stalled loop and dead-lettering are written once. The loop
is batch-shaped: a batch of decoded events goes to :meth:`ConsumerService.handle`,
which hands back the acknowledgements of its outputs; the batch is
committed once they are all in, and a batch that fails is rewound and read
again with backoff (:meth:`~hookstream.log.consumer.EventConsumer.run`).
A service whose loop has another shape (flow control on paused partitions,
rows gathered across fetches) overrides :meth:`ConsumerService.loop` and
keeps the rest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Self

from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import Lifecycle, cancel_and_wait
from hookstream.log.consumer import (
    DEFAULT_OPTIONS,
    ConsumerOptions,
    ConsumerStalled,
    Event,
    EventConsumer,
    Outputs,
    event_dead_letter,
)
from hookstream.log.producer import EventProducer
from hookstream.log.topics import DEAD_LETTER, TopicNames

log = logging.getLogger("hookstream.log.service")


class ConsumerService(Lifecycle):
    """``name`` names the service: its consumer group under the namespace, its loop task and its log lines.

    ``topics`` are short topic names. ``producer`` belongs to the process
    (started and stopped by its owner); dead letters and outputs go through it.
    """

    stalled: str = "batches failing, retrying"
    """What the health check says while :attr:`failure` is set."""

    def __init__(
        self,
        settings: Settings,
        producer: EventProducer,
        name: str,
        topics: Sequence[str],
        options: ConsumerOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.settings = settings
        self.name = name
        self.names = TopicNames.from_settings(settings)
        self.producer = producer
        self.codec = producer.codec
        full = [self.names(topic) for topic in topics]
        self.consumer = EventConsumer(settings, producer, full, f"{settings.topic_namespace}{name}", options)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Self:
        await self.consumer.start()
        self._task = asyncio.create_task(self.loop(), name=self.name)
        return self

    async def stop(self) -> None:
        """Stop the loop (raising what killed it, if it died), then leave the group; nothing uncommitted is lost."""
        try:
            await self.halt()
        finally:
            try:
                await self.consumer.stop()
            except Exception:  # leaving the group matters less than stopping the process's other services
                log.exception("%s: stopping the consumer failed", self.name)

    async def halt(self) -> None:
        """Stop the loop only, still in the group: what a service does before committing on its way out."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def loop(self) -> None:
        """The background loop: batches handled and committed, failed ones rewound and retried."""
        await self.consumer.run(self.handle, self.name)

    async def handle(self, batch: list[Event]) -> Outputs:
        """One batch in; the acknowledgements it waits for before it is committed out."""
        raise NotImplementedError(f"{type(self).__name__} consumes batches but does not handle them")

    @property
    def failure(self) -> str | None:
        """Why batches fail, until one succeeds."""
        return self.consumer.failure

    async def check(self) -> None:
        """The health check: fails while batches fail (they are retried), and if the loop has died."""
        task = self._task
        if task is not None and task.done() and not task.cancelled():
            raise ConsumerStalled(f"the {self.name} loop stopped: {task.exception()!r}")
        if self.failure is not None:
            raise ConsumerStalled(f"{self.consumer.group_id}: {self.stalled}: {self.failure}")

    async def dead_letter(self, event: Event, reason: str, error_class: str) -> asyncio.Future[Any]:
        """Send a decoded event the service cannot handle to the dead-letter topic; await the future to be sure."""
        log.warning("%s: event dead-lettered", self.name, extra={"reason": reason, "offset": event.offset})
        letter = event_dead_letter(event, self.codec, reason, error_class, self.consumer.group_id)
        return await self.producer.send(self.names(DEAD_LETTER), "DeadLetter", letter, event.key)
