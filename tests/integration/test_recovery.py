"""Endpoint recover over a real broker and chDB: one query per command, whatever the number of failed messages.

Rows go in through the projector's own insert path (statuses from the real
fold), the command goes on ``commands``, and the recoverer runs as the
``schedule`` role runs it. Its ClickHouse client is the test's, counting the
queries it is asked to run. Among the failed pairs some already had manual
attempts (the task must take the next trigger sequence), one lost its message
row (skipped), and around them are pairs that must not be resent: succeeded,
failed then succeeded, failed at another endpoint, and failed outside the
window on either side.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from clickhouse_connect.driver import Client

from hookstream.domain.ids import attempt_id, generate_id
from hookstream.domain.status import AttemptFacts, MessageState, fold_attempt, pair_record
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import COMMANDS, TASKS, TopicNames
from hookstream.projector.rows import attempt_row, endpoint_status_row, message_row
from hookstream.projector.store import write_rows
from hookstream.recovery.service import Recoverer
from tests.support import builders

pytestmark = pytest.mark.integration

FAILED = 30
TIMEOUT_S = 40.0


class CountingClient:
    """The real ClickHouse client, with a count of the queries run through it."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self.queries: list[str] = []

    def query(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        self.queries.append(sql)
        return self._client.query(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[EventProducer]:
    async with EventProducer(kafka, AvroCodec()) as producer:
        yield producer


class History:
    """Messages, attempts and the status rows the status processor would derive from them (the real fold)."""

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.messages: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []
        self.states: dict[str, MessageState] = {}
        self.status_rows: list[tuple] = []

    def message(self, *, stored: bool = True) -> dict[str, Any]:
        msg = builders.message(self.app_id, payload={"n": len(self.messages)})
        if stored:
            self.messages.append(msg)
        return msg

    def attempt(self, msg: dict[str, Any], endpoint_id: str, status: int, *, manual_seq: int = 0) -> None:
        record = builders.attempt(msg, endpoint_id, status=status)
        if manual_seq:
            ids = (uuid.UUID(msg["msg_id"]), uuid.UUID(endpoint_id))
            record.update(attempt_id=str(attempt_id(*ids, 1, manual_seq)), trigger="manual", trigger_seq=manual_seq)
        self.attempts.append(record)
        folded = fold_attempt(self.states.get(msg["msg_id"]), AttemptFacts.of(record), failing_after=4)
        self.states[msg["msg_id"]] = folded.message
        self.status_rows.append(endpoint_status_row(pair_record(folded.message, folded.pair)).values)

    def write(self, clickhouse: Client) -> None:
        write_rows(clickhouse, {
            "messages": [message_row(m).values for m in self.messages],
            "attempts": [attempt_row(a).values for a in self.attempts],
            "message_endpoint_status": self.status_rows,
        })  # fmt: skip


async def _pause() -> datetime:
    """A time strictly between the message ids made before and after (UUIDv7s carry milliseconds)."""
    await asyncio.sleep(0.01)
    at = datetime.now(UTC)
    await asyncio.sleep(0.01)
    return at


async def _tasks(settings: Settings, topic: str, codec: AvroCodec) -> list[dict[str, Any]]:
    """Every record on ``topic`` up to its current end, decoded."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[dict[str, Any]] = []
        async with asyncio.timeout(TIMEOUT_S):
            while len(records) < sum(ends.values()):  # the test's own topic: its offsets start at 0
                for batch in (await consumer.getmany(timeout_ms=300)).values():
                    records.extend(codec.decode(r.value)[1] for r in batch)
        return records
    finally:
        await consumer.stop()


async def test_recover_reads_every_failed_message_in_one_query(
    settings: Settings, topics: TopicNames, clickhouse: Client, producer: EventProducer
) -> None:
    app_id, endpoint_id, other_endpoint = str(generate_id()), str(generate_id()), str(generate_id())
    history = History(app_id)
    history.attempt(history.message(), endpoint_id, 500)  # before the window
    since = await _pause()
    expected: dict[str, tuple[int, bytes]] = {}  # msg id -> (trigger seq of the task, payload)
    for n in range(FAILED):
        msg = history.message()
        history.attempt(msg, endpoint_id, 500)
        for seq in range(1, n % 4):  # some were resent by hand before, and failed again
            history.attempt(msg, endpoint_id, 503, manual_seq=seq)
        expected[msg["msg_id"]] = (max(1, n % 4), msg["payload"])
    history.attempt(history.message(), endpoint_id, 200)  # succeeded
    recovered = history.message()
    history.attempt(recovered, endpoint_id, 500)
    history.attempt(recovered, endpoint_id, 200, manual_seq=1)  # failed, then a resend succeeded
    history.attempt(history.message(), other_endpoint, 500)  # failed at another endpoint
    history.attempt(history.message(stored=False), endpoint_id, 500)  # failed, its message row gone
    until = await _pause()
    history.attempt(history.message(), endpoint_id, 500)  # after the window
    history.write(clickhouse)

    now = datetime.now(UTC)
    command = {
        "request_id": str(generate_id()), "app_id": app_id, "endpoint_id": endpoint_id,
        "since": since, "until": until, "requested_at": now,
    }  # fmt: skip
    meta = await (await producer.send(topics(COMMANDS), "RecoverRequested", command, endpoint_id.encode()))
    counting = CountingClient(clickhouse)
    codec = AvroCodec()
    group = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, group_id=f"{settings.topic_namespace}recover"
    )
    await group.start()
    recoverer = await Recoverer(settings, codec, producer, counting).start()  # type: ignore[arg-type]
    try:
        async with asyncio.timeout(TIMEOUT_S):  # committed past the command: every task of it acknowledged
            while True:
                if (await group.committed(TopicPartition(meta.topic, meta.partition)) or 0) > meta.offset:
                    break
                await asyncio.sleep(0.2)
    finally:
        await recoverer.stop()
        await group.stop()

    tasks = await _tasks(settings, topics(TASKS), codec)
    assert len(counting.queries) == 1, counting.queries
    assert {t["msg_id"]: (t["trigger_seq"], t["payload"]) for t in tasks} == expected
    assert len(tasks) == FAILED
    assert {(t["endpoint_id"], t["trigger"], t["attempt_number"]) for t in tasks} == {(endpoint_id, "manual", 1)}
