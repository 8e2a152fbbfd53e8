"""What every benchmark shares: `hookstream dev` as a user runs it, receivers in their own process, RSS, results.

Each benchmark prints a table and appends one JSON line per figure to
``bench/results/<bench>.jsonl`` (with the machine and the date), so
BENCHMARKS.md can quote the exact run; ``report`` lives in
``tests/support/results.py``, shared with the chaos suite. Absolute figures
drift on a shared machine; every headline is a ratio to a baseline measured
in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The drivers run as scripts (``python bench/pipeline.py``): the checkout's root makes the results
# recorder the chaos suite shares importable here too.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from clickhouse_connect.driver import Client
from tests.support import builders  # noqa: F401  (the drivers import it from here)
from tests.support.results import report  # noqa: F401  (the drivers import it from here)

from hookstream.foundation.settings import Settings, all_env_names, settings_env
from hookstream.runtime.clickhouse import connect
from hookstream.runtime.local_kafka import free_port
from hookstream.runtime.local_store import RunningStore, start_store, wait_for_store

RECEIVERS = r"""
import asyncio, json, sys, time
from aiohttp import web

arrivals = []   # (webhook-id or Outpost's event id, path, unix time) of every request
counts = {}

async def hook(request):
    await request.read()
    counts[request.path] = counts.get(request.path, 0) + 1
    event = request.headers.get("webhook-id") or request.headers.get("x-outpost-event-id", "")  # Outpost's own
    arrivals.append((event, request.path, time.time()))
    return web.Response(text="ok")

async def stats(request):
    since = int(request.query.get("since", "0"))
    return web.json_response({"total": len(arrivals), "counts": counts, "arrivals": arrivals[since:]})

