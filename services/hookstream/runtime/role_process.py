"""Roles of ``hookstream dev`` run in child processes, supervised by the dev process.

Every role on one event loop leaves the second core idle while the hot path,
routing and delivery, waits for that loop (BENCHMARKS.md, the B1 profile). A
child running ``hookstream run --roles router,deliver`` has its own
interpreter and loop; the roles' consumer groups split the partitions between
processes as they would between machines. Router and delivery need neither
ClickHouse nor the API; the embedded ClickHouse has a child of its own, the
store (store_process.py), supervised the same way.

The child reads exactly the dev process's settings (passed as environment
variables), dies with its parent even on ``kill -9`` (``PR_SET_PDEATHSIG``),
runs in its own session so a terminal's Ctrl-C reaches only the parent (which
then stops it in order), and is restarted after a pause if it exits: its
health check fails meanwhile. Its metrics are served on the dev process's
``/metrics`` (see :func:`hookstream.foundation.ops.federate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence

import aiohttp

from hookstream.foundation.settings import Settings, all_env_names, settings_env
from hookstream.runtime.local_kafka import die_with_parent, free_port

log = logging.getLogger("hookstream.dev")

CHILD_ROLES = ("router", "deliver")
RESTART_DELAY_S = (1.0, 30.0)
"""First and longest pause before a child that exited is started again (doubling in between)."""


class ChildFailed(RuntimeError):
    """A child did not come up at start; the child has printed its own reason on stderr."""


class RoleProcess:
    """One child process running ``roles``; ``start()``, ``check()``, ``metrics()``, ``stop()``."""

    serves_metrics = True
    """Its ``/metrics`` is federated into the dev process's."""
    stops_before_roles = True
    """Stopped before the dev process's own roles, so what it writes on its way out still reaches them."""

    def __init__(self, settings: Settings, roles: Sequence[str], name: str, *, start_timeout_s: float = 60.0) -> None:
        self.name = name
        self.roles = tuple(roles)
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = settings.delivery_timeout_s + 10  # the worker drains sent requests before it exits
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._session: aiohttp.ClientSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = False
        self._stdout: int | None = None  # inherited
        self.restarts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    async def start(self) -> RoleProcess:
        """Start the child and return once its ``/health`` answers 200; raise if it exits or never does."""
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3))
        try:
            await self._spawn()
        except BaseException:
            await self.stop()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name=f"supervise-{self.name}")
        return self

    def _command(self) -> list[str]:
        """The child's command line; it serves on ``self._port``, which ``_spawn`` picked before."""
        return [sys.executable, "-m", "hookstream.cli", "run", "--roles", ",".join(self.roles)]

    def _next_port(self) -> int:
        return free_port()

    async def _spawn(self) -> None:
        self._port = self._next_port()
        env = {name: value for name, value in os.environ.items() if name not in all_env_names()}
        env.pop("HOOKSTREAM_CONFIG", None)  # every setting is passed resolved, the file's included
        child = self._settings.replace(http_host="127.0.0.1", http_port=self._port, operator_token="")  # no API there
        env.update(settings_env(child))
        command = self._command()
        # Forked from the loop's thread, not a pool thread: PR_SET_PDEATHSIG fires when the *thread* that
        # forked the child ends, and the loop's thread lives exactly as long as this process serves.
        self._process = subprocess.Popen(  # noqa: ASYNC220 - a fork and exec, not a wait
            command, env=env, preexec_fn=die_with_parent, start_new_session=True, stdout=self._stdout
        )
        log.info("role process started", extra={"role_process": self.name, "pid": self._process.pid,
                                                  "roles": list(self.roles), "port": self._port})  # fmt: skip
        deadline = time.monotonic() + self.start_timeout_s
        while True:
            if self._process.poll() is not None:
                raise ChildFailed(
                    f"{self.name} ({' '.join(command[2:])}) exited with {self._process.returncode} "
                    "at start; its reason is above"
                )
            with contextlib.suppress(Exception):
                await self.check()
                return
            if time.monotonic() > deadline:
                raise ChildFailed(f"{self.name} not healthy within {self.start_timeout_s:g} s")
            await asyncio.sleep(0.2)

    async def _supervise(self) -> None:
        delay = RESTART_DELAY_S[0]
        while True:
            await asyncio.sleep(0.5)
            assert self._process is not None
            code = self._process.poll()
            if code is None or self._stopping:
                continue
            log.error("role process exited; restarting", extra={"role_process": self.name, "exit_code": code,
                                                                "restart_in_s": delay})  # fmt: skip
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_DELAY_S[1])
            try:
                await self._spawn()
            except Exception:  # the next round tries again; health names the process meanwhile
                log.exception("role process did not come back", extra={"role_process": self.name})
                continue
            self.restarts += 1
            delay = RESTART_DELAY_S[0]

    def _check_running(self) -> None:
        if self._process is None or self._process.poll() is not None:
            code = None if self._process is None else self._process.returncode
            raise RuntimeError(f"not running (exit code {code}); restarting")

    async def check(self) -> None:
        """Raises unless the child runs and its own health checks pass (naming those that fail)."""
        self._check_running()
        assert self._session is not None
        async with self._session.get(self.base_url + "/health") as response:
            if response.status != 200:
                body = await response.json(content_type=None)
                failing = {name: body["checks"][name] for name in body.get("failing", [])}
                raise RuntimeError(f"unhealthy: {failing}")

    async def metrics(self) -> str:
        """The child's Prometheus exposition."""
        assert self._session is not None
        async with self._session.get(self.base_url + "/metrics") as response:
            response.raise_for_status()
            return await response.text()

    async def stop(self) -> None:
        """SIGTERM, and SIGKILL if the child has not exited within its drain bound; calling it again is harmless."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                log.error("role process did not stop; killing it", extra={"role_process": self.name})
                process.kill()
                await asyncio.to_thread(process.wait)
        if self._session is not None:
            await self._session.close()


@contextlib.asynccontextmanager
async def role_processes(settings: Settings, count: int) -> AsyncIterator[list[RoleProcess]]:
    """``count`` children running the router and delivery roles, stopped (in parallel) when the block ends."""
    children: list[RoleProcess] = []
    try:
        for index in range(count):
            name = "delivery_process" if count == 1 else f"delivery_process_{index + 1}"
            children.append(await RoleProcess(settings, CHILD_ROLES, name).start())
        yield children
    finally:
        await asyncio.gather(*(child.stop() for child in children))
