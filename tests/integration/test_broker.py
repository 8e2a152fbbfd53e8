"""The local broker launcher and the topic catalogue, against the session's real broker."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from hookstream.foundation.settings import Settings
from hookstream.log.admin import create_topics, describe_topics
from hookstream.log.topics import catalogue
from hookstream.runtime.kafka_dist import KafkaDistribution, pinned_kafka_version
from hookstream.runtime.local_kafka import (
    LocalKafka,
    PortInUse,
    choose_ports,
    new_cluster_id,
    server_properties,
)

pytestmark = pytest.mark.integration


async def test_topics_create_is_idempotent_and_listed(kafka: str, settings: Settings) -> None:
    specs = catalogue(settings)
    created = await create_topics(kafka, specs)
    assert sorted(created) == sorted(spec.name for spec in specs)
    assert await create_topics(kafka, specs) == []
    infos = {info.name: info for info in await describe_topics(kafka, settings.topic_namespace)}
    assert set(infos) == {spec.name for spec in specs}
    for spec in specs:
        assert infos[spec.name].partitions == spec.partitions
        assert infos[spec.name].end_offsets == (0,) * spec.partitions


async def test_compacted_topics_are_compacted(kafka: str, settings: Settings) -> None:
    await create_topics(kafka, catalogue(settings))
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        resources = [
            ConfigResource(ConfigResourceType.TOPIC, settings.topic_namespace + name)
            for name in ("config", "status", "attempts", "idempotency")
        ]
        responses = await admin.describe_configs(resources)
    finally:
        await admin.close()
    policies, retention = {}, {}
    for response in responses:
        for _code, _msg, _type, name, entries in response.resources:
            policies[name] = {entry[0]: entry[1] for entry in entries}["cleanup.policy"]
            retention[name] = {entry[0]: entry[1] for entry in entries}["retention.ms"]
    ns = settings.topic_namespace
    assert policies == {f"{ns}config": "compact", f"{ns}status": "compact", f"{ns}attempts": "delete",
                        f"{ns}idempotency": "compact,delete"}  # fmt: skip
    assert retention[f"{ns}idempotency"] == str(12 * 3600 * 1000), "Kafka forgets keys past the window"


def test_taken_port_is_named(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(PortInUse, match=f"port {port} .* is in use"):
            choose_ports(tmp_path, port)


def test_free_ports_are_remembered_for_the_next_start(tmp_path: Path) -> None:
    first = choose_ports(tmp_path, 0)
    (tmp_path / "ports.json").write_text(f'{{"client": {first.client}, "controller": {first.controller}}}')
    assert choose_ports(tmp_path, 0) == first


def test_kraft_configuration() -> None:
    from hookstream.runtime.local_kafka import BrokerPorts

    text = server_properties(Path("/data/log"), BrokerPorts(19092, 19093))
    props = dict(line.split("=", 1) for line in text.splitlines())
    assert props["process.roles"] == "broker,controller"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    ids = [new_cluster_id() for _ in range(2000)]  # one in 64 random ids would start with "-"
    assert all(len(cluster_id) == 22 and "=" not in cluster_id for cluster_id in ids)
    assert not any(cluster_id.startswith("-") for cluster_id in ids)


def test_broker_that_cannot_start_reports_its_log(tmp_path: Path) -> None:
    empty = tmp_path / "no-jars"
    empty.mkdir()
    broker = LocalKafka(KafkaDistribution(pinned_kafka_version(), empty), tmp_path / "data", start_timeout_s=20)
    with pytest.raises(RuntimeError, match="formatting the broker's storage failed"):
        broker.start()
    assert broker.pid is None
