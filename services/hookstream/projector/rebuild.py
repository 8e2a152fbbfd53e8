"""``hookstream project --rebuild``: empty the projection and replay every topic into it.

The topics are the source of truth, so the tables can always be thrown away
and derived again. The replay reads up to the end offsets seen when it
started, writes in large batches, then hands those offsets to the projector's
consumer group so the running projector continues from there. Run it with
the projector stopped.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from clickhouse_connect.driver import Client

from hookstream.foundation.progress import Progress
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.topics import ATTEMPTS, COMMANDS, CONFIG, MESSAGES, STATUS, TopicNames
from hookstream.projector.expunge import apply_expunge
from hookstream.projector.rows import COLUMNS, KEY_COLUMN, to_row
from hookstream.projector.store import write_rows

# Tables derived from other tables (materialized views) are emptied with their source; the views
# refill them as the replay inserts (rollup states are sets of attempts, so a replay counts once).
DERIVED_TABLES = ("attempts_by_msg", "attempt_rollup_hourly", "attempt_rollup_daily")


@dataclass(frozen=True)
class RebuildReport:
    """What was replayed and what the tables hold afterwards, per table.

    ``entities`` counts the distinct ids among the replayed records and
    ``rows`` the distinct ids in the table: equal when the projection holds
    exactly the log (several records of one entity, an edit then a delete,
    become one row).
    """

    records: dict[str, int]  # replayed events that make rows
    entities: dict[str, int]
    rows: dict[str, int]
    skipped: int  # records that make no row (secrets) or cannot be decoded
    seconds: float

    @property
    def consistent(self) -> bool:
        return self.rows == {table: self.entities.get(table, 0) for table in self.rows}


async def rebuild(
    settings: Settings,
    codec: AvroCodec,
    clickhouse: Client,
    batch_rows: int = 50_000,
    progress: Callable[[int, int, float], None] | None = None,
) -> RebuildReport:
    """Empty the tables and replay every topic into them; ``progress(done, total, started)`` replaces the bar."""
    started = time.monotonic()
    names = TopicNames.from_settings(settings)
    topics = [names(MESSAGES), names(CONFIG), names(ATTEMPTS), names(STATUS), names(COMMANDS)]
    for table in (*COLUMNS, *DERIVED_TABLES):
        clickhouse.command(f"TRUNCATE TABLE IF EXISTS {table}")
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await reader.start()
    records: Counter[str] = Counter()
    entities: dict[str, set[object]] = {}
    skipped = 0
    try:
        with contextlib.ExitStack() as stack:  # the progress bar, once the total is known
            await reader.topics()
            partitions = [TopicPartition(t, p) for t in topics for p in sorted(reader.partitions_for_topic(t) or ())]
            reader.assign(partitions)
            await reader.seek_to_beginning(*partitions)
            ends = await reader.end_offsets(partitions)
            total = sum(ends.values())
            if progress is None:
                report = stack.enter_context(Progress("rebuild", total)).update
            else:
                report = lambda count: progress(count, total, started)  # noqa: E731
            done = 0
            pending: dict[str, list[tuple]] = {}
            expunges: list[dict] = []
            remaining = {tp for tp in partitions if ends[tp] > 0}
            while remaining:
                fetched = await reader.getmany(*remaining, timeout_ms=1000, max_records=10_000)
                for tp, messages in fetched.items():
                    for message in messages:
                        if message.offset >= ends[tp]:
                            continue
                        done += 1
                        row = None
                        if message.value is not None:
                            try:
                                name, record = codec.decode(message.value)
                            except UndecodableRecord:
                                name, record = "", {}
                            if name == "ContentExpunged":
                                expunges.append(record)  # applied once every row is back
                                continue
                            row = to_row(name, record) if name else None
                        if row is None:
                            skipped += 1
                            continue
                        pending.setdefault(row.table, []).append(row.values)
                        records[row.table] += 1
                        entities.setdefault(row.table, set()).add(row.key)
                for tp in list(remaining):
                    if await reader.position(tp) >= ends[tp]:
                        remaining.discard(tp)
                if sum(map(len, pending.values())) >= batch_rows or not remaining:
                    write_rows(clickhouse, pending)
                    pending = {}
                report(done)
    finally:
        await reader.stop()
    for record in expunges:
        apply_expunge(clickhouse, record)
    await _hand_over_offsets(settings, ends)
    counted = {
        table: int(clickhouse.command(f"SELECT uniqExact({KEY_COLUMN[table]}) FROM {table}")) for table in COLUMNS
    }
    distinct = {table: len(keys) for table, keys in entities.items()}
    rows = {table: count for table, count in counted.items() if count or table in distinct}  # empty & unfed: omitted
    return RebuildReport(dict(records), distinct, rows, skipped, time.monotonic() - started)


async def _hand_over_offsets(settings: Settings, ends: dict[TopicPartition, int]) -> None:
    group = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"{settings.topic_namespace}projector",
        enable_auto_commit=False,
    )
    await group.start()
    try:
        group.assign(list(ends))
        await group.commit({tp: OffsetAndMetadata(offset, "") for tp, offset in ends.items()})
    finally:
        await group.stop()
