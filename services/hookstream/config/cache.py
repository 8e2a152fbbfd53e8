"""The in-memory configuration view, fed by the compacted ``config`` topic.

``start()`` reads the topic from the beginning up to the end offsets it saw
when it started, so a service never routes or delivers with a partial view;
then a background task keeps following the topic. There is no consumer
group: every process needs every record, and nothing is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from hookstream.domain.config import ConfigView
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.runtime.tasks import cancel_and_wait

log = logging.getLogger("hookstream.config")

Listener = Callable[[str, dict], None]


class ConfigCache:
    def __init__(self, bootstrap: str, topic: str, codec: AvroCodec) -> None:
        self.view = ConfigView()
        self.topic = topic
        self._codec = codec
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._positions: dict[TopicPartition, int] = {}
        self._advanced = asyncio.Condition()

    def subscribe(self, listener: Listener) -> None:
        """Called with each config event after it is folded in (e.g. to drop a decrypted-secret cache)."""
        self._listeners.append(listener)

    async def start(self) -> ConfigCache:
        await self._consumer.start()
        await self._consumer.topics()  # fetches cluster metadata, which partitions_for_topic reads
        numbers = sorted(self._consumer.partitions_for_topic(self.topic) or ())
        partitions = [TopicPartition(self.topic, p) for p in numbers]
        if not partitions:
            await self._consumer.stop()
            raise RuntimeError(f"topic {self.topic} does not exist: run `hookstream topics create`")
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        ends = await self._consumer.end_offsets(partitions)
        self._positions = {tp: 0 for tp in partitions}
        while any(self._positions[tp] < ends[tp] for tp in partitions):
            await self._poll_once()
        self._task = asyncio.create_task(self._follow(), name=f"config-cache:{self.topic}")
        return self

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self._consumer.stop()

    async def catch_up(self, timeout_s: float = 10.0) -> None:
        """Wait until the view holds everything written to the topic before this call (read your writes)."""
        partitions = list(self._positions)
        ends = await self._consumer.end_offsets(partitions)

        def caught_up() -> bool:
            return all(self._positions[tp] >= ends[tp] for tp in partitions)

        async with asyncio.timeout(timeout_s), self._advanced:
            await self._advanced.wait_for(caught_up)

    async def _follow(self) -> None:
        while True:
            try:
                await self._poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a broker hiccup must not kill the cache; aiokafka reconnects
                log.exception("config cache poll failed; retrying")
                await asyncio.sleep(1)

    async def _poll_once(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=500, max_records=5000)
        for tp, messages in batches.items():
            for message in messages:
                self._fold(message.value, message.offset, tp.partition)
        for tp in self._positions:
            # The consumer's position, not last offset + 1: compaction leaves gaps at the end too.
            self._positions[tp] = await self._consumer.position(tp)
        async with self._advanced:
            self._advanced.notify_all()

    def _fold(self, value: bytes | None, offset: int, partition: int) -> None:
        if value is None:
            return  # a tombstone: the delete event before it already removed the entity
        try:
            name, record = self._codec.decode(value)
        except UndecodableRecord as error:
            # The config topic has no dead-letter consumer of its own: the projector dead-letters
            # config records; here it is enough to skip and say so.
            log.error(
                "undecodable config record skipped",
                extra={"partition": partition, "offset": offset, "reason": error.reason},
            )
            return
        if self.view.apply(name, record):
            for listener in self._listeners:
                listener(name, record)
