"""A store its caller starts and stops itself, as LocalKafka is a broker: for the test suite and the benchmarks.

``hookstream dev`` supervises its store as a role process (store_process.py);
a test session or a benchmark instead wants one it starts on a directory of
its choice and a free port, reads the port of from its banner, reaches over
HTTP exactly as the roles do, and stops. The command line is the one dev
runs (``store_process.store_command``), so all three meet the same process.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import hookstream
from hookstream.runtime.store_process import store_command, store_url
from hookstream.store.users import CREDENTIALS_FILE, WRITER

__all__ = ["BANNER_LINES", "RunningStore", "StoreDidNotStart", "start_store", "wait_for_store"]

BANNER_LINES = 5
"""Lines ``hookstream store`` prints once it answers (server.py): where it listens, its users, ``ready: .../ping``."""
_READY = re.compile(r"ready: http://127\.0\.0\.1:(\d+)/ping")


class StoreDidNotStart(RuntimeError):
    """The store exited or printed no ready line; the message carries what it printed."""


@dataclass(frozen=True)
class RunningStore:
    """A started store: where it listens, the directory it serves, its users' passwords and its start banner."""

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


def start_store(
    path: Path,
    stderr: int | IO[str] = subprocess.PIPE,
    handles: int | None = None,
    *,
    port: int = 0,
    log_level: str = "WARNING",
    max_memory_bytes: int | None = None,
    as_role: bool = False,
) -> subprocess.Popen[str]:
    """``hookstream store`` on ``path`` (a free port unless given), its banner on the returned process's stdout.

    This checkout's ``hookstream`` is put first on the child's path, so a worktree's store runs its own code.
    ``as_role``: the same store as ``hookstream run --roles store``, its port and directory from its settings.
    """
    services = str(Path(hookstream.__file__).resolve().parents[1])
    python_path = os.pathsep.join(p for p in (services, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": python_path, "HOOKSTREAM_LOG_LEVEL": log_level}
    if handles is not None:
        env["HOOKSTREAM_STORE_HANDLES"] = str(handles)
    if max_memory_bytes is not None:
        env["HOOKSTREAM_STORE_MAX_MEMORY_BYTES"] = str(max_memory_bytes)
    command = store_command(port, path)
    if as_role:
        env.update(HOOKSTREAM_STORE_PORT=str(port), HOOKSTREAM_STORE_DATA_DIR=str(path))
        command[3:] = ["run", "--roles", "store"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env)


def wait_for_store(process: subprocess.Popen[str], path: Path) -> RunningStore:
    """Read ``process``'s banner until it names its port; raises StoreDidNotStart (and kills it) if it never does."""
    assert process.stdout is not None, "start_store gives the banner on a pipe"
    banner = tuple(process.stdout.readline() for _ in range(BANNER_LINES))
    match = _READY.search("".join(banner))
    if match is None:
        process.kill()
        process.wait(timeout=30)
        raise StoreDidNotStart(f"the store on {path} did not start: {''.join(banner)!r}")
    return RunningStore(int(match.group(1)), path, json.loads((path / CREDENTIALS_FILE).read_text()), banner)
