"""`hookstream dev` as a user runs it: a real process, its own broker, chDB, HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from svix.api import ApplicationIn, Svix, SvixOptions

from hookstream.runtime.local_kafka import free_port

pytestmark = pytest.mark.e2e


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _java_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "java"], capture_output=True, text=True, check=False).stdout
    return [int(line) for line in out.split()]


def _children(pid: int, command: str) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", f"hookstream.cli {command}"], capture_output=True,
                         text=True, check=False).stdout  # fmt: skip
    return [int(line) for line in out.split()]


def _role_processes(pid: int, roles: str = "") -> list[int]:
    """Its `hookstream run` children; with ``roles`` (e.g. "router,deliver") only those running them."""
    return [child for child in _children(pid, "run") if roles in Path(f"/proc/{child}/cmdline").read_text()]


def _delivery_processes(pid: int) -> list[int]:
    return _role_processes(pid, "router,deliver")


def _stream_processes(pid: int) -> list[int]:
    return _role_processes(pid, "project,status,schedule")


def _store_processes(pid: int) -> list[int]:
    return _children(pid, "store")


def _kill_9(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    while _pid_alive(pid):
        time.sleep(0.05)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], timeout_s: float = 120) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"hookstream dev exited with {process.returncode}"
        try:
            status, body = _get(url)
        except OSError:
            status, body = 0, b""
        if status == 200:
            return json.loads(body)
        time.sleep(0.5)
    raise AssertionError(f"{url} not healthy within {timeout_s} s")


def _start_dev(tmp_path: Path, delivery_processes: str = "1") -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    """The process, its HTTP port, and its environment (for commands run beside it)."""
    port = free_port()
    env = {
        **os.environ,
        "HOOKSTREAM_DATA_DIR": str(tmp_path / "data"),
        "HOOKSTREAM_HTTP_PORT": str(port),
        "HOOKSTREAM_STORE_PORT": str(free_port()),
        "HOOKSTREAM_KAFKA_HEAP": "384m",
        "HOOKSTREAM_LOG_FORMAT": "json",
        "HOOKSTREAM_DEV_DELIVERY_PROCESSES": delivery_processes,  # `auto` follows the machine's cores
    }
    for name in ("KAFKA_BOOTSTRAP_SERVERS", "HOOKSTREAM_KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL"):
        env.pop(name, None)
    with (tmp_path / "stdout.log").open("wb") as stdout, (tmp_path / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "hookstream.cli", "dev"], env=env, stdout=stdout, stderr=stderr
        )
    return process, port, env


def test_dev_serves_health_and_metrics_then_stops_on_sigterm(tmp_path: Path) -> None:
    process, port, env = _start_dev(tmp_path)
    try:
        body = _wait_healthy(f"http://127.0.0.1:{port}/health", process)
        # the engines, and the loops that report their own failures (a projector that cannot write, a router,
        # recover or operational relay retrying a batch) are unhealthy though Kafka and ClickHouse answer;
        # the router and the delivery worker run in a delivery process, the projector, status and the scheduler
        # in the stream process, whose roles' checks appear here by name; the store owns the embedded ClickHouse
        assert body["checks"] == {name: "ok" for name in ("kafka", "clickhouse", "projector", "recover",
                                                          "operational", "store", "delivery_process",
                                                          "stream_process")}  # fmt: skip
        status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        text = metrics.decode()
        assert 'hookstream_dependency_up{dependency="kafka"} 1.0' in text
        assert "process_resident_memory_bytes" in text
        assert 'hookstream_delivery_in_flight{process="delivery_process"} 0.0' in text  # the child's, served here
        assert 'hookstream_projector_flush_seconds_count{process="stream_process"}' in text  # and the stream process's
        assert text.count("# TYPE process_resident_memory_bytes gauge") == 1
        token_file = tmp_path / "data" / "operator_token"
        token = token_file.read_text().strip()
        assert token.startswith("hs_op_") and oct(token_file.stat().st_mode & 0o777) == "0o600"
        assert token in (tmp_path / "stdout.log").read_text()
        svix = Svix(token, SvixOptions(server_url=f"http://127.0.0.1:{port}", retry_schedule=[]))
        try:  # `hookstream dev` serves the Svix dialect with the operator token it printed
            svix.health.get()
            app = svix.application.create(ApplicationIn(name="dev", uid="dev"))
            assert svix.application.get("dev").id == app.id
        finally:
            svix._httpx_client.close()
        brokers = _java_children(process.pid)
        assert len(brokers) == 1, "hookstream dev should run exactly one broker JVM"
        stdout = (tmp_path / "stdout.log").read_text()
        users = tmp_path / "data" / "clickhouse" / "store_users.json"
        assert f"http://analytics@127.0.0.1:{env['HOOKSTREAM_STORE_PORT']}" in stdout and str(users) in stdout
        assert stdout.count("hookstream analytics:") == 1

        # the live data answers a second process while dev runs: `hookstream sql`, read-only, through the store
        sql = [sys.executable, "-m", "hookstream.cli", "sql"]
        done = subprocess.run([*sql, "select count() from attempts"], env=env, capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip
        assert done.returncode == 0 and done.stdout.splitlines()[-1] == "(1 row)", done.stdout + done.stderr
        done = subprocess.run([*sql, "drop table attempts"], env=env, capture_output=True, text=True, timeout=60,
                              check=False)  # fmt: skip
        assert done.returncode == 1 and "refused: read-only" in done.stderr and "Traceback" not in done.stderr
        migrate = [sys.executable, "-m", "hookstream.cli", "migrate"]  # as the writer: dev applied them all
        done = subprocess.run(migrate, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0 and done.stdout.startswith("applied 0 migrations"), done.stdout + done.stderr
        # where no store answers, the directory dev holds is refused in one line that says what to do
        elsewhere = {**env, "HOOKSTREAM_STORE_PORT": str(free_port())}
        for command in ([*sql, "select 1"], migrate):
            done = subprocess.run(command, env=elsewhere, capture_output=True, text=True, timeout=60, check=False)
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
            (line,) = done.stderr.strip().splitlines()
            assert "held by another process" in line and "HOOKSTREAM_STORE_PORT" in line

        # a role process that dies is named by /health, then restarted
        (child,) = _delivery_processes(process.pid)
        _kill_9(child)
        status, answer = _get(f"http://127.0.0.1:{port}/health")
        assert status == 503 and json.loads(answer)["failing"] == ["delivery_process"]
        _wait_healthy(f"http://127.0.0.1:{port}/health", process, timeout_s=60)
        (child,) = _delivery_processes(process.pid)
        # the stream process too, with the roles it runs
        (stream,) = _stream_processes(process.pid)
        _kill_9(stream)
        status, answer = _get(f"http://127.0.0.1:{port}/health")
        assert status == 503 and json.loads(answer)["failing"] == ["operational", "projector", "recover",
                                                                   "stream_process"]  # fmt: skip
        _wait_healthy(f"http://127.0.0.1:{port}/health", process, timeout_s=60)
        (stream,) = _stream_processes(process.pid)

        # so is the store; the roles reach it again on the same port once it is back
        (store,) = _store_processes(process.pid)
        _kill_9(store)
        status, answer = _get(f"http://127.0.0.1:{port}/health")
        assert status == 503 and "store" in json.loads(answer)["failing"]
        _wait_healthy(f"http://127.0.0.1:{port}/health", process, timeout_s=60)
        (store,) = _store_processes(process.pid)

        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        assert not _pid_alive(brokers[0]), "the broker JVM outlived hookstream dev"
        assert not _pid_alive(child), "the delivery process outlived hookstream dev"
        assert not _pid_alive(stream), "the stream process outlived hookstream dev"
        assert not _pid_alive(store), "the store outlived hookstream dev"
    finally:
        if process.poll() is None:
            process.kill()


def test_kill_9_of_dev_takes_the_broker_with_it(tmp_path: Path) -> None:
    process, port, _ = _start_dev(tmp_path)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}/health", process)
        brokers = _java_children(process.pid)
        children = _role_processes(process.pid) + _store_processes(process.pid)
        assert len(brokers) == 1 and len(children) == 3
        process.kill()
        process.wait(timeout=5)
        deadline = time.monotonic() + 10
        while any(map(_pid_alive, brokers + children)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _pid_alive(brokers[0]), "an orphan broker JVM survived kill -9 of its parent"
        assert not any(map(_pid_alive, children)), "an orphan role process or store survived kill -9 of its parent"
    finally:
        if process.poll() is None:
            process.kill()


def test_no_delivery_process_runs_every_role_in_the_dev_process(tmp_path: Path) -> None:
    process, port, _ = _start_dev(tmp_path, delivery_processes="0")
    try:
        body = _wait_healthy(f"http://127.0.0.1:{port}/health", process)
        assert body["checks"] == {name: "ok" for name in ("kafka", "clickhouse", "projector", "router", "intake",
                                                          "recover", "operational", "store")}  # fmt: skip
        assert _role_processes(process.pid) == [] and len(_store_processes(process.pid)) == 1
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
