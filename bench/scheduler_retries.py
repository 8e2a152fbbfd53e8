"""The retry scheduler under a backlog: due-time error of firing retries, and memory with retries pending.

Starts its own broker and store (`hookstream store`: ClickHouse in a process of its own, over HTTP), then runs
`hookstream run --roles schedule` as a separate process (as deployed) and feeds it failed ``AttemptFinished``
records whose retry decisions come from the real policy (jittered steps of the schedule below, deterministic per
attempt id). The store's RSS is reported apart from the scheduler's.

``--mode due``: N failed attempts written at once, their retries due across every tier; each forwarded task's
Kafka timestamp (when the scheduler wrote it to ``tasks``) minus its due time is the due-time error. Reports
p50/p99/max and how many fired early (must be 0).

``--mode rss``: retries due in an hour, added in steps up to N; after each step the scheduler's resident
memory (VmRSS) once it has read the new backlog. It must stay flat: the backlog waits in Kafka, the scheduler
holds at most a window per tier partition.

    .venv/bin/python bench/scheduler_retries.py --mode due --retries 10000
    .venv/bin/python bench/scheduler_retries.py --mode due --retries 10000 --schedule 0s,5s,10s,20s,40s
    .venv/bin/python bench/scheduler_retries.py --mode rss --retries 100000
    .venv/bin/python bench/scheduler_retries.py --mode due --retries 10000 --pending 1000000

``--pending N`` (due mode): first N retries due in an hour, on a tier of their own, with the scheduler's RSS
at 10k, 100k and N pending; the due-time run then fires its retries while those N wait.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from harness import Store, percentile, report, rss_mb, start_roles
from hookstream.domain.ids import attempt_id, generate_id
from hookstream.domain.retry import AttemptResult, RetryPolicy, next_retry, retry_rng
from hookstream.foundation.progress import Progress
from hookstream.foundation.settings import Settings, load_settings
from hookstream.log.admin import create_topics, wait_for_broker
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import ATTEMPTS, TASKS, TopicNames, catalogue
from hookstream.runtime.kafka_dist import ensure_kafka
from hookstream.runtime.local_kafka import LocalKafka

SCHEDULE = "0s,15s,20s,30s,45s"
"""Tiers of 15-45 s: long enough that every retry is on its tier before the first is due (the scheduler takes
10,000 attempts in well under 12 s), so the error measured is the tier consumer's. ``--schedule 0s,5s,...``
shows what a burst faster than the scheduler's intake does to the earliest tier."""
PAYLOAD = b'{"type":"invoice.paid","data":{"id":"in_1MtHbELkdIwHu7ixl4OzzPMv","amount":4200,"currency":"eur"}}'


def failed_attempt(policy: RetryPolicy, number: int, finished: datetime) -> dict[str, Any]:
    """A failed attempt record with the decision the delivery worker would have written."""
    msg_id, endpoint_id, app_id = generate_id(), generate_id(), generate_id()
    this = attempt_id(msg_id, endpoint_id, number, 0)
    decision = next_retry(policy, AttemptResult(number, False, False, 500), finished, retry_rng(this))
    return {
        "attempt_id": str(this), "app_id": str(app_id), "msg_id": str(msg_id), "endpoint_id": str(endpoint_id),
        "event_type": "invoice.paid", "attempt_number": number, "trigger": "scheduled", "url": "https://x.example/",
        "status": "failed", "response_status": 500, "status_code_class": 500, "error_class": "http_status",
        "retry_type": decision.retry_type.value if decision.retry_type else None,
        "retry_after_seconds": decision.retry_after_seconds, "next_attempt_at": decision.next_attempt_at(finished),
        "payload": PAYLOAD, "accepted_at": finished, "started_at": finished, "finished_at": finished,
    }  # fmt: skip


