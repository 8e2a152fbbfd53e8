"""Following a topic from its beginning into an in-memory view: the pattern of every compacted-topic reader.

``start()`` reads every partition from the beginning up to the end offsets it
saw when it started, so a process never serves from a partial view; then a
background task keeps following the topic. There is no consumer group: every
process needs every record, and nothing is committed. Subclasses say what a
record does to their view (``_fold``).
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition

from hookstream.foundation.tasks import cancel_and_wait

log = logging.getLogger("hookstream.log.follower")


class TopicFollower:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        self._task: asyncio.Task[None] | None = None
        self._positions: dict[TopicPartition, int] = {}
        self._advanced = asyncio.Condition()

    def _fold(self, value: bytes | None, offset: int, partition: int) -> None:
        raise NotImplementedError

    async def start(self) -> TopicFollower:
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
        self._task = asyncio.create_task(self._follow(), name=f"follow:{self.topic}")
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
            except Exception:  # a broker hiccup must not kill the view; aiokafka reconnects
                log.exception("following %s failed; retrying", self.topic)
                await asyncio.sleep(1)

    def _fold_one(self, value: bytes | None, offset: int, partition: int) -> None:
        """One record that the view cannot take is logged and passed over, never raised: raised in ``start()``
        it would stop the process from starting; in ``_follow`` it would drop the rest of the fetched batch.
        Nothing is dead-lettered here: with no consumer group, every process would copy it again at every start."""
        try:
            self._fold(value, offset, partition)
        except Exception:
            log.exception("%s: record at partition %d offset %d not folded in; skipped", self.topic, partition, offset)

    async def _poll_once(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=500, max_records=5000)
        for tp, messages in batches.items():
            for message in messages:
                self._fold_one(message.value, message.offset, tp.partition)
        for tp in self._positions:
            # The consumer's position, not last offset + 1: compaction leaves gaps at the end too.
            self._positions[tp] = await self._consumer.position(tp)
        async with self._advanced:
            self._advanced.notify_all()
