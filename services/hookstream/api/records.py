"""The API's window on the directory: entities as the config records they were folded from.

The dialects build their answers and their changes from config records (the
Avro field names), so they read the one directory (``domain.directory``,
folded by the API's ``ConfigFollower``) through these lookups, which give each
entity back as its record. Nothing is folded here: the directory is the only
read model of the ``config`` topic, with its uid indexes and times.
"""

from __future__ import annotations

import uuid
from typing import Any

from hookstream.domain.directory import (
    Directory,
    application_record,
    endpoint_record,
    event_type_record,
)

Record = dict[str, Any]


class ConfigRecords:
    """Applications and endpoints by id and by uid, event types by name (archived ones too), as records."""

    def __init__(self, view: Directory) -> None:
        self.view = view

    def application(self, app_id: uuid.UUID) -> Record | None:
        app = self.view.applications.get(app_id)
        return application_record(app) if app is not None else None

    def application_by_uid(self, uid: str) -> Record | None:
        app = self.view.application_by_uid(uid)
        return application_record(app) if app is not None else None

    def applications(self) -> list[Record]:
        return [application_record(app) for app in self.view.applications.values()]

    def endpoint(self, app_id: uuid.UUID, endpoint_id: uuid.UUID) -> Record | None:
        endpoint = self.view.endpoint(app_id, endpoint_id)
        return endpoint_record(endpoint) if endpoint is not None else None

    def endpoint_by_uid(self, app_id: uuid.UUID, uid: str) -> Record | None:
        endpoint = self.view.endpoint_by_uid(app_id, uid)
        return endpoint_record(endpoint) if endpoint is not None else None

    def any_endpoint(self, endpoint_id: uuid.UUID) -> Record | None:
        """The endpoint whatever its application: for routes given no application."""
        endpoint = self.view.endpoints.get(endpoint_id)
        return endpoint_record(endpoint) if endpoint is not None else None

    def endpoints_with_uid(self, uid: str) -> list[Record]:
        """Every endpoint (in any application) with this uid: for routes given no application."""
        return [endpoint_record(e) for e in self.view.endpoints.values() if e.uid == uid]

    def endpoints_of(self, app_id: uuid.UUID) -> list[Record]:
        return [endpoint_record(endpoint) for endpoint in self.view.endpoints_of(app_id)]

    def event_type(self, name: str) -> Record | None:
        event_type = self.view.event_types.get(name)
        return event_type_record(event_type) if event_type is not None else None

    def event_types(self) -> list[Record]:
        return [event_type_record(event_type) for event_type in self.view.event_types.values()]

    def topics(self) -> set[str]:
        """The names of the event types not archived."""
        return {name for name, event_type in self.view.event_types.items() if not event_type.archived}

    def next_event_type_version(self, name: str) -> int:
        return self.view.next_event_type_version(name)
