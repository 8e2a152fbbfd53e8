"""Background tasks (Svix's ``qtask_``): long work the API starts and answers at once, whose state is read later.

An endpoint recover is one: the API answers ``RecoverOut`` while the
``schedule`` role enumerates and resends the failed messages; an endpoint
replay-missing is the same work with another selection of messages (those
never attempted at the endpoint), answered as ``ReplayOut``. The task's state
(running, then finished or failed, with its counts) is a record on the
compacted ``background-tasks`` topic keyed by the task id; the latest record
of a key is the state. Everything here is pure: the states, their records,
the list filter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hookstream.domain.ids import IdKind, to_svix

RECORD = "BackgroundTaskState"
RECOVER = "endpoint.recover"
REPLAY = "endpoint.replay"
RUNNING, FINISHED, FAILED = "running", "finished", "failed"
STATUSES = (RUNNING, FINISHED, FAILED)
TASKS = (RECOVER, REPLAY)
FAILED_MESSAGES, MISSING_MESSAGES = "failed", "missing"
SELECTIONS = {FAILED_MESSAGES: RECOVER, MISSING_MESSAGES: REPLAY}
"""A resend command's ``selection`` -> the task it is: recover resends the failed pairs of the window,
replay-missing the messages never attempted at the endpoint."""
RETENTION_DAYS = 90
"""Svix lists the tasks of the past 90 days; the topic forgets older ones (``compact,delete``)."""


@dataclass(frozen=True, slots=True)
class BackgroundTask:
    task_id: uuid.UUID
    """UUIDv7: its time orders the list. For a recover, the command's ``request_id``."""
    task: str
    status: str
    updated_at: datetime
    data: Mapping[str, int] = field(default_factory=dict)
    """What the task counted so far, in Svix's camelCase (a recover: ``messagesFound``, ``messagesSent``, ...)."""
    app_id: uuid.UUID | None = None
    endpoint_id: uuid.UUID | None = None

    def moved(self, status: str, at: datetime, **data: int) -> BackgroundTask:
        """The same task in ``status`` at ``at``, with ``data`` merged into its counts."""
        return replace(self, status=status, updated_at=at, data={**self.data, **data})


def recover_started(
    request_id: uuid.UUID, app_id: uuid.UUID, endpoint_id: uuid.UUID, at: datetime, selection: str = FAILED_MESSAGES
) -> BackgroundTask:
    """The state the API writes before the command: a GET right after the 202 finds the task."""
    return BackgroundTask(request_id, SELECTIONS[selection], RUNNING, at, {}, app_id, endpoint_id)


def recover_counts(found: int, sent: int, skipped: int) -> dict[str, int]:
    """``messagesSent`` is Svix's own name (its document's example of a finished recover or replay); the other
    two say how many messages the selection found in the window and how many could not be resent (payload
    expired or expunged)."""
    return {"messagesFound": found, "messagesSent": sent, "messagesSkipped": skipped}


def task_svix_id(task_id: uuid.UUID) -> str:
    return to_svix(IdKind.BACKGROUND_TASK, task_id)


def to_record(task: BackgroundTask) -> dict[str, Any]:
    return {
        "task_id": str(task.task_id), "task": task.task, "status": task.status, "data": dict(task.data),
        "app_id": str(task.app_id) if task.app_id else None,
        "endpoint_id": str(task.endpoint_id) if task.endpoint_id else None,
        "updated_at": task.updated_at,
    }  # fmt: skip


def from_record(record: Mapping[str, Any]) -> BackgroundTask:
    app_id, endpoint_id = record.get("app_id"), record.get("endpoint_id")
    return BackgroundTask(
        uuid.UUID(record["task_id"]), record["task"], record["status"], record["updated_at"], dict(record["data"]),
        uuid.UUID(app_id) if app_id else None, uuid.UUID(endpoint_id) if endpoint_id else None,
    )  # fmt: skip


def matching(tasks: Iterable[BackgroundTask], status: str | None, task: str | None) -> list[BackgroundTask]:
    """The list's filters: ``status`` and ``task`` (the type), each absent for any."""
    return [t for t in tasks if (status is None or t.status == status) and (task is None or t.task == task)]
