"""B3 ingest: messages accepted and routed per second, over HTTP, straight into Kafka and through intake.

Against `hookstream dev`. The application has one endpoint subscribed to an
event type no message carries, so every message is routed (matched against
the endpoints) and none is delivered: what is measured is ingest and routing.

- HTTP: ``POST /api/v1/app/{app}/msg`` with the svix SDK's wire format, 64
  requests in flight; a message counts as accepted on its 202.
- Direct: ``MessageAccepted`` Avro records produced to ``messages`` (the
  path for upstream systems that write to Kafka), counted on the broker's ack.
- Intake: CloudEvents (structured mode) or plain JSON ``MessageIn`` records
  produced to the intake topic with a raw producer, as an upstream system
  writes them; a message counts as accepted once the intake role has written
  its ``MessageAccepted`` to ``messages`` (its counter reaching the total),
  timed from the phase's start. Beside it, the CPU ms per record the intake
  role's processes used until then (they route what it accepts too): a cost
  figure that moves much less than rates with the machine's load.
- Routed: the router's message counter reaching the accepted total.
- Baseline in the same run: a raw aiokafka producer sending the same number
  of bytes per record to a scratch topic of the same broker.
- Processes: what dev ran during the phase (harness.memory's names), so the
  figure says which layout served the API (on dev's port, in whichever process).

    .venv/bin/python bench/ingest.py            # 30 s per phase
    .venv/bin/python bench/ingest.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import aiohttp
from aiokafka import AIOKafkaProducer

from harness import Dev, descendants, process_name, report
from hookstream.domain.ids import IdKind, generate_id, parse_id
from hookstream.foundation.settings import load_settings
from hookstream.log.admin import create_topics
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import INTAKE, MESSAGES, TopicNames, TopicSpec
from pipeline import BODY, PAYLOAD
from processes import _stat

ROUTED = "hookstream_router_messages_total"
INTAKE_ACCEPTED = "hookstream_intake_accepted_total"
INTAKE_CPU: list[float] = []
"""CPU ms per record of the intake role's processes, one per intake phase (they also route what it accepts)."""


async def raw_baseline(bootstrap: str, seconds: float) -> float:
    await create_topics(bootstrap, [TopicSpec("bench.raw", load_settings(env={}).topic_partitions)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, client_id="bench-raw")
    await producer.start()
    try:
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            futures = [await producer.send("bench.raw", BODY, key=uuid.uuid4().bytes) for _ in range(1000)]
            await asyncio.gather(*futures)
            sent += len(futures)
        return sent / (time.monotonic() - started)
    finally:
        await producer.stop()


async def direct(dev: Dev, app_id: str, seconds: float) -> tuple[float, int]:
    settings = load_settings(env={})
    topic = TopicNames.from_settings(settings)(MESSAGES)
    async with EventProducer(dev.bootstrap, AvroCodec(), client_id="bench-direct") as producer:
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            acks = []
            for _ in range(1000):
                record = {"msg_id": str(generate_id()), "app_id": app_id, "event_type": "bench.event",
                          "event_id": None, "channels": [], "payload": BODY, "tags": [],
                          "accepted_at": datetime.now(UTC), "source": "kafka", "metadata": {}}  # fmt: skip
                acks.append(await producer.send(topic, "MessageAccepted", record, uuid.uuid4().bytes))
            await asyncio.gather(*acks)
            sent += len(acks)
        return sent / (time.monotonic() - started), sent


def cloudevent(app_id: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/bench", "type": "bench.event",
             "hookstreamapp": app_id, "data": PAYLOAD}  # fmt: skip
    return json.dumps(event, separators=(",", ":")).encode(), [("content-type", b"application/cloudevents+json")]


def plain_json(app_id: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    body = {"eventType": "bench.event", "payload": PAYLOAD}
    return json.dumps(body, separators=(",", ":")).encode(), [("hookstream-application", app_id.encode())]


def intake_cpu_s(dev: Dev) -> float:
    """CPU seconds used so far by the processes running the intake role (with the router and the delivery worker
    beside it in dev): per record, the figure to compare two versions by, as the machine's load moves rates."""
    pids = [pid for pid in descendants(dev.process.pid) if "intake" in process_name(pid).split("+")]
    return sum(stat[1] for stat in map(_stat, pids) if stat is not None)


async def intake(
    dev: Dev, app_id: str, seconds: float, shape: Callable[[str], tuple[bytes, list]]
) -> tuple[float, int]:
    """Records produced to the intake topic for ``seconds``; accepted/s until the intake role has written them all
    (acknowledged on ``messages``), and in :data:`INTAKE_CPU` the CPU ms per record its processes used meanwhile."""
    topic = TopicNames.from_settings(load_settings(env={}))(INTAKE)
    before = dev.metric(INTAKE_ACCEPTED)
    cpu_before = intake_cpu_s(dev)
    producer = AIOKafkaProducer(bootstrap_servers=dev.bootstrap, acks="all", linger_ms=5, client_id="bench-intake")
    await producer.start()
    try:
        sent = 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            futures = []
            for _ in range(1000):
                value, headers = shape(app_id)
                futures.append(await producer.send(topic, value, key=uuid.uuid4().bytes, headers=headers))
            await asyncio.gather(*futures)
            sent += len(futures)
    finally:
        await producer.stop()
    deadline = time.monotonic() + 600
    while dev.metric(INTAKE_ACCEPTED) - before < sent:
        if time.monotonic() > deadline:
            raise RuntimeError("the intake role did not catch up")
        await asyncio.sleep(0.2)
    INTAKE_CPU.append((intake_cpu_s(dev) - cpu_before) * 1000 / sent)
    return sent / (time.monotonic() - started), sent


async def over_http(dev: Dev, app: str, seconds: float, in_flight: int = 64) -> tuple[float, int]:
    headers = {"Authorization": f"Bearer {dev.token}", "Content-Type": "application/json"}
    body = {"eventType": "bench.event", "payload": PAYLOAD}
    accepted = 0
    stop = time.monotonic() + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        while time.monotonic() < stop:
            async with session.post(f"{dev.base}/api/v1/app/{app}/msg", json=body, headers=headers) as response:
                await response.read()
                accepted += response.status == 202

    started = time.monotonic()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=in_flight)) as session:
        await asyncio.gather(*(client(session) for _ in range(in_flight)))
    return accepted / (time.monotonic() - started), accepted


