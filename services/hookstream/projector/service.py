"""The projector: topics to ClickHouse, in batches, offsets committed after the write.

Rows accumulate until the batch is big enough or old enough (both settings),
then each table gets one insert and only then are the consumed offsets
committed. A crash between the insert and the commit replays the batch,
which writes identical rows (see ``rows``), so the projection converges.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry, Counter, Histogram

from hookstream.log.codec import AvroCodec
from hookstream.log.consumer import Event, EventConsumer
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, COMMANDS, CONFIG, DEAD_LETTER, MESSAGES, STATUS, TopicNames
from hookstream.projector.expunge import apply_expunge
from hookstream.projector.rows import to_row
from hookstream.projector.store import write_rows
from hookstream.runtime.settings import Settings
from hookstream.runtime.tasks import cancel_and_wait

log = logging.getLogger("hookstream.projector")


@dataclass
class ProjectorMetrics:
    registry: CollectorRegistry
    rows: Counter = field(init=False)
    flush_seconds: Histogram = field(init=False)

    def __post_init__(self) -> None:
        self.rows = Counter("hookstream_projector_rows_total", "Rows written", ["table"], registry=self.registry)
        self.flush_seconds = Histogram(
            "hookstream_projector_flush_seconds", "Time to write one batch to ClickHouse", registry=self.registry
        )


class RowBatch:
    """Rows per table, and when the oldest of them arrived."""

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = defaultdict(list)
        self.size = 0
        self.started: float | None = None

    def add(self, events: list[Event]) -> None:
        for event in events:
            row = to_row(event.name, event.record)
            if row is None:
                continue
            if self.started is None:
                self.started = time.monotonic()
            self.rows[row.table].append(row.values)
            self.size += 1

    def due(self, max_rows: int, max_age_s: float) -> bool:
        if self.size >= max_rows:
            return True
        return self.started is not None and time.monotonic() - self.started >= max_age_s


class Projector:
    def __init__(
        self,
        settings: Settings,
        codec: AvroCodec,
        producer: EventProducer,
        clickhouse: Client,
        metrics: ProjectorMetrics,
        group_id: str | None = None,
    ) -> None:
        self.settings = settings
        names = TopicNames(settings.topic_namespace, settings.retry_schedule)
        self.clickhouse = clickhouse
        self.metrics = metrics
        self.consumer = EventConsumer(
            settings.kafka_bootstrap_servers,
            [names(MESSAGES), names(CONFIG), names(ATTEMPTS), names(STATUS), names(COMMANDS)],
            group_id or f"{settings.topic_namespace}projector",
            codec,
            producer,
            names(DEAD_LETTER),
            max_records=5000,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Projector:
        await self.consumer.start()
        self._task = asyncio.create_task(self._run(), name="projector")
        return self

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        await self.consumer.stop()

    async def _run(self) -> None:
        batch = RowBatch()
        poll_ms = max(50, int(self.settings.projector_batch_s * 1000 / 2))
        while True:
            fetched = await self.consumer.kafka.getmany(timeout_ms=poll_ms, max_records=5000)
            messages = [message for partition in fetched.values() for message in partition]
            for event in await self.consumer.decode(messages) if messages else ():
                if event.name == "ContentExpunged":
                    # The expunge rewrites rows that may still sit in this batch: write them first.
                    await self._write(batch)
                    batch = RowBatch()
                    await asyncio.to_thread(apply_expunge, self.clickhouse, event.record)
                else:
                    batch.add([event])
            if batch.due(self.settings.projector_batch_rows, self.settings.projector_batch_s) or (
                messages and batch.size == 0
            ):
                await self.flush(batch)
                batch = RowBatch()

    async def flush(self, batch: RowBatch) -> None:
        """Write the batch, then commit everything consumed so far (the batch covers it all)."""
        started = time.monotonic()
        await self._write(batch)
        await self.consumer.commit()
        self.metrics.flush_seconds.observe(time.monotonic() - started)

    async def _write(self, batch: RowBatch) -> None:
        if batch.size:
            await asyncio.to_thread(write_rows, self.clickhouse, batch.rows)
            for table, values in batch.rows.items():
                self.metrics.rows.labels(table).inc(len(values))
