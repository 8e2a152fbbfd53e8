"""Background task states on the ``background-tasks`` topic: written by the API and the recoverer, followed by the API.

Why a compacted topic and not a ClickHouse table: the state has one writer
at a time per task (the API when it starts it, then the role doing the work)
and is read by every API process, which is what a compacted topic followed by
each process gives (it survives restarts, and any API process answers for a
task another one started); a miss reads to the end of the topic once more, so
a GET right after the POST finds the task whichever process serves it. A
ClickHouse table would need a projector path, its batching delay, and a
``FINAL`` read for the latest state; the set is small (a recover is an
operator's action, kept 90 days), so it lives in memory.

The topic also carries logouts (``TokenRevoked``, ``domain.revocation``):
state the API writes and every API process must hold from its start and
follow, which is what this topic already gives. ``config`` would not do: it
is compacted without retention, so a revocation would stay there forever and
every role would replay it at every start; ``idempotency`` forgets after its
window (12 hours by default), before a token's expiry (up to seven days).
Here a revocation is deleted by Kafka after 90 days, and the API's set
forgets it once its token has expired.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from hookstream.domain import revocation
from hookstream.domain.access import TokenId
from hookstream.domain.background import RECORD, BackgroundTask, from_record, to_record
from hookstream.domain.revocation import RevokedTokens
from hookstream.log.codec import AvroCodec, UndecodableRecord, UnexpectedType
from hookstream.log.follower import TopicFollower
from hookstream.log.producer import EventProducer

log = logging.getLogger("hookstream.log.background_tasks")


async def publish(producer: EventProducer, topic: str, task: BackgroundTask) -> None:
    """Write a task's state and wait for the log to acknowledge it (the API and the recoverer both write)."""
    await (await producer.send(topic, RECORD, to_record(task), str(task.task_id).encode()))


class BackgroundTasks(TopicFollower):
    def __init__(
        self, bootstrap: str, topic: str, codec: AvroCodec, producer: EventProducer,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        super().__init__(bootstrap, topic)
        self.tasks: dict[uuid.UUID, BackgroundTask] = {}
        self.revoked = RevokedTokens()
        self._codec = codec
        self._producer = producer
        self._clock = clock

    async def save(self, task: BackgroundTask) -> None:
        """Acknowledged on the log, then folded in here at once (the follower's copy is a no-op)."""
        await publish(self._producer, self.topic, task)
        self.tasks[task.task_id] = task

    async def get(self, task_id: uuid.UUID) -> BackgroundTask | None:
        """The latest state; on a miss, once more after reading to the end (another API process started it)."""
        if task_id not in self.tasks:
            await self.catch_up()
        return self.tasks.get(task_id)

    async def revoke(self, token: TokenId) -> None:
        """Log a token out: acknowledged on the log, then refused here at once (read your writes); other API
        processes refuse it once they have followed the topic to the record."""
        record = revocation.to_record(token, datetime.now(UTC))
        await (await self._producer.send(self.topic, revocation.RECORD, record, revocation.key(token)))
        self.revoked.add(token, self._clock())

    def _fold(self, value: bytes | None, offset: int, partition: int) -> None:
        if value is None:
            return
        try:
            name, record = self._codec.decode(value)
            if name not in (RECORD, revocation.RECORD):
                raise UnexpectedType(f"{name} does not belong on {self.topic}", schema_name=name)
        except UndecodableRecord as error:
            log.error("undecodable background task record skipped",
                      extra={"partition": partition, "offset": offset, "reason": error.reason})  # fmt: skip
            return
        if name == revocation.RECORD:
            self.revoked.add(revocation.from_record(record), self._clock())
            return
        task = from_record(record)
        self.tasks[task.task_id] = task
