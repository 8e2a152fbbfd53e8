"""hookstream scaled out for fault injection: a dedicated broker and one process per role, all on 127.0.0.1.

The broker is this harness's own (not the test session's), so stopping it
hurts nobody else. Each role runs as ``hookstream run --roles <role>`` with
its own HTTP port (for ``/health``) and its logs appended to one file per
role across restarts. ClickHouse is one store process (``hookstream store``,
chDB behind ClickHouse's HTTP interface) on a port fixed across its restarts;
the schema is migrated once before the roles start, as docker-compose's init
step does, and every role, the checks here and the rebuild reach it over HTTP.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import load_settings
from hookstream.log.admin import create_topics, wait_for_broker
from hookstream.log.topics import ATTEMPTS, COMMANDS, CONFIG, MESSAGES, STATUS, TopicNames, catalogue
from hookstream.runtime.clickhouse import connect
from hookstream.runtime.kafka_dist import ensure_kafka
from hookstream.runtime.local_kafka import LocalKafka, free_port
from hookstream.runtime.store_process import store_answers, store_url
from hookstream.store.users import WRITER

ROLES = ("api", "intake", "router", "deliver", "schedule", "status", "project")
PROJECTED = (MESSAGES, CONFIG, ATTEMPTS, STATUS, COMMANDS)


def get_health(port: int, timeout_s: float = 5.0) -> tuple[int, dict[str, Any]]:
    """``/health`` of one process: (status, body), or (0, {}) when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=timeout_s) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return 0, {}


