"""A steady load through the Svix HTTP API or the intake topic, real receivers, and the ledger that checks nothing
was lost.

Every POST carries a sequence number in its payload; a 202 makes it
*accepted*. On the intake topic, a CloudEvent acknowledged by the broker is
accepted, under the message id derived from where it landed.
Deliveries are matched back by that number, so a message whose POST never
got its 202 (the API was killed mid-request) is counted apart, never mistaken for a duplicate or a loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from hookstream.domain.ids import IdKind, intake_message_id, parse_id
from tests.support.receivers import Receiver

EVENT_TYPES = ("order.created", "order.updated")


@dataclass(frozen=True)
class Route:
    """One endpoint: the receiver behind it and the event types it takes (empty: all)."""

    app: str
    receiver: int
    filter_types: tuple[str, ...] = ()


ROUTES = (Route("chaos-a", 0), Route("chaos-a", 1, ("order.created",)), Route("chaos-b", 2))
APPS = ("chaos-a", "chaos-b")


@dataclass
class Ledger:
    receivers: list[Receiver]
    endpoint_ids: dict[int, uuid.UUID] = field(default_factory=dict)  # receiver index -> endpoint
    accepted: dict[int, uuid.UUID] = field(default_factory=dict)  # seq -> message id from the 202
    sent: dict[int, tuple[str, str]] = field(default_factory=dict)  # seq -> (app, event type)
    refused: Counter[str] = field(default_factory=Counter)  # why a POST got no 202
    next_seq: int = 0

    def expected(self) -> set[tuple[int, int]]:
        """(receiver, seq) for every accepted message and every endpoint it matches."""
        pairs = set()
        for seq in self.accepted:
            app, event_type = self.sent[seq]
            for route in ROUTES:
                if route.app == app and (not route.filter_types or event_type in route.filter_types):
                    pairs.add((route.receiver, seq))
        return pairs

    def deliveries(self) -> dict[tuple[int, int], list[str]]:
        """(receiver, seq) -> the ``webhook-id`` of each request that arrived for it."""
        seen: dict[tuple[int, int], list[str]] = defaultdict(list)
        for index, receiver in enumerate(self.receivers):
            for request in receiver.received:
                seq = json.loads(request.body).get("seq")
                if seq is not None:
                    seen[(index, seq)].append(request.headers.get("webhook-id", ""))
        return seen

    def undelivered(self) -> set[tuple[int, int]]:
        return self.expected() - set(self.deliveries())

    def figures(self) -> dict[str, Any]:
        seen = self.deliveries()
        expected = self.expected()
        return {
            "sent": len(self.sent),
            "accepted": len(self.accepted),
            "refused": sum(self.refused.values()),
            "deliveries_expected": len(expected),
            "delivered": len(expected & set(seen)),
            "lost": len(expected - set(seen)),
            "duplicates": sum(len(ids) - 1 for ids in seen.values()),
            "unacked_delivered": len({seq for _, seq in seen} - set(self.accepted)),
        }

    def check_duplicates(self) -> None:
        """A repeated delivery is the same message (same ``webhook-id``), the id its 202 named."""
        for (index, seq), ids in self.deliveries().items():
            assert len(set(ids)) == 1, f"receiver {index} got seq {seq} under different webhook-ids {ids}"
            if seq in self.accepted:
                assert parse_id(ids[0], IdKind.MESSAGE) == self.accepted[seq], (index, seq, ids[0])

    def check_projection(self, attempts: list[list[Any]]) -> dict[str, int]:
        """Every (message, endpoint) a receiver saw has its attempt in ClickHouse, under one successful attempt id.

        ``attempts`` rows are (msg_id, endpoint_id, attempt_id, status) as text.
        """
        by_pair: dict[tuple[uuid.UUID, uuid.UUID], set[tuple[str, str]]] = defaultdict(set)
        for msg_id, endpoint_id, attempt_id, status in attempts:
            by_pair[(uuid.UUID(msg_id), uuid.UUID(endpoint_id))].add((attempt_id, status))
        missing, reattempted = [], 0
        for (index, _seq), ids in self.deliveries().items():
            pair = (parse_id(ids[0], IdKind.MESSAGE), self.endpoint_ids[index])
            records = by_pair.get(pair)
            if not records:
                missing.append(pair)
                continue
            succeeded = {attempt for attempt, status in records if status == "success"}
            assert len(succeeded) <= 1, f"{pair} succeeded under several attempt ids: {records}"
            reattempted += len(records) > 1
        assert not missing, f"{len(missing)} deliveries have no attempt record in ClickHouse, e.g. {missing[:3]}"
        return {"attempt_records": len(attempts), "pairs_with_retries": reattempted}


async def setup(session: aiohttp.ClientSession, api: str, token: str, ledger: Ledger) -> None:
    """Applications and endpoints through the API; then a probe per route proves routing is live."""
    headers = {"Authorization": f"Bearer {token}"}
    for app in APPS:
        async with session.post(f"{api}/api/v1/app", json={"name": app, "uid": app}, headers=headers) as resp:
            assert resp.status in (200, 201), await resp.text()
    for route in ROUTES:
        body: dict[str, Any] = {"url": ledger.receivers[route.receiver].url}
        if route.filter_types:
            body["filterTypes"] = list(route.filter_types)
        async with session.post(f"{api}/api/v1/app/{route.app}/endpoint", json=body, headers=headers) as resp:
            assert resp.status in (200, 201), await resp.text()
            ledger.endpoint_ids[route.receiver] = parse_id((await resp.json())["id"], IdKind.ENDPOINT)


async def post_one(session: aiohttp.ClientSession, api: str, token: str, ledger: Ledger) -> None:
    seq, app, event_type = _next(ledger)
    body = {"eventType": event_type, "eventId": f"chaos-{seq}", "payload": {"seq": seq}}
    try:
        async with session.post(
            f"{api}/api/v1/app/{app}/msg", json=body, headers={"Authorization": f"Bearer {token}"},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as resp:  # fmt: skip
            if resp.status == 202:
                ledger.accepted[seq] = parse_id((await resp.json())["id"], IdKind.MESSAGE)
            else:
                ledger.refused[f"http {resp.status}"] += 1
    except (aiohttp.ClientError, TimeoutError) as exc:
        ledger.refused[type(exc).__name__] += 1


def _next(ledger: Ledger) -> tuple[int, str, str]:
    seq = ledger.next_seq
    ledger.next_seq += 1
    app, event_type = APPS[seq % 2], EVENT_TYPES[(seq // 2) % 2]
    ledger.sent[seq] = (app, event_type)
    return seq, app, event_type


async def produce_one(producer: AIOKafkaProducer, topic: str, ledger: Ledger) -> None:
    """One structured CloudEvent on the intake topic; accepted once the broker acknowledges it."""
    seq, app, event_type = _next(ledger)
    event = {"specversion": "1.0", "id": f"intake-{seq}", "source": "/chaos", "type": event_type,
             "hookstreamapp": app, "data": {"seq": seq}}  # fmt: skip
    try:
        sent = await producer.send_and_wait(topic, json.dumps(event).encode(), key=app.encode(),
                                            headers=[("content-type", b"application/cloudevents+json")])  # fmt: skip
    except Exception as exc:  # the broker away: not accepted, like a POST without its 202
        ledger.refused[type(exc).__name__] += 1
        return
    ledger.accepted[seq] = intake_message_id(sent.topic, sent.partition, sent.offset, sent.timestamp)


@contextlib.asynccontextmanager
async def steady_intake_load(bootstrap: str, topic: str, ledger: Ledger, rate_per_s: float):  # type: ignore[no-untyped-def]
    """Produce to the intake topic at ``rate_per_s`` for the block's duration, as an upstream system would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    pending: set[asyncio.Task[None]] = set()

    async def loop() -> None:
        started, sent = time.monotonic(), 0
        while True:
            task = asyncio.create_task(produce_one(producer, topic, ledger))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
            await asyncio.sleep(max(0.0, started + sent / rate_per_s - time.monotonic()))

    runner = asyncio.create_task(loop())
    try:
        yield
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        if pending:
            await asyncio.wait(set(pending), timeout=15)
        await producer.stop()


@contextlib.asynccontextmanager
async def steady_load(api: str, token: str, ledger: Ledger, rate_per_s: float):  # type: ignore[no-untyped-def]
    """POST at ``rate_per_s`` for the block's duration (each POST its own task); wait for them at the end."""
    async with aiohttp.ClientSession() as session:
        pending: set[asyncio.Task[None]] = set()

        async def loop() -> None:
            started, sent = time.monotonic(), 0
            while True:
                task = asyncio.create_task(post_one(session, api, token, ledger))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
                await asyncio.sleep(max(0.0, started + sent / rate_per_s - time.monotonic()))

        runner = asyncio.create_task(loop())
        try:
            yield
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
            if pending:
                await asyncio.wait(set(pending), timeout=15)


async def wait_delivered(ledger: Ledger, timeout_s: float) -> float:
    """Seconds until every accepted message reached every matching endpoint; fails naming what is missing."""
    started = time.monotonic()
    while ledger.undelivered():
        if time.monotonic() - started > timeout_s:
            missing = sorted(ledger.undelivered())
            raise AssertionError(f"{len(missing)} accepted deliveries missing after {timeout_s} s: {missing[:10]}")
        await asyncio.sleep(0.5)
    return time.monotonic() - started
