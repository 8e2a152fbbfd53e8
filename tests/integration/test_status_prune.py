"""Status pruning on the real broker: a final status older than the retention is forgotten, for good.

One partition, so seeing a later record on ``status`` proves every earlier attempt was handled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from hookstream.foundation.settings import Settings
from hookstream.log.admin import create_topics
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import TOMBSTONE, Event, EventConsumer
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, CONFIG, STATUS, TopicNames, catalogue
from hookstream.status.processor import StatusMetrics
from hookstream.status.service import StatusProcessor
from tests.support import builders

pytestmark = pytest.mark.integration

RETENTION_S = 2


@pytest.fixture
async def prune_settings(kafka: str, settings: Settings) -> Settings:
    settings = settings.replace(topic_partitions=1, status_retention=f"{RETENTION_S}s")
    await create_topics(kafka, catalogue(settings))
    return settings


class StatusLog:
    """Every record on ``status``, read by a consumer of its own, in order."""

    def __init__(self, settings: Settings, producer: EventProducer) -> None:
        names = TopicNames.from_settings(settings)
        self.events: list[Event] = []
        self._reader = EventConsumer(settings, producer, [names(STATUS)], "status-prune-reader")
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> StatusLog:
        await self._reader.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._reader.stop()

    async def _read(self) -> None:
        async for batch in self._reader.batches(timeout_ms=100):
            self.events.extend(batch)

    def of(self, key: str) -> list[str]:
        return [event.name for event in self.events if event.key == key.encode()]

    async def wait_for(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 20
        while not ready():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.1)


def _attempt(msg: dict[str, Any], endpoint_id: str, status: int, next_at: datetime | None = None) -> dict[str, Any]:
    record = builders.attempt(msg, endpoint_id, status=status)
    record["next_attempt_at"] = next_at
    return record


async def test_a_final_status_is_pruned_a_pending_one_stays_and_neither_a_replay_nor_a_restart_brings_it_back(
    prune_settings: Settings, producer: EventProducer
) -> None:
    settings = prune_settings
    names = TopicNames.from_settings(settings)
    app = builders.application()
    endpoint = builders.endpoint(app["app_id"], "http://127.0.0.1:9/hook")["endpoint_id"]
    done, retrying, marker = (builders.message(app["app_id"]) for _ in range(3))
    pending = _attempt(retrying, endpoint, 500, next_at=datetime.now(UTC) + timedelta(hours=1))

    async def send(record: dict[str, Any]) -> None:
        await (await producer.send(names(ATTEMPTS), "AttemptFinished", record, record["msg_id"].encode()))

    codec = AvroCodec()
    cache = await ConfigFollower(settings.kafka_bootstrap_servers, names(CONFIG), codec).start()
    try:
        async with StatusLog(settings, producer) as status:
            processor = StatusProcessor(settings, codec, cache, StatusMetrics(CollectorRegistry()))
            async with processor:
                table = processor.app.tables["messages"]
                await send(pending)  # first, and never pruned: once its status is out, the processor is running
                await status.wait_for(lambda: bool(status.of(retrying["msg_id"])), "the processor to start")
                delivered = _attempt(done, endpoint, 200)
                await send(delivered)
                pair_key = f"{done['msg_id']}:{endpoint}"
                await status.wait_for(lambda: status.of(done["msg_id"])[-1:] == [TOMBSTONE], "the pruned status")
                await status.wait_for(lambda: status.of(pair_key)[-1:] == [TOMBSTONE], "the pruned pair")
                assert status.of(done["msg_id"])[0] == "MessageStatus", "written first, forgotten after the retention"
                assert done["msg_id"] not in table
                assert retrying["msg_id"] in table, "a status still retrying is kept"
                assert TOMBSTONE not in status.of(retrying["msg_id"])

                # The same attempt again, as after a crash before the commit: forgotten again, not resurrected.
                seen = len(status.of(done["msg_id"]))
                await send(delivered)
                await send(_attempt(marker, endpoint, 200))
                await status.wait_for(lambda: bool(status.of(marker["msg_id"])), "the marker's status")
                assert set(status.of(done["msg_id"])[seen:]) <= {TOMBSTONE}
                assert done["msg_id"] not in table

            # A restart recovers the table from its changelog: the pruned entry stays deleted.
            before = len(status.events)
            processor = StatusProcessor(settings, codec, cache, StatusMetrics(CollectorRegistry()))
            async with processor:
                table = processor.app.tables["messages"]
                await send(_attempt(builders.message(app["app_id"]), endpoint, 500, datetime.now(UTC) + timedelta(1)))
                await status.wait_for(lambda: retrying["msg_id"] in table, "the recovered table")
                await status.wait_for(lambda: len(status.events) > before, "the restarted processor's output")
                assert done["msg_id"] not in table
                assert "MessageStatus" not in status.of(done["msg_id"])[seen:]
                assert TOMBSTONE not in status.of(retrying["msg_id"]) + status.of(f"{retrying['msg_id']}:{endpoint}")
    finally:
        await cache.stop()
