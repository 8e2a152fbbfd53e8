"""The service roles, started and stopped as one group.

``hookstream dev`` runs every role in one process; ``hookstream run --roles``
runs any subset, so the same code scales out to one process per role. The
roles share the process's codec, producer and metrics registry; each keeps
its own consumer group, so running a role in two processes splits its work.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from ssl import SSLContext
from typing import Any, Protocol

from prometheus_client import CollectorRegistry

from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.worker import DeliveryWorker
from hookstream.foundation.settings import Settings
from hookstream.intake.service import Intake, IntakeMetrics
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, dead_letter_max_bytes
from hookstream.projector.service import Projector, ProjectorMetrics
from hookstream.recovery.service import Recoverer
from hookstream.router.service import Router, RouterMetrics
from hookstream.runtime.clickhouse import connect
from hookstream.scheduler.retries import SchedulerMetrics
from hookstream.scheduler.service import Scheduler
from hookstream.status.processor import StatusMetrics
from hookstream.status.relay import OperationalRelay
from hookstream.status.service import StatusProcessor

log = logging.getLogger("hookstream.roles")

ALL_ROLES = ("router", "deliver", "schedule", "status", "project", "intake")


class Service(Protocol):
    async def stop(self) -> None: ...


@dataclass
class Running:
    services: dict[str, Any] = field(default_factory=dict)


API_ROLE = "api"  # the HTTP API dialects, served by `serve` beside health and metrics
STORE_ROLE = (
    "store"  # the embedded ClickHouse over HTTP: its own process (store_process.py), never one named by default
)


def parse_roles(text: str) -> tuple[str, ...]:
    """Roles named on the command line; none named means all of them, the API included."""
    roles = tuple(part.strip() for part in text.split(",") if part.strip())
    known = (*ALL_ROLES, API_ROLE, STORE_ROLE)
    unknown = sorted(set(roles) - set(known))
    if unknown:
        raise ValueError(f"unknown roles {', '.join(unknown)}: choose from {', '.join(known)}")
    return roles or (*ALL_ROLES, API_ROLE)


@contextlib.asynccontextmanager
async def running_roles(
    settings: Settings, roles: Sequence[str], registry: CollectorRegistry, *, delivery_ssl: SSLContext | None = None
) -> AsyncIterator[Running]:
    """Start the roles in dependency order; stop them in reverse, whatever happens.

    ``delivery_ssl`` replaces the system trust store for deliveries (tests pass their own CA).
    """
    codec = AvroCodec()
    running = Running()
    async with contextlib.AsyncExitStack() as stack:
        # Intake dead-letters records whole: the producer takes records as large as the dead-letter topic does.
        request_size = dead_letter_max_bytes(settings) if "intake" in roles else 1048576
        producer = await EventProducer(settings.kafka_bootstrap_servers, codec, max_request_size=request_size).start()
        stack.push_async_callback(producer.stop)
        if "project" in roles:
            clickhouse = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)
            stack.callback(clickhouse.close)
            projector = await Projector(settings, codec, producer, clickhouse, ProjectorMetrics(registry)).start()
            stack.push_async_callback(projector.stop)
            running.services["project"] = projector
        if {"deliver", "router", "status", "intake", "schedule"} & set(roles):
            topic = settings.topic_namespace + CONFIG
            cache = await ConfigFollower(settings.kafka_bootstrap_servers, topic, codec).start()
            stack.push_async_callback(cache.stop)
        if "deliver" in roles:
            worker = DeliveryWorker(
                settings, DeliveryMetrics(registry), producer=producer, cache=cache, codec=codec, ssl=delivery_ssl
            )
            await worker.start()
            stack.push_async_callback(worker.stop)
            running.services["deliver"] = worker
        if "router" in roles:
            router = await Router(settings, codec, producer, cache, RouterMetrics(registry)).start()
            stack.push_async_callback(router.stop)
            running.services["router"] = router
        if "intake" in roles:
            intake = await Intake(settings, producer, cache, IntakeMetrics(registry)).start()
            stack.push_async_callback(intake.stop)
            running.services["intake"] = intake
        if "schedule" in roles:
            scheduler = await Scheduler(settings, codec, producer, SchedulerMetrics(registry)).start()
            stack.push_async_callback(scheduler.stop)
            running.services["schedule"] = scheduler
            # Endpoint recover fans out from the status table, so this half of the role reads ClickHouse (and
            # replay-missing matches messages against the endpoint's filters, as they are on ``config``).
            recover_clickhouse = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)
            stack.callback(recover_clickhouse.close)
            recoverer = await Recoverer(settings, codec, producer, recover_clickhouse, cache).start()
            stack.push_async_callback(recoverer.stop)
            running.services["recover"] = recoverer
        if "status" in roles:
            status = await StatusProcessor(settings, codec, cache, StatusMetrics(registry)).start()
            stack.push_async_callback(status.stop)
            running.services["status"] = status
            relay = await OperationalRelay(settings, codec, producer, cache).start()
            stack.push_async_callback(relay.stop)
            running.services["operational"] = relay
        log.info("roles started", extra={"roles": list(running.services)})
        yield running
        log.info("stopping roles", extra={"roles": list(running.services)})
