"""Topic administration: create the catalogue idempotently, describe what exists."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from hookstream.log.topics import TopicSpec


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str
    partitions: int
    end_offsets: tuple[int, ...]

    @property
    def records(self) -> int:
        return sum(self.end_offsets)


async def wait_for_broker(bootstrap: str, timeout_s: float = 60.0) -> None:
    """Block until the cluster answers a metadata request (a listening port is not enough)."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            last = exc
            await asyncio.sleep(0.3)
        finally:
            await admin.close()
    raise TimeoutError(f"Kafka at {bootstrap} did not answer within {timeout_s:.0f} s: {last}")


async def create_topics(bootstrap: str, specs: Sequence[TopicSpec], replication_factor: int = 1) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        created: list[str] = []
        for spec in missing:
            topic = NewTopic(spec.name, spec.partitions, replication_factor, topic_configs=spec.config)
            try:
                response = await admin.create_topics([topic])
            except TopicAlreadyExistsError:
                continue  # another process created it between list and create
            for name, code, *rest in response.topic_errors:
                if code == TopicAlreadyExistsError.errno:
                    continue
                if code != 0:
                    message = rest[0] if rest else ""
                    raise RuntimeError(f"creating topic {name} failed with Kafka error {code}: {message}")
                created.append(name)
        await _await_metadata(bootstrap, {spec.name: spec.partitions for spec in missing})
        return created
    finally:
        await admin.close()


async def _await_metadata(bootstrap: str, expected: dict[str, int], timeout_s: float = 30.0) -> None:
    """Return once the broker's metadata shows every new topic with all its partitions.

    A create request is answered by the controller before every broker's
    metadata cache has the topic; a caller that produces or describes right
    away would otherwise see it missing.
    """
    if not expected:
        return
    client = AIOKafkaClient(bootstrap_servers=bootstrap)
    await client.bootstrap()
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            cluster = await client.fetch_all_metadata()  # a fresh snapshot, not the client's cached view
            if all(len(cluster.partitions_for_topic(name) or ()) == n for name, n in expected.items()):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics {sorted(expected)} not in the broker's metadata after {timeout_s:.0f} s")
            await asyncio.sleep(0.1)
    finally:
        await client.close()


async def describe_topics(bootstrap: str, prefix: str) -> list[TopicInfo]:
    """Every topic under the namespace with its partitions and end offsets."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        await consumer.start()
    except KafkaConnectionError as exc:
        raise RuntimeError(f"cannot reach Kafka at {bootstrap}: {exc}") from exc
    try:
        names = sorted(name for name in await consumer.topics() if name.startswith(prefix))
        infos = []
        for name in names:
            partitions = sorted(consumer.partitions_for_topic(name) or ())
            tps = [TopicPartition(name, p) for p in partitions]
            ends = await consumer.end_offsets(tps) if tps else {}
            infos.append(TopicInfo(name, len(partitions), tuple(ends[tp] for tp in tps)))
        return infos
    finally:
        await consumer.stop()
