"""B1 delivery throughput, B2 latency and B6 memory, against `hookstream dev` as a user runs it.

B1: 1 KiB JSON messages produced straight into ``messages`` (so ingest is not
what is measured), fanned out to 1 and to 10 endpoints on receivers in
another process that answer 200 at once. The figure is attempts *projected*
per second (the projector's row counter), sustained over the window after a
warm-up. Baseline in the same run: a plain aiohttp sender posting the same
signed payloads to the same receivers at the same concurrency, no Kafka, no
ClickHouse.

B2: at half of B1's rate (1 endpoint), messages created through the Svix
HTTP API: 202 -> the receiver got it (the receiver stamps arrival by
``webhook-id``), and 202 -> the attempt is visible through the list API.

B6: resident memory of every process `hookstream dev` runs, found by walking
its process tree and named by command line (dev, each ``hookstream run
--roles ...`` child, the store, the broker JVM), sampled through B1, then with
a backlog of unconsumed messages. ``python_mb`` is the Python roles together:
the store (ClickHouse, a server in production) and the broker are apart.

    .venv/bin/python bench/pipeline.py                # full: 60 s windows, 1M-message backlog
    .venv/bin/python bench/pipeline.py --quick        # seconds; asserts nothing about speed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

import sampling
from harness import Dev, Receivers, percentile, report
from hookstream.domain.ids import IdKind, generate_id, parse_id, to_svix
from hookstream.domain.signing import webhook_headers
from hookstream.foundation.progress import Progress
from hookstream.foundation.settings import load_settings
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import MESSAGES, TopicNames

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PAYLOAD = {"type": "bench.event", "data": "x" * 990}
BODY = json.dumps(PAYLOAD, separators=(",", ":")).encode()


def concurrency(endpoints: int) -> int:
    """What the delivery worker allows in flight: the total cap, and a cap per endpoint (settings defaults)."""
    defaults = load_settings(env={})
    return min(defaults.delivery_concurrency, defaults.delivery_endpoint_concurrency * endpoints)


async def baseline(receivers: Receivers, endpoints: int, seconds: float) -> float:
    """Deliveries/s of a plain signed-POST loop: the ceiling for this machine, receivers and concurrency."""
    urls = [receivers.url(i) for i in range(endpoints)]
    stop = time.monotonic() + seconds
    sent = 0

    async def sender(session: aiohttp.ClientSession, index: int) -> None:
        nonlocal sent
        while time.monotonic() < stop:
            msg_id = to_svix(IdKind.MESSAGE, generate_id())
            headers = webhook_headers(msg_id, int(time.time()), BODY, [SECRET])
            async with session.post(urls[index % endpoints], data=BODY,
                                    headers={**headers, "content-type": "application/json"}) as response:  # fmt: skip
                await response.read()
            sent += 1

    started = time.monotonic()
    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(sender(session, i) for i in range(concurrency(endpoints))))
    return sent / (time.monotonic() - started)


def setup_app(dev: Dev, receivers: Receivers, endpoints: int) -> str:
    app = dev.api("POST", "/app", {"name": f"bench-{endpoints}"})
    for index in range(endpoints):
        dev.api("POST", f"/app/{app['id']}/endpoint", {"url": receivers.url(index), "secret": SECRET})
    return app["id"]


def app_uuid(app_svix_id: str) -> str:
    return str(parse_id(app_svix_id, IdKind.APPLICATION))


async def produce(producer: EventProducer, topic: str, app_id: str, count: int) -> None:
    acks = []
    for _ in range(count):
        record = {"msg_id": str(generate_id()), "app_id": app_id, "event_type": "bench.event", "event_id": None,
                  "channels": [], "payload": BODY, "tags": [], "accepted_at": datetime.now(UTC), "source": "kafka",
                  "metadata": {}}  # fmt: skip
        acks.append(await producer.send(topic, "MessageAccepted", record, uuid.uuid4().bytes))
    await asyncio.gather(*acks)


async def throughput(
    dev: Dev,
    receivers: Receivers,
    endpoints: int,
    warmup: float,
    seconds: float,
    samples: list[dict],
    ahead: int,
    profile_to: Path | None = None,
) -> float:
    """Projected attempts/s over ``seconds`` after ``warmup``, keeping a backlog ahead of the pipeline."""
    app_id = app_uuid(setup_app(dev, receivers, endpoints))
    topic = TopicNames.from_settings(load_settings(env={}))(MESSAGES)
    counter = ("hookstream_projector_rows_total", 'table="attempts"')
    async with EventProducer(dev.bootstrap, AvroCodec(), client_id="bench") as producer:
        produced = 0
        base = dev.metric(*counter)
        started = time.monotonic()
        window_start = window_count = None
        while True:
            now = time.monotonic()
            projected = dev.metric(*counter) - base
            samples.append({"phase": f"B1, {endpoints} endpoint(s)", "t": round(now - started, 1), **dev.memory()})
            if window_start is None and now - started >= warmup:
                window_start, window_count = now, projected
                if profile_to is not None:
                    sampling.record(dev.process.pid, int(min(seconds, 30)), profile_to)
            if window_start is not None and now - window_start >= seconds:
                rate = (projected - window_count) / (now - window_start)
                await drain(dev, base + produced * endpoints)
                return rate
            backlog = produced * endpoints - projected
            if backlog < ahead:
                batch = max(1, 5_000 // endpoints)
                await produce(producer, topic, app_id, batch)
                produced += batch
            await asyncio.sleep(0.5)


async def drain(dev: Dev, projected: float, timeout: float = 600) -> None:
    """Wait for the projector to have written ``projected`` attempt rows, so the next phase starts idle."""
    deadline = time.monotonic() + timeout
    while dev.metric("hookstream_projector_rows_total", 'table="attempts"') < projected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pipeline did not drain to {projected:.0f} projected attempts in {timeout} s")
        await asyncio.sleep(0.5)


async def latency(dev: Dev, receivers: Receivers, rate: float, seconds: float) -> dict[str, float]:
    """B2 at ``rate`` messages/s to one endpoint, created over HTTP as the svix SDK sends them."""
    app = setup_app(dev, receivers, 1)
    endpoint = dev.api("GET", f"/app/{app}/endpoint")["data"][0]["id"]
    accepted: dict[str, float] = {}
    visible: dict[str, float] = {}
    base = receivers.stats(since=1 << 62)["total"]
    headers = {"Authorization": f"Bearer {dev.token}", "Content-Type": "application/json"}
    stop = time.monotonic() + seconds

    async def create(session: aiohttp.ClientSession) -> None:
        async with session.post(f"{dev.base}/api/v1/app/{app}/msg", json={"eventType": "bench.event",
                                "payload": PAYLOAD}, headers=headers) as response:  # fmt: skip
            body = await response.json()
            if response.status == 202:
                accepted[body["id"]] = time.time()

    async def poll(session: aiohttp.ClientSession) -> None:
        while time.monotonic() < stop + 15 and (time.monotonic() < stop or len(visible) < len(accepted)):
            async with session.get(f"{dev.base}/api/v1/app/{app}/attempt/endpoint/{endpoint}?limit=250",
                                   headers=headers) as response:  # fmt: skip
                page = await response.json() if response.status == 200 else {"data": []}
            now = time.time()
            for attempt in page["data"]:
                visible.setdefault(attempt["msgId"], now)
            await asyncio.sleep(0.02)

    async with aiohttp.ClientSession() as session:
        poller = asyncio.create_task(poll(session))
        creates = []
        next_at = time.monotonic()
        while time.monotonic() < stop:
            creates.append(asyncio.create_task(create(session)))
            next_at += 1 / rate
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await asyncio.gather(*creates)
        await poller
    deadline = time.monotonic() + 30
    while receivers.stats(since=1 << 62)["total"] - base < len(accepted) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    arrivals = {}
    for webhook_id, _, at in receivers.stats(since=base)["arrivals"]:
        arrivals.setdefault(webhook_id, at)
    delivered = [(arrivals[m] - t) * 1000 for m, t in accepted.items() if m in arrivals]
    shown = [(visible[m] - t) * 1000 for m, t in accepted.items() if m in visible]
    return {
        "rate_per_s": rate, "accepted": len(accepted), "delivered": len(delivered), "visible": len(shown),
        "delivered_p50_ms": percentile(delivered, 0.5), "delivered_p99_ms": percentile(delivered, 0.99),
        "delivered_max_ms": max(delivered, default=float("nan")), "visible_p50_ms": percentile(shown, 0.5),
        "visible_p99_ms": percentile(shown, 0.99), "visible_max_ms": max(shown, default=float("nan")),
    }  # fmt: skip


async def backlog_memory(dev: Dev, receivers: Receivers, messages: int, seconds: float) -> list[dict]:
    """B6: RSS while a backlog of ``messages`` waits in Kafka and the pipeline works through it."""
    app_id = app_uuid(setup_app(dev, receivers, 1))
    topic = TopicNames.from_settings(load_settings(env={}))(MESSAGES)
    async with EventProducer(dev.bootstrap, AvroCodec(), client_id="bench-backlog") as producer:
        with Progress("backlog messages", messages) as progress:  # a bar on a terminal, one summary line otherwise
            for start in range(0, messages, 50_000):
                await produce(producer, topic, app_id, min(50_000, messages - start))
                progress.update(min(messages, start + 50_000))
    rows = []
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        rows.append({"phase": f"backlog {messages:,}", "t_s": round(time.monotonic() - started), **dev.memory()})
        await asyncio.sleep(max(1.0, seconds / 6))
    return rows


async def main(args: argparse.Namespace) -> None:
    warmup, window = (3.0, 5.0) if args.quick else (15.0, args.seconds)
    receivers = Receivers(10)
    dev = Dev()
    try:
        b1 = []
        samples: list[dict] = []
        one_endpoint = 0.0
        profile_to = dev.work / "b1-profile.txt"
        for endpoints in (1, 10):
            base = await baseline(receivers, endpoints, window)
            ours = await throughput(dev, receivers, endpoints, warmup, window, samples, 2_000 if args.quick else 20_000,
                                    profile_to if endpoints == 10 and not args.quick else None)  # fmt: skip
            one_endpoint = ours if endpoints == 1 else one_endpoint
            b1.append({"endpoints": endpoints, "concurrency": concurrency(endpoints), "baseline_per_s": base,
                       "hookstream_per_s": ours, "ratio": ours / base, "target": "≥ 0.6 and ≥ 2,000/s",
                       "met": ours / base >= 0.6 and ours >= 2000})  # fmt: skip
        report("b1_throughput", b1, quick=args.quick)
        for _ in range(60):  # py-spy writes its file when its duration is over
            if profile_to.exists() or args.quick or sampling.py_spy() is None:
                break
            await asyncio.sleep(1)
        if profile_to.exists():
            stages, functions = sampling.summarise(profile_to)
            report("b1_profile_stages", stages, quick=args.quick)
            report("b1_profile_functions", functions, quick=args.quick)
        # B2 sends to one endpoint: half of what the pipeline sustained for one endpoint in B1
        b2 = await latency(dev, receivers, max(1.0, one_endpoint / 2), 5.0 if args.quick else args.seconds)
        b2["met"] = b2["delivered_p50_ms"] <= 30 and b2["delivered_p99_ms"] <= 200 and b2["visible_p99_ms"] <= 2000
        report("b2_latency", [b2], quick=args.quick)
        peak_py = max(s["python_mb"] for s in samples)
        b6 = [{"phase": s.pop("phase"), "t_s": s.pop("t"), **s} for s in samples[:: max(1, len(samples) // 8)]]
        b6 += await backlog_memory(dev, receivers, 5_000 if args.quick else args.backlog, 6 if args.quick else 60)
        b6.append({"phase": "peak python during B1", "python_mb": peak_py, "met": peak_py <= 500})
        report("b6_memory", b6, quick=args.quick)
    finally:
        dev.stop()
        receivers.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="seconds and small sizes: proves the benchmark runs")
    parser.add_argument("--seconds", type=float, default=60.0, help="measurement window of B1 and B2")
    parser.add_argument("--backlog", type=int, default=1_000_000, help="B6: messages waiting in Kafka")
    asyncio.run(main(parser.parse_args()))
