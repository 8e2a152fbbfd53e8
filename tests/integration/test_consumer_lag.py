"""Consumer lag gauges against a real broker: what a group has not committed, and every group the roles run."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import OffsetAndMetadata
from prometheus_client import CollectorRegistry

from hookstream.foundation.settings import Settings
from hookstream.log.lag import LagGauges, groups_of
from hookstream.log.producer import EventProducer
from hookstream.log.topics import DEAD_LETTER, MESSAGES, TopicNames
from hookstream.runtime.roles import ALL_ROLES, running_roles
from tests.support import builders

pytestmark = pytest.mark.integration


def _lag(registry: CollectorRegistry, group: str) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["topic"], sample.labels["partition"]): sample.value
        for family in registry.collect()
        if family.name == "hookstream_consumer_lag"
        for sample in family.samples
        if sample.labels["group"] == group
    }


async def test_lag_is_what_the_group_has_not_committed(settings: Settings, topics: TopicNames, producer: EventProducer):
    app_id = builders.application()["app_id"]
    sent = [await producer.send(topics(MESSAGES), "MessageAccepted", builders.message(app_id), f"k{n}".encode())
            for n in range(30)]  # fmt: skip
    partitions = [(await future).partition for future in sent]
    await (await producer.send_raw(topics(DEAD_LETTER), b"not even avro", b"k"))
    registry = CollectorRegistry()
    gauges = await LagGauges(settings.replace(metrics_lag_interval_s=3600), {"router": (MESSAGES,)}, registry,
                             dead_letters=True).start()  # fmt: skip
    try:
        group = topics.namespace + "router"
        for _ in range(40):  # a fresh broker elects the group's coordinator on first ask
            await gauges.sample()
            if lag := _lag(registry, group):
                break
            await asyncio.sleep(0.25)
        assert sum(lag.values()) == 30  # never committed: behind by everything the log holds
        assert {key[1] for key in lag} == {"0", "1", "2"}
        assert registry.get_sample_value("hookstream_dead_letters_written") == 1

        committer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=group,
                                     enable_auto_commit=False)  # fmt: skip
        await committer.start()
        try:
            first = TopicPartition(topics(MESSAGES), partitions[0])
            committer.assign([first])
            end = (await committer.end_offsets([first]))[first]
            await committer.commit({first: OffsetAndMetadata(end, "")})
        finally:
            await committer.stop()
        await gauges.sample()
        lag = _lag(registry, group)
        assert lag[(topics(MESSAGES), str(partitions[0]))] == 0
        assert sum(lag.values()) == 30 - partitions.count(partitions[0])
    finally:
        await gauges.stop()


async def test_every_group_the_roles_join_is_one_the_gauges_report(api_settings: Settings, topics: TopicNames):
    """The role -> groups table is kept by hand; a role that joins a group it does not name fails here."""
    settings = api_settings  # the test's settings with a sealing key, as the roles need
    async with running_roles(settings, ALL_ROLES, CollectorRegistry()):
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        await admin.start()
        try:
            expected = {topics.namespace + group for group in groups_of(ALL_ROLES)}
            joined: set[str] = set()
            for _ in range(60):  # the faust apps join once their agents start
                joined = {g[0] for g in await admin.list_consumer_groups() if g[0].startswith(topics.namespace)}
                if joined >= expected:
                    break
                await asyncio.sleep(0.5)
        finally:
            await admin.close()
    assert joined == expected
