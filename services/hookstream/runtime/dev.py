"""``hookstream dev``: every role, on the embedded engines, from one command.

Starts a local broker unless Kafka is configured, creates the topics, applies
the ClickHouse migrations, then serves HTTP until Ctrl-C or SIGTERM. Unless
``CLICKHOUSE_URL`` names a ClickHouse, the embedded one runs in a store
process of its own (store_process.py) that every role reaches over HTTP. The
roles run in child processes (role_process.py): the router and the delivery
worker in ``HOOKSTREAM_DEV_DELIVERY_PROCESSES`` delivery processes, the
projector, status and the scheduler in one stream process. This process
keeps the API, health and metrics and the supervision: the API answers on
a loop that no projector insert holds up (BENCHMARKS.md, B3). With no
delivery process (0) every role runs in this one process instead.

Shutdown runs in reverse order: the delivery processes, then the stream
process that folds their last attempt records, then the store after every
role that writes to it, and the broker last, so nothing is still writing to
either when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence

from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient

from hookstream.api.app import build_app
from hookstream.api.console import CONSOLE_PATH
from hookstream.domain.status import status_retention_s
from hookstream.foundation import tracing
from hookstream.foundation.ops import Check, Metrics
from hookstream.foundation.settings import Settings
from hookstream.foundation.tasks import stop_on_signals
from hookstream.log.admin import create_topics, wait_for_broker
from hookstream.log.lag import lag_gauges
from hookstream.log.topics import catalogue
from hookstream.projector.migrations import prepare_schema
from hookstream.runtime.api import running_api
from hookstream.runtime.clickhouse import Client, connect, ping, redact_url
from hookstream.runtime.http_server import ApiRunner
from hookstream.runtime.kafka_dist import ensure_kafka
from hookstream.runtime.local_kafka import LocalKafka
from hookstream.runtime.role_process import (
    RoleProcess,
    delivery_processes,
    running_children,
    stop_in_stages,
    stream_process,
)
from hookstream.runtime.roles import ALL_ROLES, API_ROLE, running_roles
from hookstream.runtime.store_process import embedded_store
from hookstream.runtime.tokens import operator_token, secret_keys

log = logging.getLogger("hookstream.dev")


@contextlib.asynccontextmanager
async def kafka_cluster(settings: Settings) -> AsyncIterator[str]:
    """Bootstrap servers of the configured cluster, or of a local broker for the block's duration."""
    if not settings.uses_local_kafka:
        yield settings.kafka_bootstrap_servers
        return
    dist = await asyncio.to_thread(ensure_kafka, settings.kafka_jars_dir)
    broker = LocalKafka(
        dist,
        settings.data_dir / "kafka",
        heap=settings.kafka_heap,
        port=settings.kafka_port,
        start_timeout_s=settings.kafka_start_timeout_s,
    )
    await asyncio.to_thread(broker.start)
    log.info(
        "local kafka started",
        extra={"version": dist.version, "bootstrap": broker.bootstrap_servers, "pid": broker.pid},
    )
    try:
        yield broker.bootstrap_servers
    finally:
        await asyncio.to_thread(broker.stop)
        log.info("local kafka stopped")


async def serve_dev(settings: Settings, stop: asyncio.Event) -> None:
    started = time.monotonic()
    async with kafka_cluster(settings) as bootstrap:
        await wait_for_broker(bootstrap, settings.kafka_start_timeout_s)
        created = await create_topics(bootstrap, catalogue(settings), settings.topic_replication_factor)
        log.info("topics ready", extra={"topics_created": created})
        token, fresh = operator_token(settings.operator_token, settings.data_dir)
        if fresh:
            print(f"hookstream operator token (stored in {settings.data_dir / 'operator_token'}): {token}", flush=True)
        settings = settings.replace(
            kafka_bootstrap_servers=bootstrap, secret_keys=secret_keys(settings.secret_keys, settings.data_dir)
        )
        async with contextlib.AsyncExitStack() as stack:
            settings, stores = await stack.enter_async_context(embedded_store(settings))
            processes = delivery_process_count(settings)
            if processes == 0:
                await serve(settings, ALL_ROLES, stop, started, api_token=token, children=stores)
            else:
                await serve_in_children(settings, processes, stop, started, api_token=token, stores=stores)


def delivery_process_count(settings: Settings) -> int:
    """How many delivery processes the layout of every role has; 0 runs every role in one process.

    Always 0 while ClickHouse is a ``chdb://`` directory opened in-process (no store in front of it):
    the directory belongs to one process, and the API and the projector both open it.
    """
    if settings.resolved_clickhouse_url.startswith("chdb://"):
        return 0
    return settings.resolved_dev_delivery_processes


