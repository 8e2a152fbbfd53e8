"""Pruning (``status_retention``): final statuses forgotten once unchanged for the retention.

A timer scans the messages table and, for each message final everywhere and
unchanged for the retention (:func:`hookstream.domain.status.prunable`),
sends a prune request keyed by message id on an internal topic with the
partitions of ``attempts``, so the request lands on the partition that owns
the message's table entry (faust lets only an agent handling an event of that
partition change it). The ``prune`` agent checks again (a new attempt may
have come in since), deletes the entry and writes tombstones for the pair and
message keys to ``status``. The scan covers whatever the table holds, so a
table rebuilt from its changelog or from ``attempts`` is pruned too.
"""

from __future__ import annotations

import json
import time

import faust

from hookstream.domain.status import MessageState, prunable
from hookstream.status.context import StatusContext, now_us


def register_prune(ctx: StatusContext, retention_s: float) -> None:
    """Register the scan timer and the ``prune`` agent, which share the requests in flight."""
    requested: dict[str, float] = {}  # message id -> when its prune request was sent (no repeats while in flight)
    scan_every_s = prune_interval_s(retention_s)

    @ctx.app.timer(scan_every_s)
    async def scan() -> None:
        now = now_us()
        resend_before = time.monotonic() - 10 * scan_every_s
        for msg_id in [key for key, at in requested.items() if at < resend_before]:
            del requested[msg_id]
        for msg_id, stored in list(ctx.messages.items()):
            if msg_id in requested or stored is None:
                continue
            state = MessageState.from_json(stored)
            if prunable(state, now, ctx.retention_us):
                requested[msg_id] = time.monotonic()
                value = json.dumps(list(state.pairs)).encode()
                await ctx.topics.prune_requests.send(key=msg_id.encode(), value=value)

    @ctx.app.agent(ctx.topics.prune_requests, name="prune")
    async def prune(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            msg_id = event.message.key.decode()
            requested.pop(msg_id, None)
            stored = ctx.messages.get(msg_id)
            if stored is None:  # pruned before: tombstones again, the first ones may be lost
                await ctx.forget(msg_id, json.loads(event.message.value), stored=False)
                continue
            state = MessageState.from_json(stored)
            if prunable(state, now_us(), ctx.retention_us):
                await ctx.forget(msg_id, state.pairs, stored=True)


def prune_interval_s(retention_s: float) -> float:
    """How often the table is scanned: a small fraction of the retention, at most every ten minutes."""
    return min(600.0, max(0.2, retention_s / 20))
