"""The store as production runs it: ``python -m hookstream.cli store`` in a process of its own.

One starter (``hookstream.runtime.local_store``, shared with the benchmarks)
for the suite's session store (conftest) and the store's own tests
(test_store.py), so both meet ClickHouse over HTTP exactly as the roles do.
Here it adds what a test asserts: a clean stop on SIGTERM, no traceback.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver import Client

from hookstream.runtime.local_store import RunningStore, StoreDidNotStart, start_store, wait_for_store
from hookstream.store.users import WRITER

__all__ = ["Store", "basic", "served_store", "start_store"]


@dataclass(frozen=True)
class Store(RunningStore):
    """A running store, with a client and Basic credentials for its users."""

    def client(self, user: str = WRITER, **kwargs: object) -> Client:
        return clickhouse_connect.get_client(
            host="127.0.0.1", port=self.port, username=user, password=self.passwords[user], **kwargs
        )

    def auth(self, user: str = WRITER) -> dict[str, str]:
        return basic(user, self.passwords[user])


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@contextlib.contextmanager
def served_store(path: Path, handles: int | None = None, *, as_role: bool = False) -> Iterator[Store]:
    """A store on ``path`` for the block; on exit it must stop cleanly on SIGTERM, with no traceback in its log."""
    log = path.parent / f"{path.name}.log"
    with log.open("w") as stderr:
        process = start_store(path, stderr, handles, as_role=as_role)
    try:
        running = wait_for_store(process, path)
    except StoreDidNotStart as exc:
        raise AssertionError(f"{exc} {log.read_text()}") from None
    try:
        yield Store(running.port, running.path, running.passwords, running.banner)
    finally:
        process.terminate()
        code = process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()
    assert code == 0, "SIGTERM stops the store cleanly"
    assert "Traceback" not in log.read_text()
