"""The store as production runs it: ``python -m hookstream.cli store`` in a process of its own, reached over HTTP.

Each caller gets its own chDB directory and a free port, so clients in the
tests (clickhouse-connect, plain aiohttp, the JDBC driver) reach it only the
way a BI tool or a role would.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import clickhouse_connect
from clickhouse_connect.driver import Client

from hookstream.store.users import CREDENTIALS_FILE, WRITER

REPO = Path(__file__).resolve().parents[2]
HANDLES = 2  # per pool; requests taken in turn, so HANDLES + 1 in a row reuse one handle


@dataclass(frozen=True)
class Store:
    port: int
    path: Path
    passwords: dict[str, str]
    banner: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, user: str = WRITER, **kwargs: object) -> Client:
        return clickhouse_connect.get_client(
            host="127.0.0.1", port=self.port, username=user, password=self.passwords[user], **kwargs
        )

    def auth(self, user: str = WRITER) -> dict[str, str]:
        return basic(user, self.passwords[user])


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def start_store(path: Path, stderr: int | IO[str] = subprocess.PIPE) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "services"), "HOOKSTREAM_LOG_LEVEL": "WARNING",
           "HOOKSTREAM_STORE_HANDLES": str(HANDLES)}  # fmt: skip
    command = [sys.executable, "-m", "hookstream.cli", "store", "--port", "0", "--data-dir", str(path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)


@contextlib.contextmanager
def running_store(path: Path) -> Iterator[Store]:
    """A store on ``path`` for the block; it must stop cleanly on SIGTERM and log no traceback."""
    log = path.parent / f"{path.name}.log"
    with log.open("w") as stderr:
        process = start_store(path, stderr)
    assert process.stdout is not None
    try:
        banner = tuple(process.stdout.readline() for _ in range(5))
        match = re.search(r"http://127\.0\.0\.1:(\d+)/ping", "".join(banner))
        assert match, f"the store did not start: {banner} {log.read_text()}"
        yield Store(int(match.group(1)), path, json.loads((path / CREDENTIALS_FILE).read_text()), banner)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, "SIGTERM stops the store cleanly"
        process.stdout.close()
    assert "Traceback" not in log.read_text()
