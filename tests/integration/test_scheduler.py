"""The scheduler as an operator runs it (`hookstream run --roles schedule`), killed with retries pending.

Failed attempts asking for retries go onto ``attempts``; the scheduler puts
the next tasks on three delay tiers (due a few seconds out, out of order
within each tier, with a window of 2 records so the partitions pause and
rewind). The process is SIGKILLed once the first retries have fired and the
rest are still pending in every tier, then started again: every retry must
reach ``tasks`` (a repeat carries the same attempt number and bytes), and
none before it was due.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from hookstream.domain.ids import generate_id
from hookstream.foundation.settings import Settings
from hookstream.log.admin import create_topics
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, TASKS, TopicNames, catalogue
from hookstream.runtime.local_kafka import free_port
from tests.support import builders
from tests.support.log import send_all

pytestmark = pytest.mark.integration

PER_TIER = 8
TIERS = (1, 2, 3)


@pytest.fixture
async def scheduler_settings(settings: Settings, kafka: str) -> Settings:
    settings = settings.replace(retry_schedule="0s,1s,2s,3s", scheduler_window_records=2)
    await create_topics(kafka, catalogue(settings))
    return settings


def _start(settings: Settings, workdir: Path, run: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "HOOKSTREAM_TOPIC_NAMESPACE": settings.topic_namespace,
        "HOOKSTREAM_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "HOOKSTREAM_RETRY_SCHEDULE": settings.retry_schedule,
        "HOOKSTREAM_SCHEDULER_WINDOW_RECORDS": str(settings.scheduler_window_records),
        "HOOKSTREAM_DATA_DIR": str(workdir),
        "HOOKSTREAM_CLICKHOUSE_URL": settings.clickhouse_url,
        "HOOKSTREAM_CLICKHOUSE_DATABASE": settings.clickhouse_database,
        "HOOKSTREAM_HTTP_PORT": str(port),
    }
    with (workdir / f"stderr-{run}.log").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "hookstream.cli", "run", "--roles", "schedule"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    return process, port


def _health(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
        return int(response.status)


async def _wait_healthy(process: subprocess.Popen[bytes], port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the scheduler exited with {process.returncode}"
        try:
            if await asyncio.to_thread(_health, port) == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the scheduler did not become healthy")


def _failed_attempt(number: int, due: datetime, finished: datetime) -> dict[str, Any]:
    endpoint_id = str(generate_id())
    record = builders.attempt(builders.message(str(generate_id())), endpoint_id, attempt_number=number, status=500)
    payload = f'{{"n": "{uuid.uuid4().hex}"}}'.encode()
    return record | {"finished_at": finished, "next_attempt_at": due, "retry_type": "fast", "payload": payload,
                     "accepted_at": finished}  # fmt: skip


async def _end_offsets(bootstrap: str, topics: list[str]) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def _wait_offsets(bootstrap: str, topics: list[str], at_least: int, timeout_s: float = 30) -> int:
    deadline = time.monotonic() + timeout_s
    while (total := await _end_offsets(bootstrap, topics)) < at_least:
        assert time.monotonic() < deadline, f"{topics} hold {total} records, expected {at_least}"
        await asyncio.sleep(0.1)
    return total


async def _read_tasks(bootstrap: str, topic: str, codec: AvroCodec, count: int) -> list[tuple[int, bytes, dict]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[tuple[int, bytes, dict]] = []
    try:
        async with asyncio.timeout(30):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [(r.timestamp, r.value, codec.decode(r.value)[1]) for r in records]
    finally:
        await consumer.stop()
    return found


async def test_scheduler_killed_with_retries_pending_in_every_tier_fires_each_once_and_never_early(
    scheduler_settings: Settings, producer: EventProducer, tmp_path: Path
) -> None:
    settings = scheduler_settings
    names = TopicNames.from_settings(settings)
    tier_topics = [names.retry_tier(tier) for tier in TIERS]
    bootstrap = settings.kafka_bootstrap_servers
    process, port = _start(settings, tmp_path, 1)
    try:
        await _wait_healthy(process, port)
        now = datetime.now(UTC)
        rng = random.Random(5)
        # Due from 2 s on, out of order within each tier (jitter), the last ones 6 s out.
        attempts = [
            _failed_attempt(tier, now + timedelta(seconds=2 + tier + rng.uniform(-1, 1)), now)
            for tier in TIERS for _ in range(PER_TIER)
        ]  # fmt: skip
        await send_all(producer, names(ATTEMPTS), "AttemptFinished", attempts, "msg_id")
        await _wait_offsets(bootstrap, tier_topics, len(attempts))
        await _wait_offsets(bootstrap, [names(TASKS)], 1)  # the first retries fired; the rest wait in the tiers
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        fired_before_kill = await _end_offsets(bootstrap, [names(TASKS)])
        assert fired_before_kill < len(attempts), "every retry fired before the kill: nothing was pending"

        process, port = _start(settings, tmp_path, 2)
        await _wait_healthy(process, port)
        await _wait_offsets(bootstrap, [names(TASKS)], len(attempts))
        await asyncio.sleep(0.5)  # let a repeat, if any, land too
        total = await _end_offsets(bootstrap, [names(TASKS)])
        forwarded = await _read_tasks(bootstrap, names(TASKS), producer.codec, total)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(20)

    expected = {(a["msg_id"], a["attempt_number"] + 1): a for a in attempts}
    seen: dict[tuple[str, int], bytes] = {}
    for timestamp_ms, value, task in forwarded:
        key = (task["msg_id"], task["attempt_number"])
        assert key in expected, key
        source = expected[key]
        assert task["due_at"] == source["next_attempt_at"] and task["payload"] == source["payload"]
        assert timestamp_ms >= int(task["due_at"].timestamp() * 1000), f"{key} forwarded before it was due"
        assert seen.setdefault(key, value) == value, "a repeat must be the same task"
    assert set(seen) == set(expected), "a pending retry was lost across the kill"
    assert len(forwarded) - len(seen) <= settings.scheduler_window_records * len(TIERS) * settings.topic_partitions
