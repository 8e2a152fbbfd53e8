"""The store as a child of ``hookstream dev``: the one process that opens the embedded ClickHouse.

chDB lets one process own a data directory. With the store owning it and
serving ClickHouse's HTTP interface, every role of dev connects with an
``http://`` URL exactly as against a ClickHouse server, and ``hookstream
sql``, ``hookstream migrate`` or any ClickHouse client reach the live data
while dev runs (:func:`running_store_url`).

The child is supervised like the delivery process (role_process.py): it dies
with dev, is restarted with backoff if it exits, and ``/health`` names it
(``store``) while it does not answer ``/ping``. It listens on the fixed
``HOOKSTREAM_STORE_PORT`` across restarts, since the roles' URLs name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

from hookstream.foundation.settings import Settings
from hookstream.runtime.clickhouse import ClickHouseUnavailable
from hookstream.runtime.local_kafka import free_port
from hookstream.runtime.role_process import RoleProcess
from hookstream.store import HOST
from hookstream.store.users import CREDENTIALS_FILE, READER, WRITER, load_users

__all__ = [
    "StoreProcess",
    "cli_clickhouse_url",
    "embedded_store",
    "running_store_url",
    "store_command",
    "store_process",
    "store_url",
]

PING_TIMEOUT_S = 2.0


def store_url(data_dir: Path, port: int, user: str) -> str:
    """``http://user:password@127.0.0.1:port`` for one of the store's users, the password read from ``data_dir``."""
    users, _ = load_users(data_dir)
    password = {WRITER: users.writer.password, READER: users.reader.password}[user]
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{HOST}:{port}"


def store_command(port: int, data_dir: Path) -> list[str]:
    """``python -m hookstream.cli store`` on ``data_dir`` and ``port`` (0: a free one, named in its banner).

    The one command line of the store, whoever starts it: dev (below), the suite and the benchmarks (local_store).
    """
    return [sys.executable, "-m", "hookstream.cli", "store", "--port", str(port), "--data-dir", str(data_dir)]


def store_answers(port: int) -> bool:
    """Whether something answers the store's ``/ping`` on ``port``."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/ping", timeout=PING_TIMEOUT_S) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def running_store_url(settings: Settings, user: str) -> str | None:
    """The URL of the store serving this deployment's embedded ClickHouse as ``user``, or None if none answers.

    Only when no ClickHouse is configured (``CLICKHOUSE_URL`` empty): a configured URL is always used as is.
    """
    if settings.clickhouse_url:
        return None
    data_dir = settings.resolved_store_data_dir
    if not (data_dir / CREDENTIALS_FILE).exists() or not store_answers(settings.store_port):
        return None
    return store_url(data_dir, settings.store_port, user)


def directory_held(path: Path) -> bool:
    """Whether an engine (a store, or a process with chDB in it) holds ``path``: ClickHouse's flock on ``status``.

    Asked only where this process has not opened ``path`` itself: the probe's own descriptor would conflict.
    """
    try:
        handle = (path / "status").open("a")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def cli_clickhouse_url(settings: Settings, user: str) -> str:
    """Where a command run beside ``hookstream dev`` reaches ClickHouse as ``user``.

    The configured URL if there is one; else the store on its port if it answers; else the chDB directory,
    opened in this process. A directory another process holds while no store answers is refused with
    ``ClickHouseUnavailable``, saying why and what to do, before chDB fails on it.
    """
    store = running_store_url(settings, user)
    if store is not None:
        return store
    if not settings.clickhouse_url and directory_held(settings.resolved_store_data_dir):
        raise ClickHouseUnavailable(
            f"{settings.resolved_store_data_dir} is held by another process and no store answers on "
            f"{HOST}:{settings.store_port}: if `hookstream dev` or `hookstream store` holds it, set "
            "HOOKSTREAM_STORE_PORT to the port it serves on; else stop the process holding the directory"
        )
    return settings.resolved_clickhouse_url


class StoreProcess(RoleProcess):
    """``hookstream store`` on the deployment's chDB directory, healthy while its ``/ping`` answers."""

    serves_metrics = False

    def __init__(self, settings: Settings, *, start_timeout_s: float = 60.0) -> None:
        # No stop stage: the roles of dev write to it until they stop; it stops after them.
        super().__init__(settings, (), "store", stop_stage=None, start_timeout_s=start_timeout_s)
        self.stop_timeout_s = 30.0  # in-flight inserts finish, the engine closes its parts
        self.data_dir = settings.resolved_store_data_dir.expanduser().resolve()
        self.port = settings.store_port or free_port()
        self._stdout = subprocess.DEVNULL  # dev prints where to connect, once (its own banner would repeat on restarts)

    def _command(self) -> list[str]:
        return store_command(self._port, self.data_dir)

    def _next_port(self) -> int:
        return self.port

    def url(self, user: str) -> str:
        return store_url(self.data_dir, self.port, user)

    async def check(self) -> None:
        """Raises unless the store runs and answers ``/ping``."""
        self._check_running()
        assert self._session is not None
        async with self._session.get(self.base_url + "/ping") as response:
            if response.status != 200:
                raise RuntimeError(f"/ping answered {response.status}")

    async def _ready(self) -> None:
        await self.check()

    async def metrics(self) -> str:
        raise NotImplementedError("the store serves no /metrics")


@contextlib.asynccontextmanager
async def store_process(settings: Settings) -> AsyncIterator[StoreProcess]:
    """The store running for the block's duration, answering ``/ping`` on entry; stopped when the block ends."""
    store = StoreProcess(settings)
    await store.start()
    try:
        yield store
    finally:
        await store.stop()


@contextlib.asynccontextmanager
async def embedded_store(
    settings: Settings, *, always: bool = False
) -> AsyncIterator[tuple[Settings, list[StoreProcess]]]:
    """The embedded ClickHouse served by a supervised store for the block: the settings every role reaches
    ClickHouse with, and the store (to supervise, and to name in ``/health``).

    With ``CLICKHOUSE_URL`` set the roles keep it, and no store runs unless ``always`` (``hookstream run
    --roles store,...`` asked for one); else the roles reach the store as its read-write user. Where to connect
    is printed once here, not by the store, whose own banner would repeat on every restart.
    """
    if settings.clickhouse_url and not always:
        yield settings, []
        return
    async with store_process(settings) as store:
        print(f"hookstream analytics: any ClickHouse client at http://{READER}@{HOST}:{store.port} "
              f"(read-only; password in {store.data_dir / CREDENTIALS_FILE}), or `hookstream sql`",
              flush=True)  # fmt: skip
        yield (settings if settings.clickhouse_url else settings.replace(clickhouse_url=store.url(WRITER))), [store]
