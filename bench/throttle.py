"""An endpoint's rate limit over a minute: a 10/s endpoint receives 10/s while its neighbour runs at full speed.

Starts its own broker and one delivery worker in this process, with two receivers on 127.0.0.1: a
throttled endpoint (``--rate``, per second) with a backlog larger than the run, and an unthrottled
neighbour of the same application kept busy all along (its backlog refilled whenever it runs low).
Arrivals are timed by the receivers; reported over ``--duration`` seconds from the first arrival:

- the throttled endpoint's received count, its rate and its error to the configured rate (the ceiling
  must hold: within 10 %), and the busiest and quietest one-second windows;
- the neighbour's count and rate over the same window (what the worker does at full speed meanwhile).

The two endpoints are chosen on different ``tasks`` partitions. On one partition the neighbour would
share the throttled backlog's read buffer: once ``HOOKSTREAM_DELIVERY_CONCURRENCY`` tasks of the
partition are waiting, the partition is paused, and the neighbour's tasks behind them wait too.

    .venv/bin/python bench/throttle.py                  # 10/s for 60 s
    .venv/bin/python bench/throttle.py --rate 50 --duration 30
    .venv/bin/python bench/throttle.py --quick          # 5 s: proves the benchmark runs
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka.partitioner import murmur2
from prometheus_client import CollectorRegistry

from harness import Receivers, builders, report
from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.delivery.worker import DeliveryWorker
from hookstream.domain.signing import generate_secret
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings, load_settings
from hookstream.log.admin import create_topics, wait_for_broker
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, TASKS, TopicNames, catalogue
from hookstream.runtime.kafka_dist import ensure_kafka
from hookstream.runtime.local_kafka import LocalKafka

NEIGHBOUR_BATCH = 500
"""Neighbour tasks sent at a time; a new batch whenever fewer than one batch is outstanding."""


def partition_of(key: str, partitions: int) -> int:
    """Where the producer's default partitioner puts ``key``."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def one_second_counts(arrivals: list[float], begin: float, seconds: int) -> list[int]:
    counts = [0] * seconds
    for at in arrivals:
        if begin <= at < begin + seconds:
            counts[int(at - begin)] += 1
    return counts


async def send(producer: EventProducer, topic: str, name: str, records: list[dict[str, Any]]) -> None:
    """Keyed by endpoint id as the router keys them (config records too: their key is the entity's id)."""
    await asyncio.gather(*[await producer.send(topic, name, r, r["endpoint_id"].encode()) for r in records])


async def arrivals(receivers: Receivers) -> dict[str, list[float]]:
    """Arrival times by receiver path, read from the receivers' process."""
    stats = await asyncio.to_thread(receivers.stats)
    by_path: dict[str, list[float]] = {}
    for _, path, at in stats["arrivals"]:
        by_path.setdefault(path, []).append(at)
    return by_path


async def keep_busy(
    producer: EventProducer, topic: str, endpoint: dict[str, Any], receivers: Receivers, stop: asyncio.Event
) -> None:
    """Refill the neighbour's backlog whenever fewer than a batch of its tasks are outstanding."""
    sent = 0
    while not stop.is_set():
        received = (await asyncio.to_thread(receivers.stats, 1 << 62))["counts"].get("/hook/1", 0)
        if sent - received < NEIGHBOUR_BATCH:
            await send(
                producer, topic, "DeliveryTask", [builders.delivery_task(endpoint) for _ in range(NEIGHBOUR_BATCH)]
            )
            sent += NEIGHBOUR_BATCH
        await asyncio.sleep(0.1)


async def run(settings: Settings, args: argparse.Namespace) -> None:
    names = TopicNames.from_settings(settings)
    box = SecretBox(parse_keys(settings.secret_keys))
    secret = generate_secret(b"b" * 32)
    receivers = Receivers(2)  # /hook/0 throttled, /hook/1 the neighbour; their own process
    producer = await EventProducer(settings.kafka_bootstrap_servers, AvroCodec(), client_id="bench-throttle").start()
    worker = None
    try:
        app_id = builders.application()["app_id"]
        ep_slow = builders.endpoint(app_id, receivers.url(0), box=box, secrets=[secret], rate_limit=args.rate)
        ep_fast = builders.endpoint(app_id, receivers.url(1), box=box, secrets=[secret])
        while partition_of(ep_fast["endpoint_id"], settings.topic_partitions) == partition_of(
            ep_slow["endpoint_id"], settings.topic_partitions
        ):
            ep_fast = builders.endpoint(app_id, receivers.url(1), box=box, secrets=[secret])
        await send(producer, names(CONFIG), "EndpointUpserted", [ep_slow, ep_fast])
        backlog = [builders.delivery_task(ep_slow, n=n) for n in range(args.rate * (args.duration + 5))]
        await send(producer, names(TASKS), "DeliveryTask", backlog)
        stop = asyncio.Event()
        feeding = asyncio.create_task(keep_busy(producer, names(TASKS), ep_fast, receivers, stop))
        worker = await DeliveryWorker(settings, DeliveryMetrics(CollectorRegistry()), worker_id="bench").start()
        deadline = time.time() + 60
        while not (await arrivals(receivers)).get("/hook/0") and time.time() < deadline:
            await asyncio.sleep(0.2)
        begin = min((await arrivals(receivers))["/hook/0"])
        await asyncio.sleep(max(0.0, begin + args.duration + 1 - time.time()))
        stop.set()
        await feeding
        arrived = await arrivals(receivers)
    finally:
        if worker is not None:
            await worker.stop()
        await producer.stop()
        receivers.stop()
    slow = one_second_counts(arrived["/hook/0"], begin, args.duration)
    fast = sum(one_second_counts(arrived.get("/hook/1", []), begin, args.duration))
    received = sum(slow)
    report("throttle", [{
        "rate": args.rate, "duration_s": args.duration, "received": received,
        "per_s": received / args.duration, "error_pct": 100 * (received / (args.rate * args.duration) - 1),
        "busiest_s": max(slow), "quietest_s": min(slow),
        "neighbour_received": fast, "neighbour_per_s": fast / args.duration,
    }], quick=args.quick)  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="hookstream-throttle-bench-"))
    base = load_settings(env={})
    broker = LocalKafka(ensure_kafka(base.kafka_jars_dir), work / "kafka", heap="1g").start()
    try:
        settings = base.replace(
            data_dir=work, kafka_bootstrap_servers=broker.bootstrap_servers, secret_keys=new_key_text(),
            delivery_allowed_networks="127.0.0.0/8", topic_namespace=f"bench.{uuid.uuid4().hex[:6]}.",
        )  # fmt: skip
        await wait_for_broker(settings.kafka_bootstrap_servers)
        await create_topics(settings.kafka_bootstrap_servers, catalogue(settings))
        await run(settings, args)
    finally:
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=10, help="the throttled endpoint's rate limit, per second")
    parser.add_argument("--duration", type=int, default=60, help="seconds measured from the first arrival")
    parser.add_argument("--quick", action="store_true", help="5 s: proves the benchmark runs")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.duration = 5
    asyncio.run(main(arguments))