def start_scheduler(settings: Settings, work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """`hookstream run --roles schedule` against the broker and the store (the recover half reads ClickHouse)."""
    return start_roles(settings.replace(data_dir=work / "scheduler", log_level="WARNING"), "schedule",
                       work / "scheduler.log")  # fmt: skip


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


async def produce(
    producer: EventProducer, topic: str, records: list[dict[str, Any]], progress: Progress | None = None, base: int = 0
) -> None:
    """``progress`` (a bar on a terminal, one summary line otherwise) counts from ``base``."""
    for start in range(0, len(records), 5000):
        chunk = records[start : start + 5000]
        await asyncio.gather(*[await producer.send(topic, "AttemptFinished", r, r["msg_id"].encode()) for r in chunk])
        if progress is not None:
            progress.update(base + start + len(chunk))


async def read_tasks(settings: Settings, topic: str, count: int, timeout_s: float) -> list[tuple[int, datetime]]:
    codec = AvroCodec()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", max_poll_records=5000)  # fmt: skip
    await consumer.start()
    found: list[tuple[int, datetime]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [(r.timestamp, codec.decode(r.value)[1]["due_at"]) for r in records]
    finally:
        await consumer.stop()
    return found


async def in_tiers(settings: Settings, names: TopicNames) -> int:
    """Records the scheduler has written to the delay-tier topics so far."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await consumer.start()
    try:
        topics = [names.retry_tier(t) for t in names.tiers]
        partitions = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def fill_steps(
    settings: Settings, names: TopicNames, port: int, args: argparse.Namespace, total: int,
    attempt: Callable[[int, datetime], dict[str, Any]],
) -> None:  # fmt: skip
    """Write ``total`` failed attempts (``attempt(i, now)``) in steps up to 10k, 100k, 1M and ``total``.

    After each step, once the scheduler has put them all on their tiers, its RSS and the tasks it holds
    in memory are read (the b5_retry_memory table).
    """
    steps = sorted({s for s in (10_000, 100_000, 1_000_000) if s < total} | {total})
    print(f"scheduler RSS idle: {rss_mb(args.pid):.0f} MiB (store apart: {args.store.rss_mb():.0f} MiB)")
    rows: list[dict[str, Any]] = [{"pending": 0, "scheduler_rss_mb": rss_mb(args.pid), "held_in_memory": 0,
                                   "store_rss_mb": args.store.rss_mb()}]  # fmt: skip
    written = 0
    started = time.monotonic()
    async with EventProducer(settings.kafka_bootstrap_servers, AvroCodec()) as producer:
        for step in steps:
            with Progress(f"pending retries up to {step:,}", step - written) as progress:
                for start in range(written, step, 50_000):
                    now = datetime.now(UTC)
                    batch = [attempt(i, now) for i in range(start, min(step, start + 50_000))]
                    await produce(producer, names(ATTEMPTS), batch, progress, start - written)
            written = step
            while await in_tiers(settings, names) < written:  # the scheduler has put them on the tiers
                await asyncio.sleep(0.5)
            await asyncio.sleep(args.settle)
            held = metric(port, "hookstream_scheduler_held_tasks")
            print(f"{written:>7} retries pending ({time.monotonic() - started:.0f} s): scheduler RSS "
                  f"{rss_mb(args.pid):.0f} MiB, tasks held in memory {held:.0f} (store apart: "
                  f"{args.store.rss_mb():.0f} MiB)")  # fmt: skip
            rows.append({"pending": written, "scheduler_rss_mb": rss_mb(args.pid), "held_in_memory": held,
                         "store_rss_mb": args.store.rss_mb()})  # fmt: skip
    report("b5_retry_memory", rows, quick=args.quick)


async def fill_pending(settings: Settings, names: TopicNames, port: int, args: argparse.Namespace) -> int:
    """``--pending N``: N real retries due in an hour (the schedule's last tier) before the due-time run starts.

    They are failed attempts finished now, as in production, so they wait in their own tier topic; the
    due-time figures are then taken with N retries pending. Returns the highest attempt number the due run
    may use (those below it are retried on the short tiers).
    """
    policy = RetryPolicy.parse(settings.retry_schedule, settings.retry_jitter, "5s", "10h")
    last = policy.max_attempts - 1  # attempt `last` failing is retried after the schedule's last delay (1h)
    await fill_steps(settings, names, port, args, args.pending, lambda _, now: failed_attempt(policy, last, now))
    return last - 1


async def due_mode(settings: Settings, names: TopicNames, port: int, args: argparse.Namespace) -> None:
    policy = RetryPolicy.parse(settings.retry_schedule, settings.retry_jitter, "5s", "10h")
    highest = await fill_pending(settings, names, port, args) if args.pending else policy.max_attempts - 1
    base = await in_tiers(settings, names)
    rng = random.Random(7)
    now = datetime.now(UTC)
    records = [failed_attempt(policy, rng.randint(1, highest), now) for _ in range(args.retries)]
    async with EventProducer(settings.kafka_bootstrap_servers, AvroCodec()) as producer:
        started = time.monotonic()
        with Progress("failed attempts", len(records)) as progress:
            await produce(producer, names(ATTEMPTS), records, progress)
        print(f"{len(records)} failed attempts written in {time.monotonic() - started:.1f} s")
    while await in_tiers(settings, names) < base + len(records):
        await asyncio.sleep(0.2)
    earliest = min(r["next_attempt_at"] for r in records) - now
    print(f"all retries on their tiers {time.monotonic() - started:.1f} s after the first write "
          f"(the earliest is due after {earliest.total_seconds():.1f} s)")  # fmt: skip
    longest = max(r["next_attempt_at"] for r in records) - now
    fired = await read_tasks(settings, names(TASKS), len(records), longest.total_seconds() + 60)
    errors_ms = [timestamp - due.timestamp() * 1000 for timestamp, due in fired]
    early = sum(1 for e in errors_ms if e < -1)  # timestamps are whole ms; due times are us
    print(f"fired {len(fired)} of {len(records)} retries (due over {longest.total_seconds():.0f} s, tiers "
          f"{', '.join(names.retry_tier(t) for t in names.tiers)})")  # fmt: skip
    print(f"due-time error: p50 {percentile(errors_ms, 0.5):.1f} ms, p99 {percentile(errors_ms, 0.99):.1f} ms, "
          f"max {max(errors_ms):.1f} ms; early: {early}")  # fmt: skip
    print(f"scheduler RSS at the end: {rss_mb(args.pid):.0f} MiB (store apart: {args.store.rss_mb():.0f} MiB)")
    p99 = percentile(errors_ms, 0.99)
    report("b5_retry_due", [{"retries": len(records), "pending_besides": args.pending, "fired": len(fired),
                             "schedule": settings.retry_schedule,
                             "p50_ms": percentile(errors_ms, 0.5), "p99_ms": p99, "max_ms": max(errors_ms),
                             "early": early, "target": "p99 ≤ 1 s, none early", "met": p99 <= 1000 and not early}],
           quick=args.quick)  # fmt: skip


async def rss_mode(settings: Settings, names: TopicNames, port: int, args: argparse.Namespace) -> None:
    policy = RetryPolicy.parse(settings.retry_schedule, settings.retry_jitter, "5s", "10h")
    highest = policy.max_attempts - 1

    def attempt(i: int, now: datetime) -> dict[str, Any]:  # due long after the run: everything stays pending
        return failed_attempt(policy, 1 + i % highest, now + timedelta(hours=1))

    await fill_steps(settings, names, port, args, args.retries, attempt)


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="hookstream-scheduler-bench-"))
    base = load_settings(env={})
    broker = LocalKafka(ensure_kafka(base.kafka_jars_dir), work / "kafka", heap="1g").start()
    store = args.store = Store(work / "store")  # ClickHouse in its own process, reached over HTTP as deployed
    process = None
    try:
        schedule = args.schedule + ",1h" if args.pending else args.schedule  # the pending retries' own tier
        settings = base.replace(
            data_dir=work, kafka_bootstrap_servers=broker.bootstrap_servers, retry_schedule=schedule,
            clickhouse_url=store.url(),
            topic_partitions=args.partitions, topic_namespace=f"bench.{uuid.uuid4().hex[:6]}.",
        )  # fmt: skip
        await wait_for_broker(settings.kafka_bootstrap_servers)
        await create_topics(settings.kafka_bootstrap_servers, catalogue(settings))
        names = TopicNames.from_settings(settings)
        process, port = start_scheduler(settings, work)
        args.pid = process.pid
        await (due_mode if args.mode == "due" else rss_mode)(settings, names, port, args)
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        store.stop()
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["due", "rss"], required=True)
    parser.add_argument("--retries", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--schedule", default=SCHEDULE, help="retry schedule (the delays make the tiers)")
    parser.add_argument(
        "--pending", type=int, default=0, help="due mode: first put this many retries due in an hour on their own tier"
    )
    parser.add_argument("--settle", type=float, default=5.0, help="rss mode: seconds to wait before each reading")
    parser.add_argument("--quick", action="store_true", help="500 retries, short tiers: proves the benchmark runs")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.retries, arguments.schedule, arguments.settle = 500, "0s,2s,3s", 1.0
    asyncio.run(main(arguments))
