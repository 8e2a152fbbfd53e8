"""Consumer lag of the groups a process runs, as Prometheus gauges.

Lag is what an operator scales a role on (and what a Kubernetes autoscaler
reads through an external metric), so every process reports the groups of
the roles it runs: the figure comes from the process that does the work,
and a process with several roles reports each. Sampling reads committed
offsets from the group coordinator and the partitions' start and end offsets
from the brokers every ``metrics_lag_interval_s``; a failed round leaves the
previous figures and is tried again at the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Gauge

from hookstream.domain.lag import partition_lag
from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import cancel_and_wait
from hookstream.log.topics import (
    ATTEMPTS,
    COMMANDS,
    CONFIG,
    DEAD_LETTER,
    INTAKE,
    MESSAGES,
    OPERATIONAL,
    STATUS,
    TASKS,
)

log = logging.getLogger("hookstream.lag")

ROLE_GROUPS: Mapping[str, Mapping[str, Sequence[str]]] = {
    "router": {"router": (MESSAGES,)},
    "intake": {"intake": (INTAKE,)},
    "deliver": {"delivery": (TASKS,)},
    "schedule": {"scheduler": (ATTEMPTS,), "scheduler-tiers": (), "recover": (COMMANDS,)},
    "status": {"status": (ATTEMPTS,), "operational-relay": (OPERATIONAL,)},
    "project": {"projector": (MESSAGES, CONFIG, ATTEMPTS, STATUS, COMMANDS)},
}
"""Each role's consumer groups (short names, under the namespace) and the topics they read for certain.

A group's other topics (delay tiers, a faust app's internal topics) are
found in its committed offsets.
"""


def groups_of(roles: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Short group name -> topics it reads, for the roles named (roles without a group, e.g. ``api``, add none)."""
    return {group: tuple(topics) for role in roles for group, topics in ROLE_GROUPS.get(role, {}).items()}


class LagGauges:
    """Samples the lag of ``groups`` into ``hookstream_consumer_lag{group,topic,partition}``.

    With ``dead_letters`` it also reports ``hookstream_dead_letters_written``: the records ever written to the
    dead-letter topic (its end offsets, summed), whose rise is the alert "dead letters arriving".
    """

    def __init__(
        self, settings: Settings, groups: Mapping[str, Sequence[str]], registry: CollectorRegistry,
        *, dead_letters: bool = False,
    ) -> None:  # fmt: skip
        self._bootstrap = settings.kafka_bootstrap_servers
        self._interval_s = settings.metrics_lag_interval_s
        namespace = settings.topic_namespace
        self._groups = {namespace + group: [namespace + t for t in topics] for group, topics in groups.items()}
        self._dead_letters = namespace + DEAD_LETTER if dead_letters else None
        self.lag = Gauge(
            "hookstream_consumer_lag", "Records between a consumer group's committed offset and the partition's end",
            ["group", "topic", "partition"], registry=registry,
        )  # fmt: skip
        self.written = (
            Gauge("hookstream_dead_letters_written", "Records ever written to the dead-letter topic", registry=registry)
            if dead_letters
            else None
        )
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, dict[tuple[str, int], int]] = {}

    async def start(self) -> LagGauges:
        self._admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap, request_timeout_ms=5000)
        await self._admin.start()
        self._offsets = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None, enable_auto_commit=False)
        await self._offsets.start()
        self._task = asyncio.create_task(self._loop(), name="consumer-lag")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
        if self._offsets is not None:
            await self._offsets.stop()
        if self._admin is not None:
            await self._admin.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self.sample()
            except Exception as error:  # the broker away: the gauges keep their last figures
                log.warning("consumer lag not sampled: %s", error)
            await asyncio.sleep(self._interval_s)

    async def sample(self) -> None:
        """One round: every group's lag per partition, and the dead letters written.

        A group whose coordinator does not answer (not elected yet, moving) keeps its previous figures.
        """
        assert self._admin is not None and self._offsets is not None
        committed: dict[str, dict[TopicPartition, int]] = {}
        for group in self._groups:
            try:
                offsets = await self._admin.list_consumer_group_offsets(group)
            except KafkaError as error:
                log.info("consumer lag of %s not sampled: %s", group, error)
                continue
            committed[group] = {tp: meta.offset for tp, meta in offsets.items()}
        topics = {t for ts in self._groups.values() for t in ts} | {tp.topic for c in committed.values() for tp in c}
        if self._dead_letters:
            topics.add(self._dead_letters)
        partitions = await self._partitions(sorted(topics))
        starts = await self._offsets.beginning_offsets(partitions)
        ends = await self._offsets.end_offsets(partitions)
        for group, offsets in committed.items():
            read = set(self._groups[group]) | {tp.topic for tp in offsets}
            mine = {tp: end for tp, end in ends.items() if tp.topic in read}
            lags = partition_lag(offsets, starts, mine)
            self._last[group] = {(tp.topic, tp.partition): lag for tp, lag in lags.items()}
        self.lag.clear()
        for group, lags in self._last.items():
            for (topic, partition), lag in lags.items():
                self.lag.labels(group, topic, str(partition)).set(lag)
        if self.written is not None:
            self.written.set(sum(end for tp, end in ends.items() if tp.topic == self._dead_letters))

    async def _partitions(self, topics: list[str]) -> list[TopicPartition]:
        assert self._admin is not None
        described = await self._admin.describe_topics(topics)
        return [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            if not topic["error_code"]
            for partition in topic["partitions"]
        ]


@contextlib.asynccontextmanager
async def lag_gauges(settings: Settings, roles: Sequence[str], registry: CollectorRegistry) -> AsyncIterator[None]:
    """Lag gauges for the groups of ``roles`` while the block runs; nothing when none has a group or it is off."""
    groups = groups_of(roles)
    if not groups or settings.metrics_lag_interval_s <= 0:
        yield
        return
    gauges = await LagGauges(settings, groups, registry, dead_letters="project" in roles).start()
    try:
        yield
    finally:
        await gauges.stop()