@dataclass
class RoleProcess:
    role: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Cluster:
    work: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    token: str = "hs_op_chaos-operator-token"
    secret_keys: str = field(default_factory=new_key_text)
    broker: LocalKafka | None = None
    roles: dict[str, RoleProcess] = field(default_factory=dict)
    store: RoleProcess | None = None

    @property
    def namespace(self) -> str:
        return f"chaos.{self.tag}."

    @property
    def bootstrap(self) -> str:
        assert self.broker is not None
        return self.broker.bootstrap_servers

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.roles['api'].port}"

    @property
    def store_dir(self) -> Path:
        """The store's chDB directory: the projection lives under it."""
        return self.work / "store"

    @property
    def clickhouse_url(self) -> str:
        assert self.store is not None, "the store has not been started"
        return store_url(self.store_dir, self.store.port, WRITER)

    @property
    def database(self) -> str:
        return "chaos"

    def env(self, role: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("HOOKSTREAM_") and key not in ("KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL")
        }
        return {
            **env,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "HOOKSTREAM_DATA_DIR": str(self.work / f"data-{role}"),
            "HOOKSTREAM_TOPIC_NAMESPACE": self.namespace,
            "HOOKSTREAM_TOPIC_PARTITIONS": "3",
            "HOOKSTREAM_RETRY_SCHEDULE": "0s,1s,2s,4s",
            "HOOKSTREAM_CLICKHOUSE_URL": self.clickhouse_url,
            "HOOKSTREAM_CLICKHOUSE_DATABASE": self.database,
            "HOOKSTREAM_HTTP_PORT": str(self.roles[role].port) if role in self.roles else "0",
            "HOOKSTREAM_OPERATOR_TOKEN": self.token,
            "HOOKSTREAM_SECRET_KEYS": self.secret_keys,
            "HOOKSTREAM_DELIVERY_ALLOWED_NETWORKS": "127.0.0.0/8",
            "HOOKSTREAM_DELIVERY_TIMEOUT_S": "5",
            "HOOKSTREAM_PROJECTOR_BATCH_S": "0.3",
            "HOOKSTREAM_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }

    # --- the broker -------------------------------------------------------------

    async def start_broker(self) -> None:
        if self.broker is None:
            dist = ensure_kafka(load_settings(env={}).kafka_jars_dir)
            self.broker = LocalKafka(dist, self.work / "kafka", heap="384m", start_timeout_s=90)
        await asyncio.to_thread(self.broker.start)
        await wait_for_broker(self.bootstrap, 90)

    async def stop_broker(self) -> None:
        assert self.broker is not None
        await asyncio.to_thread(self.broker.stop)

    async def create_topics(self) -> None:
        settings = load_settings(env=self.env("admin"))
        await create_topics(self.bootstrap, catalogue(settings))

    # --- the store ---------------------------------------------------------------

    def start_store(self) -> RoleProcess:
        """``hookstream store`` on the cluster's directory, on the same port at every start (the URLs name it)."""
        store = self.store or RoleProcess("store", free_port(), self.work / "store.log")
        self.store = store
        command = [sys.executable, "-m", "hookstream.cli", "store", "--port", str(store.port),
                   "--data-dir", str(self.store_dir)]  # fmt: skip
        with store.log_path.open("ab") as out:
            store.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        store.starts += 1
        return store

    async def wait_store(self, timeout_s: float = 90) -> float:
        """Seconds until the store answers ``/ping``; fails if it exits first or stays silent."""
        assert self.store is not None
        started = time.monotonic()
        while not await asyncio.to_thread(store_answers, self.store.port):
            assert self.store.alive(), f"the store exited; see {self.store.log_path}"
            assert time.monotonic() - started < timeout_s, f"the store did not answer within {timeout_s} s"
            await asyncio.sleep(0.25)
        return time.monotonic() - started

    def stop_store(self, timeout_s: float = 30) -> None:
        if self.store is not None and self.store.alive():
            assert self.store.process is not None
            self.store.process.terminate()
            self.store.process.wait(timeout=timeout_s)

    def migrate(self) -> None:
        """``hookstream migrate`` once, before the roles start (docker-compose's init step)."""
        result = subprocess.run([sys.executable, "-m", "hookstream.cli", "migrate"], env=self.env("migrate"),
                                capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr[-3000:]

    # --- the role processes -----------------------------------------------------

    def start_role(self, role: str) -> RoleProcess:
        proc = self.roles.get(role) or RoleProcess(role, free_port(), self.work / f"{role}.log")
        self.roles[role] = proc
        with proc.log_path.open("ab") as out:
            proc.process = subprocess.Popen(
                [sys.executable, "-m", "hookstream.cli", "run", "--roles", role],
                env=self.env(role), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        proc.starts += 1
        return proc

    def kill9(self, role: str) -> None:
        """SIGKILL to a role's process, or to the store's (``role`` "store"), and reap it."""
        proc = self.store if role == "store" else self.roles[role]
        assert proc is not None and proc.process is not None
        proc.process.send_signal(signal.SIGKILL)
        proc.process.wait(timeout=10)

    def terminate(self, role: str, timeout_s: float = 30) -> None:
        proc = self.roles[role]
        if proc.process is None or proc.process.poll() is not None:
            return
        proc.process.terminate()
        try:
            proc.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.process.kill()
            proc.process.wait(timeout=10)

    async def wait_healthy(self, role: str, timeout_s: float = 90) -> float:
        """Seconds until the role's ``/health`` answers 200; fails if the process exits or stays unhealthy."""
        proc = self.roles[role]
        started = time.monotonic()
        last: tuple[int, dict[str, Any]] = (0, {})
        while time.monotonic() - started < timeout_s:
            if not proc.alive():
                code = proc.process and proc.process.returncode
                raise AssertionError(f"{role} exited with {code}; see {proc.log_path}")
            last = await asyncio.to_thread(get_health, proc.port, 4.0)
            if last[0] == 200:
                return time.monotonic() - started
            await asyncio.sleep(0.25)
        raise AssertionError(f"{role} not healthy within {timeout_s} s: {last}")

    async def start_all(self) -> None:
        """The roles, once the store runs and the schema is migrated."""
        await asyncio.to_thread(self.migrate)
        for role in ROLES:
            self.start_role(role)
        await asyncio.gather(*(self.wait_healthy(role, 180) for role in ROLES))

    def stop_all(self) -> None:
        for role in reversed(ROLES):
            if role in self.roles:
                self.terminate(role)

    def log_text(self) -> str:
        processes = [*self.roles.values(), *([self.store] if self.store else [])]
        return "".join(proc.log_path.read_text(errors="replace") for proc in processes)

    # --- offsets and the projection ---------------------------------------------

    async def projector_lag(self) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
        """(committed offsets of the projector's group, end offsets) over the topics it projects."""
        names = TopicNames(self.namespace, "0s,1s,2s,4s")
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(f"{self.namespace}projector")
            described = await admin.describe_topics([names(t) for t in PROJECTED])
        finally:
            await admin.close()
        partitions = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await consumer.start()
        try:
            ends = await consumer.end_offsets(partitions)
        finally:
            await consumer.stop()
        return {tp: meta.offset for tp, meta in committed.items() if tp in ends}, ends

    async def wait_projector_caught_up(
        self, timeout_s: float = 120, target: dict[TopicPartition, int] | None = None
    ) -> float:
        """Seconds until the projector's committed offsets reach ``target`` (default: the end offsets).

        Under a running load the end moves on all the time, so "no lag at all" is
        a moment that may never come; pass the end offsets of a moment (a fault's
        repair) to ask whether everything up to it was projected.
        """
        started = time.monotonic()
        while True:
            committed, ends = await self.projector_lag()
            goal = ends if target is None else target
            behind = {tp: end - committed.get(tp, 0) for tp, end in goal.items() if end > committed.get(tp, 0)}
            if not behind:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                raise AssertionError(f"projector still behind after {timeout_s} s: {behind}")
            await asyncio.sleep(0.5)

    def query(self, *sql: str, drop_database: bool = False) -> list[list[list[Any]]]:
        """Run queries on the projection through the store, the rows of each as JSON would carry them."""
        client = connect(self.clickhouse_url, self.database)
        try:
            if drop_database:
                client.command(f"DROP DATABASE {self.database} SYNC")
            results = [[list(row) for row in client.query(query).result_rows] for query in sql]
        finally:
            client.close()
        return json.loads(json.dumps(results, default=str))

    def rebuild(self) -> subprocess.CompletedProcess[str]:
        """``hookstream project --rebuild`` on the projection, as an operator runs it."""
        return subprocess.run(
            [sys.executable, "-m", "hookstream.cli", "project", "--rebuild"],
            env=self.env("project"),
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
