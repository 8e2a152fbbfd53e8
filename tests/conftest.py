"""Real engines for the suite: a Kafka broker, the store (chDB behind ClickHouse's HTTP interface), and HTTP
receivers on 127.0.0.1.

The broker is a testcontainers Kafka when a Docker engine answers, otherwise
hookstream's own local launcher on the jars fetched from Maven Central. A
missing engine fails the run; nothing here skips.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings, load_settings
from hookstream.log.admin import create_topics, wait_for_broker
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import TopicNames, catalogue
from hookstream.projector.migrations import apply_migrations
from hookstream.runtime.clickhouse import connect
from hookstream.runtime.kafka_dist import ensure_kafka
from hookstream.runtime.local_kafka import LocalKafka
from hookstream.runtime.roles import running_roles
from tests.support.receivers import Receiver, ReceiverCA
from tests.support.store import Store, served_store
from tests.support.svix_api import ServedApi, served_api


def _docker_engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One broker for the whole session; tests isolate themselves with a topic namespace."""
    if _docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        from hookstream.runtime.kafka_dist import pinned_kafka_version

        with KafkaContainer(f"apache/kafka:{pinned_kafka_version()}").with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    base = load_settings(env={})
    dist = ensure_kafka(base.kafka_jars_dir)
    broker = LocalKafka(dist, tmp_path_factory.mktemp("kafka"), heap="768m")
    broker.start()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
async def kafka(kafka_bootstrap: str) -> str:
    await wait_for_broker(kafka_bootstrap, 90)
    return kafka_bootstrap


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """For the tests of the ``chdb://`` path itself: chDB opens one data directory per process, so the session
    shares one; tests get a database each."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """One store for the session, reached over HTTP as production reaches ClickHouse; tests get a database each."""
    with served_store(tmp_path_factory.mktemp("store")) as store:
        yield store


@pytest.fixture
def settings(kafka_bootstrap: str, store: Store, tmp_path: Path) -> Settings:
    """Settings of one test: its own topic namespace and ClickHouse database on the shared engines."""
    tag = uuid.uuid4().hex[:10]
    return load_settings(env={}).replace(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_namespace=f"test.{tag}.",
        topic_partitions=3,
        clickhouse_url=store.clickhouse_url(),
        clickhouse_database=f"test_{tag}",
        retry_schedule="0s,1s,2s",
    )


@pytest.fixture
def clickhouse(settings: Settings) -> Iterator[Client]:
    """The test's own migrated database, dropped afterwards."""
    client = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)
    apply_migrations(client)
    yield client
    client.command(f"DROP DATABASE IF EXISTS {settings.clickhouse_database}")
    client.close()


@pytest.fixture
def role_clickhouse(settings: Settings, clickhouse: Client) -> Iterator[Client]:
    """A client of its own for a component under test (a projector, a recoverer), as each role opens its own: one
    HTTP client runs one query at a time, and the test queries through ``clickhouse`` while the component writes."""
    client = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)
    yield client
    client.close()


@pytest.fixture
async def topics(kafka: str, settings: Settings) -> TopicNames:
    await create_topics(kafka, catalogue(settings))
    return TopicNames.from_settings(settings)


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[EventProducer]:
    """A producer on the session's broker, for tests that write events where a service would."""
    async with EventProducer(kafka, AvroCodec()) as producer:
        yield producer


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames, clickhouse: Client) -> Settings:
    """What the served ``api`` runs with: the test's settings and a secret key (so endpoints can be created).
    A module whose API needs other knobs overrides this fixture, keeping the topics and database."""
    return settings.replace(secret_keys=new_key_text())


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    """The roles running beside the served ``api``: none, the API alone. A module that needs the pipeline
    behind the API (deliveries, projected rows) overrides this with ``ALL_ROLES``."""
    return ()


@pytest.fixture
async def api(
    api_settings: Settings, api_roles: tuple[str, ...], topics: TopicNames, clickhouse: Client
) -> AsyncIterator[ServedApi]:
    """The API over real HTTP on the test's topics and database, ``api_roles`` started before it and
    stopped after it."""
    async with contextlib.AsyncExitStack() as stack:
        if api_roles:
            await stack.enter_async_context(running_roles(api_settings, api_roles, CollectorRegistry()))
        yield await stack.enter_async_context(served_api(api_settings))


@pytest.fixture(scope="session")
def test_ca() -> ReceiverCA:
    return ReceiverCA()


@pytest.fixture
async def receivers(test_ca: ReceiverCA) -> AsyncIterator[ReceiverFactory]:
    factory = ReceiverFactory(test_ca)
    yield factory
    await factory.stop_all()


class ReceiverFactory:
    def __init__(self, ca: ReceiverCA) -> None:
        self.ca = ca
        self._started: list[Receiver] = []

    async def plain(self, behaviour=None, host: str = "127.0.0.1") -> Receiver:  # type: ignore[no-untyped-def]
        receiver = await Receiver(behaviour, host=host).start()
        self._started.append(receiver)
        return receiver

    async def tls(self, behaviour=None, ca: ReceiverCA | None = None) -> Receiver:  # type: ignore[no-untyped-def]
        receiver = await Receiver(behaviour, ssl_context=(ca or self.ca).server_context()).start()
        self._started.append(receiver)
        return receiver

    async def stop_all(self) -> None:
        for receiver in self._started:
            await receiver.stop()