async def serve_in_children(
    settings: Settings,
    processes: int,
    stop: asyncio.Event,
    started: float,
    *,
    api_token: str,
    stores: Sequence[RoleProcess] = (),
) -> None:
    """Every role in a child process (one stream process, ``processes`` delivery processes); the API here.

    The API shares its loop with nothing but health and metrics, so accepting a message never waits behind
    a projector insert or a status fold. ``stores`` (the store) join the health and stop after the children.
    """
    layout = [stream_process(settings), *delivery_processes(settings, processes)]
    async with running_children(layout) as children:
        await serve(settings, (), stop, started, api_token=api_token, children=[*stores, *children])


async def serve(
    settings: Settings,
    roles: Sequence[str],
    stop: asyncio.Event,
    started: float,
    *,
    api_token: str | None = None,
    children: Sequence[RoleProcess] = (),
) -> None:
    """Migrations, the roles, and the HTTP server (health, metrics), until ``stop`` is set.

    With ``api_token`` (the operator token) the HTTP server also serves the API dialects. ``children``
    (role processes) are part of this process's health and metrics, and those with a stop stage stop
    (stage by stage) before the roles here. ClickHouse is opened only when a role here reads or writes it:
    a chDB directory belongs to one process.
    """
    metrics = Metrics()
    async with contextlib.AsyncExitStack() as stack:
        here = (*roles, API_ROLE) if api_token is not None else tuple(roles)
        if tracing.setup(("all",) if set(here) >= {*ALL_ROLES, API_ROLE} else here):
            # Last out, so the spans of the roles' way out are exported too; a thread, as the export blocks.
            stack.push_async_callback(asyncio.to_thread, tracing.shutdown)
            log.info("traces exported over OTLP", extra={"roles": list(here)})
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=3000)
        await admin.start()
        stack.push_async_callback(admin.close)
        checks: dict[str, Check] = {"kafka": admin.describe_cluster}
        if api_token is not None or {"project", "schedule"} & set(roles):
            clickhouse = await asyncio.to_thread(prepare_clickhouse, settings)
            stack.callback(clickhouse.close)
            checks["clickhouse"] = lambda: asyncio.to_thread(ping, clickhouse)
        running = await stack.enter_async_context(running_roles(settings, roles, metrics.registry))
        await stack.enter_async_context(lag_gauges(settings, roles, metrics.registry))
        if "project" in running.services:  # a projector that cannot write is unhealthy though ClickHouse answers
            checks["projector"] = running.services["project"].check
        for role in (
            "router",
            "intake",
            "recover",
            "operational",
        ):  # loops that retry failed batches report it meanwhile
            if role in running.services:
                checks[role] = running.services[role].check
        for child in children:
            checks.update(child.checks())
        api = None
        if api_token is not None:
            api = await stack.enter_async_context(running_api(settings, api_token))
        federated = {child.name: child.metrics for child in children if child.serves_metrics}
        runner = ApiRunner(build_app(checks, metrics, api, federated), handle_signals=False, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        await site.start()
        host, port = runner.addresses[0][:2]
        ready = {"http": f"http://{host}:{port}", "kafka": settings.kafka_bootstrap_servers, "roles": list(roles)}
        log.info("hookstream ready", extra={**ready, "startup_s": round(time.monotonic() - started, 2)})
        print(f"hookstream is up: http://{host}:{port}/health", flush=True)
        if api is not None:
            print(f"console: http://{host}:{port}{CONSOLE_PATH} (sign in with the operator token)", flush=True)
        await stop.wait()
        log.info("stopping")
        # The role processes first: what they write on their way out still reaches the roles running here.
        # The store is not among them: it stops after the roles here, once the caller's block ends.
        await stop_in_stages(children)


def prepare_clickhouse(settings: Settings) -> Client:
    """A client of the configured ClickHouse, its migrations and retention applied."""
    clickhouse = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)
    status_s = status_retention_s(settings.status_retention, settings.payload_retention_days)
    done = prepare_schema(clickhouse, payload_retention_days=settings.payload_retention_days,
                          status_retention_s=status_s)  # fmt: skip
    log.info("clickhouse ready", extra={"url": redact_url(settings.resolved_clickhouse_url),
                                        "migrations_applied": done.migrations})  # fmt: skip
    return clickhouse


def run_dev(settings: Settings) -> None:
    async def main() -> None:
        stop = stop_on_signals()
        await serve_dev(settings, stop)

    run_event_loop(main(), settings.resolved_event_loop)


def run_event_loop(coro, loop: str = "uvloop") -> None:  # type: ignore[no-untyped-def]
    """``coro`` on uvloop where it installs and ``loop`` (``HOOKSTREAM_EVENT_LOOP``) asks for it, else asyncio's.

    uvloop measured: a sender 20-30 % faster, a delivery process 2.6 % less CPU per delivery, the API the
    same per accepted message (BENCHMARKS.md, Session 6); ``asyncio`` is there to compare, or to fall back to.
    """
    try:
        import uvloop
    except ImportError:
        uvloop = None
    if uvloop is None or loop == "asyncio":
        asyncio.run(coro)
    else:
        uvloop.run(coro)
