"""The API's read model of configuration: config records as written, with uid indexes.

The shared ``ConfigView`` folds what routing and delivery need; the API also
answers with creation and update times and looks entities up by ``uid``.
This listener rides on the API's ``ConfigCache`` (it is called after each
event the view accepted), so it is exactly as current as the view, and
``ConfigCache.catch_up()`` makes both hold a write the API just made.
"""

from __future__ import annotations

import uuid
from typing import Any


class ConfigDirectory:
    """Applications and endpoints by id and by uid, event types by name, as their latest Avro records."""

    def __init__(self) -> None:
        self.applications: dict[uuid.UUID, dict[str, Any]] = {}
        self.endpoints: dict[uuid.UUID, dict[str, Any]] = {}
        self._app_uids: dict[str, uuid.UUID] = {}
        self._endpoint_uids: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
        self.event_types: dict[str, dict[str, Any]] = {}  # archived ones too: only an expunge removes one
        self._event_type_tombstones: dict[str, int] = {}

    def __call__(self, name: str, record: dict[str, Any]) -> None:
        """Fold one config event the view accepted (``ConfigCache.subscribe`` signature)."""
        handler = getattr(self, f"_{name}", None)
        if handler is not None:
            handler(record)

    def application(self, app_id: uuid.UUID) -> dict[str, Any] | None:
        return self.applications.get(app_id)

    def application_by_uid(self, uid: str) -> dict[str, Any] | None:
        app_id = self._app_uids.get(uid)
        return self.applications.get(app_id) if app_id is not None else None

    def endpoint(self, app_id: uuid.UUID, endpoint_id: uuid.UUID) -> dict[str, Any] | None:
        record = self.endpoints.get(endpoint_id)
        return record if record is not None and record["app_id"] == str(app_id) else None

    def endpoint_by_uid(self, app_id: uuid.UUID, uid: str) -> dict[str, Any] | None:
        endpoint_id = self._endpoint_uids.get((app_id, uid))
        return self.endpoints.get(endpoint_id) if endpoint_id is not None else None

    def endpoints_of(self, app_id: uuid.UUID) -> list[dict[str, Any]]:
        key = str(app_id)
        return [record for record in self.endpoints.values() if record["app_id"] == key]

    def next_event_type_version(self, name: str) -> int:
        """Above the current version, or above the expunge that freed the name (the view ignores anything lower)."""
        current = self.event_types.get(name)
        return (current["version"] if current is not None else self._event_type_tombstones.get(name, 0)) + 1

    def _ApplicationUpserted(self, record: dict[str, Any]) -> None:
        app_id = uuid.UUID(record["app_id"])
        previous = self.applications.get(app_id)
        if previous is not None and previous.get("uid"):
            self._app_uids.pop(previous["uid"], None)
        self.applications[app_id] = record
        if record.get("uid"):
            self._app_uids[record["uid"]] = app_id

    def _ApplicationDeleted(self, record: dict[str, Any]) -> None:
        app_id = uuid.UUID(record["app_id"])
        previous = self.applications.pop(app_id, None)
        if previous is not None and previous.get("uid"):
            self._app_uids.pop(previous["uid"], None)
        for endpoint in self.endpoints_of(app_id):
            self._drop_endpoint(uuid.UUID(endpoint["endpoint_id"]))

    def _EndpointUpserted(self, record: dict[str, Any]) -> None:
        endpoint_id = uuid.UUID(record["endpoint_id"])
        self._drop_endpoint(endpoint_id)
        self.endpoints[endpoint_id] = record
        if record.get("uid"):
            self._endpoint_uids[(uuid.UUID(record["app_id"]), record["uid"])] = endpoint_id

    def _EndpointDeleted(self, record: dict[str, Any]) -> None:
        self._drop_endpoint(uuid.UUID(record["endpoint_id"]))

    def _SecretRotated(self, record: dict[str, Any]) -> None:
        endpoint_id = uuid.UUID(record["endpoint_id"])
        current = self.endpoints.get(endpoint_id)
        if current is not None:
            self.endpoints[endpoint_id] = {**current, "secrets": record["secrets"], "version": record["version"],
                                           "updated_at": record["rotated_at"]}  # fmt: skip

    def _EventTypeUpserted(self, record: dict[str, Any]) -> None:
        self.event_types[record["name"]] = record

    def _EventTypeDeleted(self, record: dict[str, Any]) -> None:
        self.event_types.pop(record["name"], None)
        self._event_type_tombstones[record["name"]] = record["version"]

    def _drop_endpoint(self, endpoint_id: uuid.UUID) -> None:
        previous = self.endpoints.pop(endpoint_id, None)
        if previous is not None and previous.get("uid"):
            self._endpoint_uids.pop((uuid.UUID(previous["app_id"]), previous["uid"]), None)
