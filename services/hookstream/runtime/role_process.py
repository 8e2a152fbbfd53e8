"""Roles of ``hookstream dev`` run in child processes, supervised by the dev process.

Every role on one event loop leaves the other cores idle while the hot path
waits for that loop (BENCHMARKS.md, the B1 and B3 profiles). Each child runs
``hookstream run --roles ...`` with its own interpreter and loop; the roles'
consumer groups split the partitions between processes as they would between
machines. The delivery processes run intake, the router and the delivery worker,
which need neither ClickHouse nor the API; the stream process runs the roles
that fold the topics (projector, status, scheduler with recover), so the API
left in the dev process has a loop of its own. The embedded ClickHouse has
a child of its own, the store (store_process.py), supervised the same way.

The child reads exactly the dev process's settings (passed as environment
variables), dies with its parent even on ``kill -9`` (``PR_SET_PDEATHSIG``),
runs in its own session so a terminal's Ctrl-C reaches only the parent (which
then stops it in order), and is restarted after a pause if it exits: its
health check fails meanwhile. The checks of its own ``/health`` that name a
role (the projector, recover, the operational relay) appear under their own
names in the dev process's ``/health``. Its metrics are served on the dev
process's ``/metrics`` (see :func:`hookstream.foundation.ops.federate`).
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
from typing import Any

import aiohttp

from hookstream.foundation.ops import Check
from hookstream.foundation.settings import Settings, all_env_names, settings_env
from hookstream.runtime.local_kafka import die_with_parent, free_port

log = logging.getLogger("hookstream.dev")

DELIVERY_ROLES = ("intake", "router", "deliver")
"""Intake runs beside the router: both are stateless, partitioned consumers that need the config view and no
ClickHouse, so they scale with the delivery processes and leave the stream process its folds."""
STREAM_ROLES = ("project", "status", "schedule")
STREAM_CHECKS = ("projector", "recover", "operational")
"""The checks ``serve`` (dev.py) gives the stream roles: the dev process's ``/health`` shows them by name."""
RESTART_DELAY_S = (1.0, 30.0)
"""First and longest pause before a child that exited is started again (doubling in between)."""


class ChildFailed(RuntimeError):
    """A child did not come up at start; the child has printed its own reason on stderr."""


class RoleProcess:
    """One child process running ``roles``; ``start()``, ``check()``, ``metrics()``, ``stop()``."""

    serves_metrics = True
    """Its ``/metrics`` is federated into the dev process's."""

    def __init__(
        self,
        settings: Settings,
        roles: Sequence[str],
        name: str,
        *,
        stop_stage: int | None = 0,
        surfaced: Sequence[str] = (),
        start_timeout_s: float = 60.0,
    ) -> None:
        """``stop_stage``: children stop stage by stage (lowest first) before the dev process's own roles, so
        what one stage writes on its way out still reaches the next; None stops it after them (the store).
        ``surfaced``: the child's own health checks the dev process shows under their own names.
        """
        self.name = name
        self.roles = tuple(roles)
        self.stop_stage = stop_stage
        self.surfaced = tuple(surfaced)
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = settings.delivery_timeout_s + 10  # the worker drains sent requests before it exits
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self._session: aiohttp.ClientSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._health: asyncio.Task[dict[str, Any]] | None = None
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
                await self._ready()
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

    async def _health_body(self) -> dict[str, Any]:
        """The child's ``/health`` body; the checks of one ``/health`` of the dev process share one request."""
        if self._health is None or self._health.done():
            self._health = asyncio.create_task(self._fetch_health())
            self._health.add_done_callback(lambda task: task.cancelled() or task.exception())  # read when unawaited
        return await asyncio.shield(self._health)

    async def _fetch_health(self) -> dict[str, Any]:
        assert self._session is not None
        async with self._session.get(self.base_url + "/health") as response:
            body = await response.json(content_type=None)
            if response.status != 200 and not body.get("failing"):
                raise RuntimeError(f"/health answered {response.status}")
            return body

    async def _ready(self) -> None:
        """Raises until the child answers ``/health`` with every check of its own passing (``start`` waits)."""
        body = await self._fetch_health()
        if body.get("failing"):
            raise RuntimeError(f"failing: {body['failing']}")

    async def check(self) -> None:
        """Raises unless the child runs and its own health checks pass (naming those that fail).

        Checks shown under their own names (``surfaced``) are left to :meth:`check_of`.
        """
        self._check_running()
        body = await self._health_body()
        failing = {name: body["checks"][name] for name in body.get("failing", []) if name not in self.surfaced}
        if failing:
            raise RuntimeError(f"unhealthy: {failing}")

    def check_of(self, name: str) -> Check:
        """The child's own check ``name``, as a check of the dev process: fails with the child's message."""

        async def check() -> None:
            self._check_running()
            body = await self._health_body()
            result = body["checks"].get(name)
            if result is None:
                raise RuntimeError(f"{self.name} has no check {name!r}")
            if result != "ok":
                raise RuntimeError(result)

        return check

    def checks(self) -> dict[str, Check]:
        """Its checks in the dev process's ``/health``: its own name, and each surfaced check's."""
        return {self.name: self.check, **{name: self.check_of(name) for name in self.surfaced}}

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


def delivery_processes(settings: Settings, count: int) -> list[RoleProcess]:
    """``count`` children running the router and the delivery worker, the first to stop."""
    return [
        RoleProcess(settings, DELIVERY_ROLES, "delivery_process" if count == 1 else f"delivery_process_{index + 1}")
        for index in range(count)
    ]


def stream_process(settings: Settings) -> RoleProcess:
    """The child running the projector, status and the scheduler; it stops after the delivery processes,
    whose last attempt records it folds, and shows its roles' checks by name."""
    return RoleProcess(settings, STREAM_ROLES, "stream_process", stop_stage=1, surfaced=STREAM_CHECKS)


@contextlib.asynccontextmanager
async def running_children(children: Sequence[RoleProcess]) -> AsyncIterator[list[RoleProcess]]:
    """The children started together (each healthy on entry), stopped stage by stage when the block ends."""
    started = await asyncio.gather(*(child.start() for child in children), return_exceptions=True)
    try:
        failed = [result for result in started if isinstance(result, BaseException)]
        if failed:
            raise failed[0]
        yield list(children)
    finally:
        await stop_in_stages(children)


async def stop_in_stages(children: Sequence[RoleProcess]) -> None:
    """Stop the children whose ``stop_stage`` is set, a stage at a time, lowest first; each stage in parallel."""
    for stage in sorted({child.stop_stage for child in children if child.stop_stage is not None}):
        await asyncio.gather(*(child.stop() for child in children if child.stop_stage == stage))
