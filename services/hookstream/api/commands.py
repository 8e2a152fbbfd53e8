"""Writes as events: what every API dialect calls to change anything.

No write goes to ClickHouse: a write is one event on its topic, acknowledged
by the in-sync replicas before the API answers. Config writes also wait for
the API's own config view to hold the event (``catch_up``), so the next
request (a read, or a write building on this one) sees it.

Every config change goes through :meth:`Commands.upsert` or
:meth:`Commands.delete`: read the entity fresh, apply the change, bump the
version, stamp the time, write, catch up. The config fold keeps the first
event of a version and ignores any later one with the same version, and the
API is not the only writer (the status processor disables failing
endpoints), so an upsert then checks that the view holds *its* record; when
another writer took that version it re-reads and applies its change again on
what is there now, a few times, before answering 409 (:class:`ConfigConflict`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hookstream.domain.directory import (
    Directory,
    application_from_record,
    endpoint_from_record,
    event_type_from_record,
    sealed_secrets,
)
from hookstream.domain.message_in import message_key
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.producer import EventProducer
from hookstream.log.topics import COMMANDS, CONFIG, MESSAGES, TASKS, TopicNames

log = logging.getLogger("hookstream.api")

WRITE_TRIES = 5
"""Attempts of one change when another writer keeps taking the version it needs (then 409)."""

Record = Mapping[str, Any]
Read = Callable[[], Awaitable[Record | None]]
"""The entity as the view holds it now (a fresh lookup), None when absent; raises the dialect's 404 when absence
is not an option."""
Change = Callable[[Record | None], Record | None]
"""The fields to write, given the current entity (None: create); None writes nothing. May raise the dialect's errors."""


class ConfigConflict(Exception):
    """Another writer kept taking the version this change needed: the dialects answer 409."""


def _application(view: Directory, record: Record) -> tuple[Any, Any]:
    return view.applications.get(uuid.UUID(record["app_id"])), application_from_record(record)


def _endpoint(view: Directory, record: Record) -> tuple[Any, Any]:
    return view.endpoints.get(uuid.UUID(record["endpoint_id"])), endpoint_from_record(record)


def _endpoint_secrets(view: Directory, record: Record) -> tuple[Any, Any]:
    held = view.endpoints.get(uuid.UUID(record["endpoint_id"]))
    mine = (sealed_secrets(record["secrets"]), record["version"])
    return (held.secrets, held.version) if held is not None else None, mine


def _event_type(view: Directory, record: Record) -> tuple[Any, Any]:
    return view.event_types.get(record["name"]), event_type_from_record(record)


Compared = Callable[[Directory, Record], tuple[Any, Any]]
"""What the view holds of a written record's entity, and what it would hold had it kept that record."""


@dataclass(frozen=True, slots=True)
class Entity:
    """A kind of config record: its events, the field naming it, and how to tell the view holds a write."""

    upserted: str
    deleted: str
    id_field: str
    deleted_fields: tuple[str, ...]
    compared: Compared
    kept_fields: tuple[str, ...] | None = None  # a partial event (SecretRotated) carries only these
    stamp: str = "updated_at"
    key_suffix: str = ""

    def key(self, record: Record) -> str:
        return f"{record[self.id_field]}{self.key_suffix}"


APPLICATION = Entity("ApplicationUpserted", "ApplicationDeleted", "app_id", ("app_id", "uid"), _application)
ENDPOINT = Entity("EndpointUpserted", "EndpointDeleted", "endpoint_id", ("endpoint_id", "app_id", "uid"), _endpoint)
ENDPOINT_SECRETS = Entity(
    "SecretRotated", "EndpointDeleted", "endpoint_id", ("endpoint_id", "app_id", "uid"), _endpoint_secrets,
    kept_fields=("endpoint_id", "app_id", "secrets"), stamp="rotated_at", key_suffix=":secrets",
)  # fmt: skip
EVENT_TYPE = Entity("EventTypeUpserted", "EventTypeDeleted", "name", ("name",), _event_type)