async def routed_rate(dev: Dev, before: float, count: int, started: float, timeout: float = 600) -> float:
    """Messages/s from the phase's start until the router has seen all ``count`` of them."""
    deadline = time.monotonic() + timeout
    while dev.metric(ROUTED) - before < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the router did not catch up")
        await asyncio.sleep(0.2)
    return count / (time.monotonic() - started)


async def main(args: argparse.Namespace) -> None:
    seconds = 3.0 if args.quick else args.seconds
    dev = Dev()
    try:
        app = dev.api("POST", "/app", {"name": "ingest"})
        dev.api("POST", f"/app/{app['id']}/endpoint",
                {"url": "http://127.0.0.1:9/never", "filterTypes": ["never.matches"]})  # fmt: skip
        app_id = str(parse_id(app["id"], IdKind.APPLICATION))
        baseline = await raw_baseline(dev.bootstrap, seconds)
        rows = []
        phases = [
            ("direct (Avro to messages)", lambda: direct(dev, app_id, seconds), 20_000),
            ("HTTP POST /msg (svix wire)", lambda: over_http(dev, app["id"], seconds), 5_000),
            ("intake: CloudEvents structured", lambda: intake(dev, app_id, seconds, cloudevent), 0.6 * baseline),
            ("intake: plain JSON MessageIn", lambda: intake(dev, app_id, seconds, plain_json), 0.6 * baseline),
        ]
        for name, run, target in phases:
            before = dev.metric(ROUTED)
            started = time.monotonic()
            phases_with_cpu = len(INTAKE_CPU)
            accepted_per_s, count = await run()
            routed = await routed_rate(dev, before, count, started)
            cpu = INTAKE_CPU[-1] if len(INTAKE_CPU) > phases_with_cpu else None
            rows.append({"path": name, "accepted_per_s": accepted_per_s, "routed_per_s": routed,
                         "raw_producer_per_s": baseline, "ratio_to_raw": accepted_per_s / baseline,
                         "target_per_s": target, "met": accepted_per_s >= target,
                         "intake_cpu_ms_per_record": cpu, "processes": " ".join(dev.processes())})  # fmt: skip
        report("b3_ingest", rows, quick=args.quick)
    finally:
        dev.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seconds", type=float, default=30.0)
    asyncio.run(main(parser.parse_args()))
