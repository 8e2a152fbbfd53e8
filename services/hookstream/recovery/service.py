"""Endpoint recover and replay-missing: each ``RecoverRequested`` on ``commands`` becomes manual tasks.

The API only writes the command (and answers 202); the fan-out happens here,
in a consumer group of its own on ``commands``, committed after every task
of the command is acknowledged. A crash (of the API, or of this process)
after the command is on the log therefore loses nothing: the command is read
again and fanned out again. Replayed work does not double up in the common
case, because the pairs are enumerated from the status table *as it stands*:
a message a first run already resent successfully is no longer ``fail``.

What is resent: every message created in ``[since, until)`` whose pair with
the endpoint ended failed (schedule exhausted, a failed manual attempt, or a
task dropped while the endpoint was disabled), as Svix's recover does; each
one as a manual attempt (``trigger`` manual, the pair's next trigger
sequence), which is never retried, like a resend. A message whose payload
has expired or was expunged cannot be resent and is skipped with a log line.

A command whose ``selection`` is ``missing`` (Svix's replay-missing, task
``endpoint.replay``) resends instead every message of the window that was
never attempted at the endpoint and that matches the endpoint's filters as
they are now (``domain.routing.replay_wanted``, over this role's view of
``config``): "messages that were previously sent to the endpoint are not
resent". A replayed command finds the pairs its first run sent, and sends
only what is still missing; a message routed to the endpoint but whose first
attempt is not yet recorded can be sent twice (receivers dedupe on
``webhook-id``).

It runs in the ``schedule`` role (the role that turns decisions into tasks)
and is the one part of it that reads ClickHouse: the failed pairs, their
payloads and their trigger sequences, all in one query
(:func:`hookstream.query.recovery.failed_deliveries`) on the client it is given.

Progress: nobody watches this process's terminal, so a recover logs a line
(done/total, records/s, ETA) every ``recover_progress_interval_s`` and a
summary at the end, and writes its background task's state at the same pace
on ``background-tasks`` (running with its counts, then finished), which the
API serves as ``GET /api/v1/background-task/{task_id}``. A replayed command
starts its counts again and ends with the same ``finished``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.domain.background import (
    FINISHED,
    MISSING_MESSAGES,
    RUNNING,
    BackgroundTask,
    recover_counts,
    recover_started,
)
from hookstream.domain.manual import manual_task
from hookstream.domain.matching import EndpointRule
from hookstream.domain.routing import replay_wanted
from hookstream.foundation.progress import ProgressLog
from hookstream.foundation.settings import Settings
from hookstream.log.background_tasks import publish
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.consumer import ConsumerOptions, Event, Outputs
from hookstream.log.producer import EventProducer
from hookstream.log.service import ConsumerService
from hookstream.log.topics import BACKGROUND_TASKS, COMMANDS, TASKS
from hookstream.query.recovery import Redelivery, failed_deliveries, missing_deliveries

log = logging.getLogger("hookstream.recover")


class Recoverer(ConsumerService):
    """``commands`` (RecoverRequested) -> ``tasks``; ``start()``/``stop()``.

    ``producer``, ``clickhouse`` and ``cache`` (a started view of ``config``, for the endpoint's filters that a
    replay-missing applies; without one, only recovers can run) are shared and their lifecycles stay with
    their owner.
    """

    def __init__(
        self,
        settings: Settings,
        codec: AvroCodec,
        producer: EventProducer,
        clickhouse: Client,
        cache: ConfigFollower | None = None,
    ) -> None:
        super().__init__(settings, producer, "recover", [COMMANDS], ConsumerOptions(max_records=100, typed=True))
        self._tasks_topic = self.names(TASKS)
        self._background_topic = self.names(BACKGROUND_TASKS)
        self._clickhouse = clickhouse
        self._cache = cache
        self._interval_s = settings.recover_progress_interval_s

    async def handle(self, batch: list[Event]) -> Outputs:
        """Each command's tasks are acknowledged by :meth:`recover` itself, before the batch is committed."""
        for event in batch:
            if event.name == "RecoverRequested":
                await self.recover(event.record)
        return None

    async def recover(self, command: dict[str, Any]) -> int:
        """Resend the command's selection of the window to the endpoint; returns how many were sent."""
        app_id, endpoint_id = uuid.UUID(command["app_id"]), uuid.UUID(command["endpoint_id"])
        selection = command.get("selection") or ""
        task = recover_started(uuid.UUID(command["request_id"]), app_id, endpoint_id, datetime.now(UTC), selection)
        failed = await self._selected(selection, app_id, endpoint_id, command)
        progress = ProgressLog(log, f"{task.task} {command['request_id']}", len(failed), self._interval_s)
        acks, skipped = [], 0
        await self._report(task, RUNNING, len(failed), 0, 0)
        for done, delivery in enumerate(failed, start=1):
            if delivery.message is None:
                log.warning("recover: message %s has no payload any more; not resent", delivery.msg_id)
                skipped += 1
            else:
                seq = delivery.last_trigger_seq + 1
                task_record = manual_task(delivery.message, str(endpoint_id), seq, datetime.now(UTC))
                acks.append(
                    await self.producer.send(self._tasks_topic, "DeliveryTask", task_record, str(endpoint_id).encode())
                )
            if progress.update(done):
                await self._report(task, RUNNING, len(failed), len(acks), skipped)
        await asyncio.gather(*acks)
        progress.finish()
        await self._report(task, FINISHED, len(failed), len(acks), skipped)
        log.info("%s %s: %d messages sent to endpoint %s", task.task, command["request_id"], len(acks), endpoint_id)
        return len(acks)

    async def _selected(
        self, selection: str, app_id: uuid.UUID, endpoint_id: uuid.UUID, command: dict[str, Any]
    ) -> list[Redelivery]:
        """The messages to resend: the failed pairs (recover), or those never attempted that the endpoint wants."""
        since, until = command["since"], command.get("until")
        if selection != MISSING_MESSAGES:
            return await failed_deliveries(self._clickhouse, app_id, endpoint_id, since, until)
        rule = await self._rule(app_id, endpoint_id)
        if rule is None:
            log.warning("replay %s: endpoint %s no longer exists; nothing sent", command["request_id"], endpoint_id)
            return []
        missing = await missing_deliveries(self._clickhouse, app_id, endpoint_id, since, until)
        return [d for d in missing if replay_wanted(d.row, rule)]

    async def _rule(self, app_id: uuid.UUID, endpoint_id: uuid.UUID) -> EndpointRule | None:
        """The endpoint's filters; a miss reads ``config`` to its end once (the endpoint may be a moment old)."""
        if self._cache is None:
            raise RuntimeError("replay-missing needs the config view the schedule role starts")
        endpoint = self._cache.view.endpoint(app_id, endpoint_id)
        if endpoint is None:
            await self._cache.catch_up()
            endpoint = self._cache.view.endpoint(app_id, endpoint_id)
        return endpoint.rule if endpoint is not None else None

    async def _report(self, task: BackgroundTask, status: str, found: int, sent: int, skipped: int) -> None:
        """The task's state on ``background-tasks``, acknowledged; the finished one after every task is."""
        state = task.moved(status, datetime.now(UTC), **recover_counts(found, sent, skipped))
        await publish(self.producer, self._background_topic, state)