@dataclass(frozen=True, slots=True)
class Written:
    record: Record  # as written; the current entity when the change wrote nothing
    created: bool


def next_record(entity: Entity, current: Record | None, fields: Record, version: int, now: datetime) -> dict[str, Any]:
    """The event to write: ``fields`` over the current entity, the version given, stamped ``now``."""
    merged = {**(current or {}), **fields}
    if entity.kept_fields is not None:
        merged = {name: merged[name] for name in entity.kept_fields}
    elif current is None:
        merged.setdefault("created_at", now)
    return {**merged, "version": version, entity.stamp: now}


def holds(view: Directory, entity: Entity, record: Record) -> bool:
    """Whether the view holds ``record``: the same version and content, not another writer's of that version."""
    held, mine = entity.compared(view, record)
    return held is not None and held == mine


class Commands:
    def __init__(self, producer: EventProducer, cache: ConfigFollower, names: TopicNames) -> None:
        self.producer = producer
        self.cache = cache
        self.names = names
        # One config change at a time per process: two requests of this process never race for a version.
        self._config_lock = asyncio.Lock()

    async def _send(self, topic: str, name: str, record: Mapping[str, Any], key: str) -> None:
        ack = await self.producer.send(self.names(topic), name, record, key.encode())
        await ack

    async def config(self, name: str, record: Mapping[str, Any], key: str) -> None:
        """One config event, acknowledged and folded into this process's view before returning."""
        await self._send(CONFIG, name, record, key)
        await self.cache.catch_up()

    async def upsert(self, entity: Entity, read: Read, change: Change) -> Written:
        """Create or change one entity, and make sure the view holds this change (see the module doc)."""
        async with self._config_lock:
            for attempt in range(WRITE_TRIES):
                current = await read()
                fields = change(current)
                if fields is None:
                    assert current is not None, "a change of nothing must write something"
                    return Written(current, created=False)
                version = self._next_version(entity, current, fields)
                record = next_record(entity, current, fields, version, datetime.now(UTC))
                await self.config(entity.upserted, record, entity.key(record))
                if holds(self.cache.view, entity, record):
                    return Written(record, created=current is None)
                where = {"event": entity.upserted, "key": entity.key(record), "attempt": attempt + 1}
                log.warning("config write lost its version to another writer; applying it again", extra=where)
        raise ConfigConflict(f"{entity.upserted}: another writer kept changing this entity; try again")

    async def delete(self, entity: Entity, read: Read) -> Record:
        """Delete one entity (the view drops it whatever version it holds, so no other writer can undo this)."""
        async with self._config_lock:
            current = await read()
            assert current is not None, "a delete reads an entity or raises the dialect's 404"
            record = {name: current.get(name) for name in entity.deleted_fields}
            record |= {"version": current["version"] + 1, "deleted_at": datetime.now(UTC)}
            await self.config(entity.deleted, record, entity.key(record))
        return current

    def _next_version(self, entity: Entity, current: Record | None, fields: Record) -> int:
        if entity is EVENT_TYPE:  # a name can be freed and taken again: above its tombstone too
            return self.cache.view.next_event_type_version(fields["name"] if current is None else current["name"])
        return current["version"] + 1 if current is not None else 1

    async def message(self, record: Mapping[str, Any]) -> None:
        """MessageAccepted, keyed app + dedupe key so duplicates of one eventId share a partition."""
        await self._send(MESSAGES, "MessageAccepted", record, message_key(record))

    async def task(self, record: Mapping[str, Any]) -> None:
        """A DeliveryTask (manual resend), keyed by endpoint like every task."""
        await self._send(TASKS, "DeliveryTask", record, record["endpoint_id"])

    async def command(self, name: str, record: Mapping[str, Any], key: str) -> None:
        """A command for the projector or scheduler (ContentExpunged, RecoverRequested)."""
        await self._send(COMMANDS, name, record, key)
