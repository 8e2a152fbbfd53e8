"""``hookstream run --roles store,project``: the store as a supervised child that the roles beside it reach."""

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

from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.runtime.clickhouse import connect
from hookstream.runtime.local_kafka import free_port
from hookstream.runtime.store_process import store_url
from hookstream.store.users import READER

pytestmark = pytest.mark.e2e


def _health(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


def _wait_health(port: int, process: subprocess.Popen[bytes], healthy: bool, timeout_s: float = 90) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"hookstream run exited with {process.returncode}"
        status, body = _health(port)
        if (status == 200) == healthy and status:
            return body
        time.sleep(0.25)
    raise AssertionError(f"/health not {'200' if healthy else '503'} within {timeout_s} s: {_health(port)}")


def _store_child(pid: int) -> int:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "hookstream.cli store"], capture_output=True, text=True,
                         check=False).stdout  # fmt: skip
    (child,) = map(int, out.split())
    return child


def test_run_roles_store_beside_project_is_their_clickhouse(
    kafka: str, settings: Settings, topics: TopicNames, tmp_path: Path
) -> None:
    http_port, store_port = free_port(), free_port()
    inherited = ("CLICKHOUSE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("HOOKSTREAM_") and name not in inherited
    }
    env.update(
        PYTHONPATH=str(Path(__file__).resolve().parents[2] / "services"),
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        HOOKSTREAM_TOPIC_NAMESPACE=settings.topic_namespace,
        HOOKSTREAM_DATA_DIR=str(tmp_path / "data"),
        HOOKSTREAM_HTTP_PORT=str(http_port),
        HOOKSTREAM_STORE_PORT=str(store_port),
    )
    with (tmp_path / "run.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "hookstream.cli", "run", "--roles", "store,project"],
                                   env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        body = _wait_health(http_port, process, healthy=True)
        assert {"store", "clickhouse", "projector"} <= set(body["checks"]), body
        # the project role migrated the store's directory, reached over HTTP as a ClickHouse server
        url = store_url(tmp_path / "data" / "clickhouse", store_port, READER)
        client = connect(url, "hookstream", create_database=False)
        assert client.command("SELECT count() FROM attempts") == 0
        client.close()
        # the store is supervised: killed, /health names it until it is back on its port
        os.kill(_store_child(process.pid), signal.SIGKILL)
        assert "store" in _wait_health(http_port, process, healthy=False)["failing"]
        _wait_health(http_port, process, healthy=True)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    text = (tmp_path / "run.log").read_text()
    assert "Traceback" not in text, text[-3000:]
    assert not subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, check=False).stdout, (
        "the store outlived hookstream run"
    )
