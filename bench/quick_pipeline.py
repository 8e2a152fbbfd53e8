"""A quick pipeline run: N messages through every role in one process to a receiver in another process.

Reports deliveries/s for a burst, and message-accepted -> attempt-projected
latency (p50/p99) at a steady rate. Not the rigorous benchmark (see the
benchmarks issue); a smoke figure for the pipeline's order of magnitude.

    .venv/bin/python bench/quick_pipeline.py --messages 10000 --rate 300 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from hookstream.config.secrets import SecretBox, new_key_text, parse_keys
from hookstream.domain.ids import generate_id
from hookstream.log.admin import create_topics, wait_for_broker
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, MESSAGES, TopicNames, catalogue
from hookstream.projector.migrations import apply_migrations
from hookstream.runtime.clickhouse import connect
from hookstream.runtime.kafka_dist import ensure_kafka
from hookstream.runtime.local_kafka import LocalKafka, free_port
from hookstream.runtime.roles import ALL_ROLES, running_roles
from hookstream.runtime.settings import load_settings

RECEIVER = """
import sys
from aiohttp import web
async def hook(request):
    await request.read()
    return web.Response(text="ok")
app = web.Application()
app.router.add_post("/hook", hook)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="hookstream-quick-"))
    base = load_settings(env={})
    broker = LocalKafka(ensure_kafka(base.kafka_jars_dir), work / "kafka", heap="1g").start()
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    try:
        settings = base.replace(
            data_dir=work,
            kafka_bootstrap_servers=broker.bootstrap_servers,
            secret_keys=new_key_text(),
            delivery_allowed_networks="127.0.0.1/32",
            topic_partitions=6,
        )
        await wait_for_broker(settings.kafka_bootstrap_servers)
        await create_topics(settings.kafka_bootstrap_servers, catalogue(settings))
        clickhouse = connect(settings.resolved_clickhouse_url, settings.clickhouse_database)
        apply_migrations(clickhouse)
        names = TopicNames(settings.topic_namespace, settings.retry_schedule)
        box = SecretBox(parse_keys(settings.secret_keys))
        app_id = str(generate_id())
        now = datetime.now(UTC)
        ciphertext, key_id = box.seal("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        async with EventProducer(settings.kafka_bootstrap_servers, AvroCodec()) as producer:
            await (await producer.send(names(CONFIG), "ApplicationUpserted", {
                "app_id": app_id, "name": "bench", "uid": None, "rate_limit": None, "metadata": {}, "version": 1,
                "created_at": now, "updated_at": now}, app_id.encode()))  # fmt: skip
            await (await producer.send(names(CONFIG), "EndpointUpserted", {
                "endpoint_id": str(generate_id()), "app_id": app_id, "url": f"http://127.0.0.1:{port}/hook",
                "description": "", "disabled": False, "filter_types": [], "channels": [], "payload_filter": None,
                "headers": {}, "rate_limit": None, "uid": None, "metadata": {}, "version": 1,
                "secrets": [{"ciphertext": ciphertext, "key_id": key_id, "created_at": now, "expires_at": None}],
                "created_at": now, "updated_at": now}, b"ep"))  # fmt: skip
            payload = b'{"data":"' + b"x" * 1000 + b'"}'

            def message() -> dict:
                return {"msg_id": str(generate_id()), "app_id": app_id, "event_type": "bench.event",
                        "event_id": None, "channels": [], "payload": payload, "tags": [],
                        "accepted_at": datetime.now(UTC), "source": "kafka", "metadata": {}}  # fmt: skip

            async with running_roles(settings, ALL_ROLES, CollectorRegistry()):
                # Burst: all messages at once; throughput = messages / (last attempt finished - first accepted).
                started = time.monotonic()
                acks = [await producer.send(names(MESSAGES), "MessageAccepted", message(), uuid.uuid4().bytes)
                        for _ in range(args.messages)]  # fmt: skip
                await asyncio.gather(*acks)
                accepted_s = time.monotonic() - started
                while int(clickhouse.command("SELECT count() FROM attempts")) < args.messages:
                    await asyncio.sleep(0.1)
                projected_s = time.monotonic() - started
                window = clickhouse.query(
                    "SELECT min(started_at), max(finished_at), countIf(status = 'success') FROM attempts"
                ).first_row
                delivered_s = (window[1] - window[0]).total_seconds()
                print(f"burst: {args.messages} messages accepted in {accepted_s:.2f} s "
                      f"({args.messages / accepted_s:,.0f}/s); delivered in {delivered_s:.2f} s "
                      f"({args.messages / delivered_s:,.0f} deliveries/s, {window[2]} succeeded); all projected "
                      f"after {projected_s:.2f} s ({args.messages / projected_s:,.0f}/s end to end)")  # fmt: skip

                # Steady rate: accepted -> visible in ClickHouse, polled every 20 ms.
                sent: dict[str, float] = {}
                visible: dict[str, float] = {}
                end = time.monotonic() + args.seconds

                async def poll() -> None:
                    while time.monotonic() < end or (len(visible) < len(sent) and time.monotonic() < end + 10):
                        ids = clickhouse.query(
                            "SELECT toString(msg_id) FROM attempts WHERE started_at > now64() - INTERVAL 60 SECOND"
                        ).result_rows
                        t = time.monotonic()
                        for (msg_id,) in ids:
                            if msg_id in sent and msg_id not in visible:
                                visible[msg_id] = t
                        await asyncio.sleep(0.02)

                poller = asyncio.create_task(poll())
                interval = 1 / args.rate
                next_at = time.monotonic()
                pending = []
                while time.monotonic() < end:
                    record = message()
                    ack = await producer.send(names(MESSAGES), "MessageAccepted", record, uuid.uuid4().bytes)
                    # Accepted = acknowledged by the broker; the clock starts when the ack arrives.
                    ack.add_done_callback(lambda _, m=record["msg_id"]: sent.__setitem__(m, time.monotonic()))
                    pending.append(ack)
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                await asyncio.gather(*pending)
                await poller
                latencies = [(visible[m] - sent[m]) * 1000 for m in sent if m in visible]
                print(f"steady {args.rate}/s for {args.seconds} s: {len(latencies)}/{len(sent)} projected; "
                      f"accepted -> projected p50 {statistics.median(latencies):.0f} ms, "
                      f"p99 {percentile(latencies, 0.99):.0f} ms, max {max(latencies):.0f} ms")  # fmt: skip
        clickhouse.close()
    finally:
        receiver.terminate()
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
