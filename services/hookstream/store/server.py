"""The store process: lock the data directory, open the engine, serve until SIGINT/SIGTERM.

chDB itself refuses a second process on a directory, but with a bare
"Error initializing EmbeddedServer"; the store takes an advisory lock on the
directory first, so a second store is refused with the pid that owns it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiohttp import web

from hookstream.foundation.tasks import stop_on_signals
from hookstream.store import HOST
from hookstream.store.app import store_app
from hookstream.store.engine import Engine, EngineConfig
from hookstream.store.errors import ClickHouseError
from hookstream.store.users import Users, load_users

LOCK_FILE = "store.lock"


class StoreUnavailable(RuntimeError):
    """The store cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class StoreConfig:
    engine: EngineConfig
    port: int


@contextlib.contextmanager
def directory_lock(path: Path) -> Iterator[None]:
    """Hold ``path``'s store lock for the block; refuse with the owner's pid if another process holds it."""
    path.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(path / LOCK_FILE, "a+")  # noqa: SIM115  (held for the block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            raise StoreUnavailable(
                f"{path} is already served by another store process (pid {owner}); stop it or use another directory"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def urls(users: Users, port: int) -> list[str]:
    return [f"http://{user.name}:***@{HOST}:{port}" for user in (users.writer, users.reader)]


async def serve_store(config: StoreConfig, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set; print where and how to connect once the store answers."""
    path = config.engine.path.expanduser().resolve()
    with directory_lock(path):
        users, created = load_users(path)
        engine = Engine(dataclasses.replace(config.engine, path=path))
        try:
            engine.open()
        except ClickHouseError as exc:
            raise StoreUnavailable(
                f"cannot open the embedded ClickHouse in {path} (is another process, e.g. `hookstream dev` with "
                f"an embedded chDB, using it?): {exc.text}"
            ) from exc
        try:
            # The handler inflates bodies itself, lz4 included, which aiohttp's own decompression lacks.
            runner = web.AppRunner(store_app(engine, users), access_log=None, auto_decompress=False)
            await runner.setup()
            try:
                await web.TCPSite(runner, HOST, config.port).start()
            except OSError as exc:
                await runner.cleanup()
                raise StoreUnavailable(f"cannot listen on {HOST}:{config.port} ({exc.strerror}): "
                                       "set HOOKSTREAM_STORE_PORT or --port (0 picks a free one)") from exc  # fmt: skip
            port = runner.addresses[0][1]
            writer, reader = urls(users, port)
            fresh = " (generated now)" if created else ""
            print(f"hookstream store: ClickHouse {engine.version} over HTTP on http://{HOST}:{port} serving {path}\n"
                  f"  read-write: {writer}\n  read-only:  {reader}\n"
                  f"  passwords{fresh} in {users.path}\n  ready: http://{HOST}:{port}/ping", flush=True)  # fmt: skip
            if ready is not None:
                ready.set()
            await stop.wait()
            await runner.cleanup()
        finally:
            engine.close()


def run_store(config: StoreConfig) -> None:
    """``hookstream store``: serve in the foreground, stop cleanly on SIGINT or SIGTERM."""

    async def main() -> None:
        stop = stop_on_signals()
        await serve_store(config, stop)

    asyncio.run(main())
