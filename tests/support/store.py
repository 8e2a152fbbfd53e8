"""The store as production runs it: ``python -m hookstream.cli store`` in a process of its own.

One starter for the suite's session store (conftest) and the store's own
tests (test_store.py), so both meet ClickHouse over HTTP exactly as the roles do.
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

from hookstream.runtime.store_process import store_url
from hookstream.store.users import CREDENTIALS_FILE, WRITER

REPO = Path(__file__).resolve().parents[2]
BANNER_LINES = 5


@dataclass(frozen=True)
class Store:
    """A running store: where it listens, the directory it serves, its users' passwords and its start banner."""

    port: int
    path: Path
    passwords: dict[str, str]
    banner: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def clickhouse_url(self, user: str = WRITER) -> str:
        """``CLICKHOUSE_URL`` for ``user``, as ``hookstream dev`` gives its roles."""
        return store_url(self.path, self.port, user)

    def client(self, user: str = WRITER, **kwargs: object) -> Client:
        return clickhouse_connect.get_client(
            host="127.0.0.1", port=self.port, username=user, password=self.passwords[user], **kwargs
        )

    def auth(self, user: str = WRITER) -> dict[str, str]:
        return basic(user, self.passwords[user])


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def start_store(
    path: Path, stderr: int | IO[str] = subprocess.PIPE, handles: int | None = None, *, as_role: bool = False
) -> subprocess.Popen[str]:
    """``hookstream store`` on ``path`` and a free port, its banner on the returned process's stdout.

    ``as_role``: the same store as ``hookstream run --roles store``, the port and directory from its settings.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO / "services"), "HOOKSTREAM_LOG_LEVEL": "WARNING"}
    if handles is not None:
        env["HOOKSTREAM_STORE_HANDLES"] = str(handles)
    command = [sys.executable, "-m", "hookstream.cli", "store", "--port", "0", "--data-dir", str(path)]
    if as_role:
        env.update(HOOKSTREAM_STORE_PORT="0", HOOKSTREAM_STORE_DATA_DIR=str(path))
        command[3:] = ["run", "--roles", "store"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)


@contextlib.contextmanager
def served_store(path: Path, handles: int | None = None, *, as_role: bool = False) -> Iterator[Store]:
    """A store on ``path`` for the block; on exit it must stop cleanly on SIGTERM, with no traceback in its log."""
    log = path.parent / f"{path.name}.log"
    with log.open("w") as stderr:
        process = start_store(path, stderr, handles, as_role=as_role)
    assert process.stdout is not None
    banner = tuple(process.stdout.readline() for _ in range(BANNER_LINES))
    match = re.search(r"http://127\.0\.0\.1:(\d+)/ping", "".join(banner))
    if match is None:
        process.kill()
        process.wait(timeout=30)
        raise AssertionError(f"the store did not start: {banner} {log.read_text()}")
    try:
        yield Store(int(match.group(1)), path, json.loads((path / CREDENTIALS_FILE).read_text()), banner)
    finally:
        process.terminate()
        code = process.wait(timeout=30)
        process.stdout.close()
    assert code == 0, "SIGTERM stops the store cleanly"
    assert "Traceback" not in log.read_text()
