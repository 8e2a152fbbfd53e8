"""The projector: topics to ClickHouse, in batches, offsets committed after the write.

Rows accumulate until the batch is big enough or old enough (both settings),
then each table gets one insert and only then are the consumed offsets
committed. A crash between the insert and the commit replays the batch,
which writes identical rows (see ``rows``), so the projection converges.

A write that fails (ClickHouse down, disk full, a read-only data directory)
keeps its batch and stops consuming: the same rows are written again, with
backoff, until they go in, so no offset is ever committed past a row not
written. Meanwhile ``check`` fails, and ``/health`` names the projector.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry, Counter, Histogram

from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.consumer import TOMBSTONE, ConsumerOptions, Event
from hookstream.log.producer import EventProducer
from hookstream.log.service import ConsumerService
from hookstream.log.topics import ATTEMPTS, COMMANDS, CONFIG, MESSAGES, STATUS
from hookstream.projector.expunge import apply_expunge, awaits_message
from hookstream.projector.rows import to_row
from hookstream.projector.store import write_rows

log = logging.getLogger("hookstream.projector")

RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0


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
            if event.name == TOMBSTONE:
                # A deleted key of a compacted topic; on `status`, a status the status processor pruned: its
                # rows expire by the tables' TTL, on the same retention (a DELETE here would rewrite parts).
                continue
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


class Projector(ConsumerService):
    """``name`` is the consumer group under the namespace: a second name projects everything again from the start.

    Not the batch loop of :class:`ConsumerService`: rows gather across fetches until the batch is big or old
    enough, a ``ContentExpunged`` cuts the batch short, and a failed write is retried in place (the rows are
    in hand) rather than re-read; only a failure outside the write rewinds to the committed offsets.
    """

    stalled = "writes to ClickHouse failing, consumption paused"

    def __init__(
        self,
        settings: Settings,
        codec: AvroCodec,
        producer: EventProducer,
        clickhouse: Client,
        metrics: ProjectorMetrics,
        name: str = "projector",
    ) -> None:
        options = ConsumerOptions(max_records=5000, typed=True)
        super().__init__(settings, producer, name, [MESSAGES, CONFIG, ATTEMPTS, STATUS, COMMANDS], options)
        self.clickhouse = clickhouse
        self.metrics = metrics
        self.commands_topic = self.names(COMMANDS)

    async def loop(self) -> None:
        """Project forever; a failure outside the retried write (e.g. a dead letter the broker did not take)
        drops the uncommitted batch and re-reads from the committed offsets, so nothing is skipped."""
        delay = RETRY_FIRST_S
        rewind = False
        while True:
            try:
                if rewind:
                    await self._rewind()
                    rewind = False
                await self._project()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.consumer.failure = f"{type(exc).__name__}: {exc}"[:500]
                log.error("projector: reading failed; re-reading from the committed offsets in %.1f s", delay,
                          extra={"error": self.failure})  # fmt: skip
                rewind = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _rewind(self) -> None:
        """Every assigned partition back to its committed offset (its beginning when nothing is committed)."""
        kafka = self.consumer.kafka
        for tp in kafka.assignment():
            committed = await kafka.committed(tp)
            if committed is None:
                await kafka.seek_to_beginning(tp)
            else:
                kafka.seek(tp, committed)

    async def _project(self) -> None:
        batch = RowBatch()
        poll_ms = max(50, int(self.settings.projector_batch_s * 1000 / 2))
        while True:
            fetched = await self.consumer.kafka.getmany(timeout_ms=poll_ms, max_records=5000)
            messages = [message for partition in fetched.values() for message in partition]
            for event in await self.consumer.decode(messages) if messages else ():
                if event.name == "ContentExpunged":
                    # The expunge rewrites rows that may still sit in this batch: write them first.
                    await self._until_done(self._write, batch)
                    batch = RowBatch()
                    await self._until_done(self._expunge, event)
                else:
                    batch.add([event])
            if batch.due(self.settings.projector_batch_rows, self.settings.projector_batch_s) or (
                messages and batch.size == 0
            ):
                await self._until_done(self.flush, batch)
                batch = RowBatch()

    async def _until_done(self, step: Callable[..., Awaitable[object]], *args: object) -> None:
        """Run ``step`` until it succeeds; while it fails nothing else is read, so nothing is skipped."""
        delay = RETRY_FIRST_S
        while True:
            try:
                await step(*args)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of the write or the commit: retry the same step
                self.consumer.failure = f"{type(exc).__name__}: {exc}"[:500]
                log.error("projector: write or commit failed; retrying in %.1f s", delay, extra={"error": self.failure})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if self.failure is not None:
                log.info("projector: writing again after a failure")
            self.consumer.failure = None
            return

    async def _expunge(self, event: Event) -> None:
        if await asyncio.to_thread(awaits_message, self.clickhouse, event.record, time.time()):
            # The command overtook its MessageAccepted (another topic): back on the log, behind it.
            await (await self.producer.send(self.commands_topic, event.name, event.record, event.key))
        else:
            await asyncio.to_thread(apply_expunge, self.clickhouse, event.record)

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
