"""A single-node Kafka broker in KRaft mode, started and stopped by hookstream.

Used by ``hookstream dev`` and the test suite. The JVM is tied to its parent:
on Linux it gets ``PR_SET_PDEATHSIG`` so that even a ``kill -9`` of hookstream
takes the broker with it, and ``stop()`` (called on exit, Ctrl-C and SIGTERM)
terminates it politely first. The data directory is kept between runs; the
ports it last used are reused when they are still free, so a restarted broker
keeps its identity.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import json
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from hookstream.runtime.kafka_dist import KafkaDistribution
from hookstream.runtime.paths import kafka_deploy_dir

_PR_SET_PDEATHSIG = 1


class PortInUse(RuntimeError):
    """The configured broker port is taken by another program."""


@dataclass(frozen=True, slots=True)
class BrokerPorts:
    client: int
    controller: int


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def choose_ports(data_dir: Path, requested_client: int) -> BrokerPorts:
    """Ports for the broker: the requested one, else last run's, else free ones."""
    saved = data_dir / "ports.json"
    if requested_client:
        if not _port_free(requested_client):
            raise PortInUse(
                f"port {requested_client} on 127.0.0.1 (HOOKSTREAM_KAFKA_PORT) is in use by another program: "
                "stop it, choose another port, or set HOOKSTREAM_KAFKA_PORT=0 to pick a free one"
            )
        controller = free_port()
        return BrokerPorts(requested_client, controller)
    if saved.exists():
        previous = BrokerPorts(**json.loads(saved.read_text()))
        if _port_free(previous.client) and _port_free(previous.controller):
            return previous
    client = free_port()
    controller = free_port()
    while controller == client:
        controller = free_port()
    return BrokerPorts(client, controller)


def new_cluster_id() -> str:
    """Kafka's cluster id form: a random UUID as 22 characters of URL-safe base64.

    Never starting with ``-`` (as Kafka's own ``Uuid.randomUuid`` ensures): the
    storage tool's argument parser would read such an id as an option and fail
    the start, once in 64 starts.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not text.startswith("-"):
            return text


def server_properties(log_dirs: Path, ports: BrokerPorts) -> str:
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{ports.controller}",
        "listeners": f"PLAINTEXT://127.0.0.1:{ports.client},CONTROLLER://127.0.0.1:{ports.controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{ports.client}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dirs),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        "log.segment.bytes": str(64 * 1024 * 1024),
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGKILL it when its parent dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class LocalKafka:
    """The broker process; ``start()``/``stop()`` or ``with LocalKafka(...) as broker``."""

    def __init__(
        self,
        dist: KafkaDistribution,
        data_dir: Path,
        *,
        heap: str = "512m",
        port: int = 0,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.dist = dist
        self.data_dir = data_dir.expanduser().resolve()
        self.heap = heap
        self.requested_port = port
        self.start_timeout_s = start_timeout_s
        self.ports: BrokerPorts | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        if self.ports is None:
            raise RuntimeError("the local broker is not started")
        return f"127.0.0.1:{self.ports.client}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _java(self, main_class: str, *args: str, heap: str = "256m") -> list[str]:
        return [
            "java", f"-Xmx{heap}", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{kafka_deploy_dir() / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp", self.dist.classpath, main_class, *args,
        ]  # fmt: skip

    def _format_storage(self, config: Path, log_dirs: Path) -> None:
        if (log_dirs / "meta.properties").exists():
            return
        cmd = self._java("kafka.tools.StorageTool", "format", "-t", new_cluster_id(), "-c", str(config))
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"formatting the broker's storage failed: {result.stdout}{result.stderr}")

    def start(self) -> LocalKafka:
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        log_dirs = self.data_dir / "log"
        self.ports = choose_ports(self.data_dir, self.requested_port)
        config = self.data_dir / "server.properties"
        config.write_text(server_properties(log_dirs, self.ports))
        self._format_storage(config, log_dirs)
        (self.data_dir / "ports.json").write_text(
            json.dumps({"client": self.ports.client, "controller": self.ports.controller})
        )
        cmd = self._java("kafka.Kafka", str(config), heap=self.heap)
        stdout = (self.data_dir / "logs" / "stdout.log").open("ab")
        self._process = subprocess.Popen(
            cmd,
            stdout=stdout,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
        )
        stdout.close()
        try:
            self._wait_until_listening()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_listening(self) -> None:
        assert self.ports is not None and self._process is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = self.data_dir / "logs" / "server.log"
                tail = log.read_text(errors="replace").splitlines()[-20:] if log.exists() else []
                raise RuntimeError(
                    f"the Kafka broker exited with code {self._process.returncode}; last log lines:\n" + "\n".join(tail)
                )
            with socket.socket() as sock:
                sock.settimeout(0.5)
                if sock.connect_ex(("127.0.0.1", self.ports.client)) == 0:
                    return
            time.sleep(0.2)
        raise TimeoutError(
            f"the Kafka broker did not listen on port {self.ports.client} within "
            f"{self.start_timeout_s:.0f} s; see {self.data_dir / 'logs'}"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it has not exited in time."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