async def main():
    ports = [int(p) for p in sys.argv[1:]]
    control = web.Application()
    control.router.add_get("/stats", stats)
    runners = []
    for index, port in enumerate(ports):
        app = control if index == 0 else web.Application()
        app.router.add_post("/hook/{n}", hook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        runners.append(runner)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def rss_mb(pid: int) -> float:
    """VmRSS in MiB; NaN when the process is gone (or a zombie)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, theirs, ...), read from /proc: whatever layout started them."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        children = sorted(parents.get(todo.pop(), []))
        found += children
        todo += children
    return found


def process_name(pid: int) -> str:
    """A process named by its command line: ``dev``, ``store``, the roles of ``hookstream run --roles a,b``
    (``a+b``), ``broker`` for Kafka's JVM, else its program's name."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return "gone"
    program = Path(argv[0]).name
    if program == "java" or any(arg.startswith("kafka.") for arg in argv):
        return "broker"
    for n, arg in enumerate(argv[:-1]):
        if arg == "hookstream.cli" or Path(arg).name == "hookstream":
            command = argv[n + 1]
            if command == "run":
                roles = argv[argv.index("--roles") + 1] if "--roles" in argv[:-1] else ""
                return "+".join(roles.split(",")) if roles else "run"
            return command
    return program


NOT_PYTHON_ROLES = ("store", "broker")
"""Reported apart: the store holds ClickHouse (a server in production) and the broker is Kafka's JVM."""


def memory(pid: int) -> dict[str, float]:
    """RSS in MB of ``pid`` and every process below it, one ``<name>_mb`` column each (``#2``, ... when a name
    repeats, e.g. several delivery processes), and ``python_mb``: the Python roles together, store and broker
    apart."""
    columns: dict[str, float] = {}
    python = 0.0
    seen: dict[str, int] = {}
    for each in [pid, *descendants(pid)]:
        name = process_name(each)
        size = rss_mb(each)
        if name == "gone" or size != size:  # exited between the listing and the read (NaN)
            continue
        seen[name] = seen.get(name, 0) + 1
        columns[f"{name}_mb" if seen[name] == 1 else f"{name} #{seen[name]}_mb"] = size
        python += size if name not in NOT_PYTHON_ROLES else 0.0
    return {"python_mb": python, **columns}


def http(method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 30) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Store:
    """`hookstream store` on ``path`` in a process of its own, as dev runs it: the drivers reach it over HTTP.

    Started with the suite's starter (``hookstream.runtime.local_store``); its RSS is reported apart from the
    Python roles', like the broker's JVM.
    """

    def __init__(self, path: Path, max_memory_bytes: int | None = None) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.log_path = path.parent / f"{path.name}.log"
        with self.log_path.open("a") as log:
            self.process = start_store(path, log, max_memory_bytes=max_memory_bytes)
        self.running: RunningStore = wait_for_store(self.process, path)

    def url(self) -> str:
        """``CLICKHOUSE_URL`` for the writer, as dev gives its roles."""
        return self.running.clickhouse_url()

    def client(self, database: str) -> Client:
        return connect(self.url(), database)

    def rss_mb(self) -> float:
        return rss_mb(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)  # in-flight merges end, the engine closes its parts
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_roles(
    settings: Settings, roles: str, log: Path, timeout_s: float = 90
) -> tuple[subprocess.Popen[bytes], int]:
    """`hookstream run --roles <roles>` as deployed, every setting passed resolved; (process, its HTTP port)."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if name not in all_env_names()}
    env.update(settings_env(settings.replace(http_host="127.0.0.1", http_port=port)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).resolve().parents[1] / "services"),
                                                    os.environ.get("PYTHONPATH", "")) if p)  # fmt: skip
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "hookstream.cli", "run", "--roles", roles], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"hookstream run --roles {roles} exited with {process.returncode}; see {log}")
        try:
            if http("GET", f"http://127.0.0.1:{port}/health", timeout=2)[0] == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"hookstream run --roles {roles} did not become healthy; see {log}")


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class Receivers:
    """``count`` receivers on 127.0.0.1 in one separate process, answering 200 at once; the first serves /stats."""

    def __init__(self, count: int) -> None:
        self.ports = [free_port() for _ in range(count)]
        self.process = subprocess.Popen([sys.executable, "-c", RECEIVERS, *map(str, self.ports)],
                                        stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == "ready"

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}/hook/{index}"

    def stats(self, since: int = 0) -> dict[str, Any]:
        return http("GET", f"http://127.0.0.1:{self.ports[0]}/stats?since={since}")[1]

    def total(self) -> int:
        return self.stats(since=1 << 62)["total"]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Dev:
    """`hookstream dev` in its own process: own broker, the store (embedded chDB) on a free port, the HTTP API."""

    def __init__(self, work: Path | None = None, **env: str) -> None:
        self.work = work or Path(tempfile.mkdtemp(prefix="hookstream-bench-"))
        self.port = free_port()
        full_env = {
            **os.environ,
            "HOOKSTREAM_DATA_DIR": str(self.work / "data"),
            "HOOKSTREAM_HTTP_PORT": str(self.port),
            "HOOKSTREAM_STORE_PORT": str(free_port()),  # runs beside another dev (or one a user runs) on 8124
            "HOOKSTREAM_DELIVERY_ALLOWED_NETWORKS": "127.0.0.0/8",
            "HOOKSTREAM_LOG_LEVEL": "WARNING",
            "HOOKSTREAM_API_RATE_LIMIT_PER_S": "0",  # the benchmarks measure the pipeline, not the per-token limiter
            **env,
        }
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "HOOKSTREAM_KAFKA_BOOTSTRAP_SERVERS", "CLICKHOUSE_URL"):
            full_env.pop(name, None)
        self.log = (self.work / "dev.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "hookstream.cli", "dev"], env=full_env,
                                        stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        # The API is served on dev's configured port, whichever of its processes answers there (its role
        # processes print their own "hookstream is up" lines into the same log, on ports of their own).
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 180
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"hookstream dev exited with {self.process.returncode}; see {self.work / 'dev.log'}")
            try:
                if http("GET", self.base + "/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("hookstream dev did not become healthy")
            time.sleep(0.3)
        self.token = (self.work / "data" / "operator_token").read_text().strip()
        ports = json.loads((self.work / "data" / "kafka" / "ports.json").read_text())
        self.bootstrap = f"127.0.0.1:{ports['client']}"

    def api(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = http(method, self.base + "/api/v1" + path, self.token, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer!r}")
        return answer

    def metric(self, name: str, labels: str = "") -> float:
        """Sum of a Prometheus sample family (``labels`` a substring of the label set) from /metrics."""
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as response:
            text = response.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and (line[len(name)] in " {") and labels in line:
                total += float(line.rsplit(" ", 1)[1])
        return total

    def memory(self) -> dict[str, float]:
        """RSS by process of the deployment dev runs (harness.memory): python_mb, dev_mb, store_mb, broker_mb,
        one column per role process."""
        return memory(self.process.pid)

    def processes(self) -> list[str]:
        """The names (process_name) of dev and every process below it: the layout this run measured."""
        return [process_name(pid) for pid in [self.process.pid, *descendants(self.process.pid)]]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()
