"""What the status processor's parts share: the topics, the messages table, and the writes more than one part makes.

Each part (:mod:`~hookstream.status.fold`, :mod:`~hookstream.status.prune`,
:mod:`~hookstream.status.health`) registers its agents on the one faust app
and gets this context instead of closing over the builder's locals, so a part
reads alone and the writes to ``status`` and ``operational`` have one spelling.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import faust
from faust.types import TableT

from hookstream.domain.status import Folded, message_record, pair_record
from hookstream.log.codec import AvroCodec
from hookstream.status.metrics import StatusMetrics


@dataclass(frozen=True, slots=True)
class StatusTopics:
    attempts: faust.TopicT
    endpoint_attempts: faust.TopicT  # internal, keyed by endpoint: the attempt facts the health fold reads
    prune_requests: faust.TopicT  # internal, keyed by message id, with the partitions of ``attempts``
    status: faust.TopicT
    operational: faust.TopicT
    config: faust.TopicT
    dead_letters: faust.TopicT


@dataclass(frozen=True, slots=True)
class StatusContext:
    app: faust.App
    codec: AvroCodec
    metrics: StatusMetrics
    topics: StatusTopics
    messages: TableT  # message id -> MessageState JSON, co-partitioned with ``attempts``
    retention_us: int  # how long a final status is kept (:func:`hookstream.domain.status.prunable`)

    async def write_status(self, folded: Folded) -> None:
        msg_id, endpoint_id = folded.message.msg_id, folded.pair.endpoint_id
        pair = self.codec.encode("MessageEndpointStatus", pair_record(folded.message, folded.pair))
        await self.topics.status.send(key=f"{msg_id}:{endpoint_id}".encode(), value=pair)
        message = self.codec.encode("MessageStatus", message_record(folded.message))
        await self.topics.status.send(key=msg_id.encode(), value=message)
        self.metrics.statuses.labels("MessageEndpointStatus").inc()
        self.metrics.statuses.labels("MessageStatus").inc()

    async def emit(self, event_record: dict) -> None:
        value = self.codec.encode("OperationalEvent", event_record)
        await self.topics.operational.send(key=event_record["endpoint_id"].encode(), value=value)
        self.metrics.operational.labels(event_record["type"]).inc()

    async def forget(self, msg_id: str, endpoint_ids: Iterable[str], stored: bool) -> None:
        """Delete the table entry (if any) and tombstone its status keys; the tombstones are written again on a
        repeat, as a crash may have lost them after the deletion was saved."""
        if stored:
            del self.messages[msg_id]
            self.metrics.pruned.inc()
        for endpoint_id in endpoint_ids:
            await self.topics.status.send(key=f"{msg_id}:{endpoint_id}".encode(), value=None)
        await self.topics.status.send(key=msg_id.encode(), value=None)


def now_us() -> int:
    return time.time_ns() // 1000
