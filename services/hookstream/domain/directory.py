"""The directory: applications, endpoints and event types folded from the ``config`` topic's events.

Every service that routes or delivers keeps one of these in memory, rebuilt
from the compacted ``config`` topic at start and kept current while running;
the API keeps one too, and looks entities up by ``uid`` in it and answers
with their creation and update times. The ``*_record`` functions give an
entity back as the record it was folded from, for writers that change it.
The fold is idempotent and order-tolerant per entity: an event whose version
is not newer than what the view holds is ignored, so replaying the topic, or
reading a record twice after a crash, changes nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hookstream.domain.matching import EndpointRule


@dataclass(frozen=True, slots=True)
class SealedSecret:
    """A signing secret as stored on the log: encrypted, with the key that sealed it."""

    ciphertext: bytes
    key_id: str
    created_at: datetime
    expires_at: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True, slots=True)
class Application:
    app_id: uuid.UUID
    name: str
    uid: str | None
    version: int
    metadata: Mapping[str, str] = field(default_factory=dict)
    rate_limit: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    token_generation: int = 0  # domain.access: the key its tokens are signed with
    previous_tokens_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Endpoint:
    endpoint_id: uuid.UUID
    app_id: uuid.UUID
    url: str
    version: int
    description: str = ""
    disabled: bool = False
    event_types: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    payload_filter: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[SealedSecret, ...] = ()
    rate_limit: int | None = None
    uid: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    delivery_metadata: Mapping[str, str] = field(default_factory=dict)  # last: positional construction stays

    @property
    def rule(self) -> EndpointRule:
        return EndpointRule(self.endpoint_id, self.event_types, self.channels, self.disabled, self.payload_filter)

    def signing_secrets(self, now: datetime) -> tuple[SealedSecret, ...]:
        """The newest secret and every older one not yet expired: all of them sign during a rotation."""
        return tuple(secret for secret in self.secrets if secret.active_at(now))


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    version: int
    description: str | None = ""
    archived: bool = False
    deprecated: bool = False
    schemas: str | None = None  # JSON text: JSON Schemas by version
    group_name: str | None = None
    feature_flags: tuple[str, ...] = ()
    created_at: datetime | None = None
    updated_at: datetime | None = None


def event_type_flags(record: Mapping[str, Any]) -> list[str]:
    """Its feature flags: records written before ``feature_flags`` existed carry one in ``feature_flag``."""
    flags = list(record.get("feature_flags") or ())
    return flags or ([record["feature_flag"]] if record.get("feature_flag") else [])


def sealed_secrets(records: Iterable[Mapping[str, Any]]) -> tuple[SealedSecret, ...]:
    return tuple(SealedSecret(r["ciphertext"], r["key_id"], r["created_at"], r.get("expires_at")) for r in records)


def application_from_record(record: Mapping[str, Any]) -> Application:
    return Application(
        app_id=uuid.UUID(record["app_id"]),
        name=record["name"],
        uid=record.get("uid"),
        version=record["version"],
        metadata=dict(record.get("metadata") or {}),
        rate_limit=record.get("rate_limit"),
        created_at=record.get("created_at"),
        updated_at=record.get("updated_at"),
        token_generation=record.get("token_generation") or 0,
        previous_tokens_until=record.get("previous_tokens_until"),
    )


def application_record(app: Application) -> dict[str, Any]:
    """The ``ApplicationUpserted`` record ``app`` was folded from."""
    return {"app_id": str(app.app_id), "name": app.name, "uid": app.uid, "rate_limit": app.rate_limit,
            "metadata": dict(app.metadata), "version": app.version, "created_at": app.created_at,
            "updated_at": app.updated_at, "token_generation": app.token_generation,
            "previous_tokens_until": app.previous_tokens_until}  # fmt: skip


def event_type_from_record(record: Mapping[str, Any]) -> EventType:
    return EventType(
        name=record["name"],
        version=record["version"],
        description=record.get("description", ""),
        archived=record.get("archived", False),
        deprecated=record.get("deprecated", False),
        schemas=record.get("schemas"),
        group_name=record.get("group_name"),
        feature_flags=tuple(event_type_flags(record)),
        created_at=record.get("created_at"),
        updated_at=record.get("updated_at"),
    )


def event_type_record(event_type: EventType) -> dict[str, Any]:
    """The ``EventTypeUpserted`` record ``event_type`` was folded from (an old single flag in ``feature_flags``)."""
    e = event_type
    return {"name": e.name, "description": e.description, "archived": e.archived, "deprecated": e.deprecated,
            "schemas": e.schemas, "group_name": e.group_name, "feature_flags": list(e.feature_flags),
            "feature_flag": None, "version": e.version, "created_at": e.created_at,
            "updated_at": e.updated_at}  # fmt: skip


def endpoint_from_record(record: Mapping[str, Any]) -> Endpoint:
    payload_filter = record.get("payload_filter")
    return Endpoint(
        endpoint_id=uuid.UUID(record["endpoint_id"]),
        app_id=uuid.UUID(record["app_id"]),
        url=record["url"],
        version=record["version"],
        description=record.get("description", ""),
        disabled=record.get("disabled", False),
        event_types=frozenset(record["filter_types"]) if record.get("filter_types") else None,
        channels=frozenset(record["channels"]) if record.get("channels") else None,
        payload_filter=json.loads(payload_filter) if payload_filter else None,
        headers=dict(record.get("headers") or {}),
        secrets=sealed_secrets(record.get("secrets") or ()),
        rate_limit=record.get("rate_limit"),
        uid=record.get("uid"),
        metadata=dict(record.get("metadata") or {}),
        delivery_metadata=dict(record.get("delivery_metadata") or {}),
        created_at=record.get("created_at"),
        updated_at=record.get("updated_at"),
    )


def endpoint_record(endpoint: Endpoint, *, updated_at: datetime | None = None, **changes: Any) -> dict[str, Any]:
    """The ``EndpointUpserted`` record of ``endpoint`` with ``changes`` applied: the inverse of
    :func:`endpoint_from_record`, for services that change an endpoint they only know from the view
    (the status processor disabling a failing one). Bump ``version`` in ``changes``.
    """
    updated_at = updated_at or endpoint.updated_at
    endpoint = replace(endpoint, **changes, updated_at=updated_at)
    return {
        "endpoint_id": str(endpoint.endpoint_id),
        "app_id": str(endpoint.app_id),
        "url": endpoint.url,
        "description": endpoint.description,
        "disabled": endpoint.disabled,
        "filter_types": sorted(endpoint.event_types or ()),
        "channels": sorted(endpoint.channels or ()),
        "payload_filter": json.dumps(endpoint.payload_filter) if endpoint.payload_filter is not None else None,
        "headers": dict(endpoint.headers),
        "rate_limit": endpoint.rate_limit,
        "uid": endpoint.uid,
        "metadata": dict(endpoint.metadata),
        "delivery_metadata": dict(endpoint.delivery_metadata),
        "secrets": [
            {"ciphertext": s.ciphertext, "key_id": s.key_id, "created_at": s.created_at, "expires_at": s.expires_at}
            for s in endpoint.secrets
        ],
        "version": endpoint.version,
        "created_at": endpoint.created_at,
        "updated_at": updated_at,
    }


class Directory:
    """Latest state per entity. Mutated only through ``apply``; read by lookups."""

    def __init__(self) -> None:
        self.applications: dict[uuid.UUID, Application] = {}
        self.endpoints: dict[uuid.UUID, Endpoint] = {}
        self.event_types: dict[str, EventType] = {}
        self._endpoints_by_app: dict[uuid.UUID, dict[uuid.UUID, Endpoint]] = {}
        self._deleted: dict[uuid.UUID, int] = {}  # tombstone versions, so a late upsert cannot resurrect
        self._deleted_event_types: dict[str, int] = {}  # the same for event types, which are keyed by name
        self._app_uids: dict[str, uuid.UUID] = {}
        self._endpoint_uids: dict[tuple[uuid.UUID, str], uuid.UUID] = {}

    def apply(self, name: str, record: Mapping[str, Any]) -> bool:
        """Fold one config event in; returns whether the view changed."""
        handler = _HANDLERS.get(name)
        return handler(self, record) if handler else False

    def endpoints_of(self, app_id: uuid.UUID) -> list[Endpoint]:
        return list(self._endpoints_by_app.get(app_id, {}).values())

    def application_by_uid(self, uid: str) -> Application | None:
        app_id = self._app_uids.get(uid)
        return self.applications.get(app_id) if app_id is not None else None

    def endpoint(self, app_id: uuid.UUID, endpoint_id: uuid.UUID) -> Endpoint | None:
        """The endpoint if it is ``app_id``'s: another application's id finds nothing."""
        return self._endpoints_by_app.get(app_id, {}).get(endpoint_id)

    def endpoint_by_uid(self, app_id: uuid.UUID, uid: str) -> Endpoint | None:
        endpoint_id = self._endpoint_uids.get((app_id, uid))
        return self.endpoints.get(endpoint_id) if endpoint_id is not None else None

    def next_event_type_version(self, name: str) -> int:
        """Above the current version, or above the expunge that freed the name (the fold ignores anything lower)."""
        current = self.event_types.get(name)
        return (current.version if current is not None else self._deleted_event_types.get(name, 0)) + 1

    def _newer(self, entity_id: uuid.UUID, version: int, current: Any) -> bool:
        if version <= self._deleted.get(entity_id, -1):
            return False
        return current is None or version > current.version

    def _application_upserted(self, record: Mapping[str, Any]) -> bool:
        app_id = uuid.UUID(record["app_id"])
        if not self._newer(app_id, record["version"], self.applications.get(app_id)):
            return False
        previous = self.applications.get(app_id)
        if previous is not None and previous.uid:
            self._app_uids.pop(previous.uid, None)
        app = self.applications[app_id] = application_from_record(record)
        if app.uid:
            self._app_uids[app.uid] = app_id
        return True

    def _application_deleted(self, record: Mapping[str, Any]) -> bool:
        app_id = uuid.UUID(record["app_id"])
        self._deleted[app_id] = max(record.get("version", 0), self._deleted.get(app_id, -1))
        removed = self.applications.pop(app_id, None)
        if removed is not None and removed.uid:
            self._app_uids.pop(removed.uid, None)
        for endpoint in list(self._endpoints_by_app.pop(app_id, {}).values()):
            self._forget_endpoint(endpoint)
        return removed is not None

    def _endpoint_upserted(self, record: Mapping[str, Any]) -> bool:
        endpoint = endpoint_from_record(record)
        if not self._newer(endpoint.endpoint_id, endpoint.version, self.endpoints.get(endpoint.endpoint_id)):
            return False
        self._store_endpoint(endpoint)
        return True

    def _endpoint_deleted(self, record: Mapping[str, Any]) -> bool:
        endpoint_id = uuid.UUID(record["endpoint_id"])
        self._deleted[endpoint_id] = max(record.get("version", 0), self._deleted.get(endpoint_id, -1))
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None:
            return False
        self._endpoints_by_app.get(endpoint.app_id, {}).pop(endpoint_id, None)
        self._forget_endpoint(endpoint)
        return True

    def _secret_rotated(self, record: Mapping[str, Any]) -> bool:
        endpoint_id = uuid.UUID(record["endpoint_id"])
        endpoint = self.endpoints.get(endpoint_id)
        if endpoint is None or record["version"] <= endpoint.version:
            return False
        rotated = replace(endpoint, secrets=sealed_secrets(record["secrets"]), version=record["version"],
                          updated_at=record.get("rotated_at", endpoint.updated_at))  # fmt: skip
        self._store_endpoint(rotated)
        return True

    def _event_type_upserted(self, record: Mapping[str, Any]) -> bool:
        current = self.event_types.get(record["name"])
        if record["version"] <= self._deleted_event_types.get(record["name"], -1):
            return False
        if current is not None and record["version"] <= current.version:
            return False
        self.event_types[record["name"]] = event_type_from_record(record)
        return True

    def _event_type_deleted(self, record: Mapping[str, Any]) -> bool:
        """A change even when the type is not held: the tombstone alone decides which re-creation counts."""
        name, version = record["name"], record.get("version", 0)
        current = self.event_types.get(name)
        if version <= self._deleted_event_types.get(name, -1) or (current is not None and current.version >= version):
            return False
        self._deleted_event_types[name] = version
        self.event_types.pop(name, None)
        return True

    def _store_endpoint(self, endpoint: Endpoint) -> None:
        previous = self.endpoints.get(endpoint.endpoint_id)
        if previous is not None:
            if previous.app_id != endpoint.app_id:
                self._endpoints_by_app.get(previous.app_id, {}).pop(endpoint.endpoint_id, None)
            if previous.uid:
                self._endpoint_uids.pop((previous.app_id, previous.uid), None)
        self.endpoints[endpoint.endpoint_id] = endpoint
        self._endpoints_by_app.setdefault(endpoint.app_id, {})[endpoint.endpoint_id] = endpoint
        if endpoint.uid:
            self._endpoint_uids[(endpoint.app_id, endpoint.uid)] = endpoint.endpoint_id

    def _forget_endpoint(self, endpoint: Endpoint) -> None:
        self.endpoints.pop(endpoint.endpoint_id, None)
        if endpoint.uid and self._endpoint_uids.get((endpoint.app_id, endpoint.uid)) == endpoint.endpoint_id:
            del self._endpoint_uids[(endpoint.app_id, endpoint.uid)]


_HANDLERS = {
    "ApplicationUpserted": Directory._application_upserted,
    "ApplicationDeleted": Directory._application_deleted,
    "EndpointUpserted": Directory._endpoint_upserted,
    "EndpointDeleted": Directory._endpoint_deleted,
    "SecretRotated": Directory._secret_rotated,
    "EventTypeUpserted": Directory._event_type_upserted,
    "EventTypeDeleted": Directory._event_type_deleted,
}
