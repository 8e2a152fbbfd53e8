"""Attempt-list latency through the API, against `hookstream dev` as a user runs it (store over HTTP, broker, API).

One destination's attempts (a few thousand to ~30k) are written through the
projector's insert path (``projector.rows.attempt_row`` ->
``projector.store.write_rows``) into the store that dev runs, then each path
below is asked ``--requests`` times, one request at a time on a warm
keep-alive connection, the paths taking turns so the machine's noise falls on
all of them alike:

    outpost_destination   GET /api/v1/tenants/{tenant}/destinations/{dest}/attempts?limit=100
    outpost_attempts      GET /api/v1/attempts?tenant_id=..&destination_id=..&limit=100
    svix_endpoint         GET /api/v1/app/{app}/attempt/endpoint/{endpoint}?limit=100
    api_no_query          GET /api/v1/app/{app} (a lookup in memory: the API's own fixed cost)
    list_attempts         query.attempts.list_attempts over the same HTTP ClickHouse client the API uses
    select_1              SELECT 1 to the store: the bare round trip

Prints min/p50/p99/max ms per path (the min is the cost itself on a machine others share) and appends
them to bench/results/list_latency.jsonl.

    .venv/bin/python bench/list_latency.py                     # 30,000 attempts, 1,000 requests a path
    .venv/bin/python bench/list_latency.py --attempts 3000
    .venv/bin/python bench/list_latency.py --quick             # 3,000 attempts, 50 requests: proves it runs
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

import sampling
from harness import Dev, percentile, report
from hookstream.domain.ids import IdKind, new_id, parse_id
from hookstream.foundation.progress import Progress
from hookstream.projector.rows import attempt_row
from hookstream.projector.store import write_rows
from hookstream.query.attempts import AttemptFilter, list_attempts
from hookstream.runtime.clickhouse import Client, connect
from hookstream.runtime.local_kafka import free_port
from hookstream.runtime.store_process import store_url
from hookstream.store.users import WRITER
from query_attempts import Endpoint, attempt_record

LIMIT = 100
TENANT = "bench-tenant"
WARMUP = 20


def fill(client: Client, endpoint: Endpoint, attempts: int, seed: int) -> None:
    """``attempts`` finished attempts at ``endpoint`` over a week, 1-2 per message, as the projector writes them."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=7)
    values: list[tuple] = []
    while len(values) < attempts:
        at = start + timedelta(seconds=rng.random() * 7 * 86_400)
        msg_id = new_id(int(at.timestamp() * 1000), rng.randbytes(10))
        for number in range(1, 3):
            ok = number == 2 or rng.random() >= 0.2
            values.append(attempt_row(attempt_record(rng, endpoint, msg_id, "invoice.paid", number, at, ok)).values)
            at += timedelta(seconds=5)
            if ok or len(values) >= attempts:
                break
    with Progress("insert attempts", len(values)) as progress:  # a bar on a terminal, one summary line otherwise
        for begin in range(0, len(values), 10_000):
            write_rows(client, {"attempts": values[begin : begin + 10_000]})
            progress.update(min(len(values), begin + 10_000))


async def measure(paths: dict[str, Callable[[], Awaitable[int]]], requests: int) -> dict[str, tuple[list[float], int]]:
    """Every path ``requests`` times, in turns; (latencies in ms, items on the last page) per path."""
    for _ in range(WARMUP):
        for call in paths.values():
            await call()
    timings: dict[str, list[float]] = {name: [] for name in paths}
    items = dict.fromkeys(paths, 0)
    for _ in range(requests):
        for name, call in paths.items():
            started = time.perf_counter()
            items[name] = await call()
            timings[name].append((time.perf_counter() - started) * 1000)
    return {name: (timings[name], items[name]) for name in paths}


def api_paths(session: aiohttp.ClientSession, dev: Dev, ids: dict[str, str]) -> dict[str, Callable[[], Awaitable[int]]]:
    headers = {"Authorization": f"Bearer {dev.token}"}
    base = dev.base + "/api/v1"

    def get(path: str, items: str | None) -> Callable[[], Awaitable[int]]:
        async def call() -> int:
            async with session.get(base + path, headers=headers) as response:
                body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"GET {path}: {response.status} {body!r}")
            return len(body[items]) if items else 1

        return call

    tenant, dest, app, endpoint = ids["tenant"], ids["destination"], ids["app"], ids["endpoint"]
    return {
        "outpost_destination": get(f"/tenants/{tenant}/destinations/{dest}/attempts?limit={LIMIT}", "models"),
        "outpost_attempts": get(f"/attempts?tenant_id={tenant}&destination_id={dest}&limit={LIMIT}", "models"),
        "svix_endpoint": get(f"/app/{app}/attempt/endpoint/{endpoint}?limit={LIMIT}", "data"),
        "api_no_query": get(f"/app/{app}", None),
    }


def direct_paths(client: Client, endpoint: Endpoint) -> dict[str, Callable[[], Awaitable[int]]]:
    f = AttemptFilter(endpoint.app_id, endpoint_id=endpoint.endpoint_id)

    async def listed() -> int:
        return len((await list_attempts(client, f, LIMIT, None)).items)

    async def select_1() -> int:
        return len(client.query("SELECT 1").result_rows)

    return {"list_attempts": listed, "select_1": select_1}


async def profile(dev: Dev, call: Callable[[], Awaitable[int]], requests: int) -> None:
    """Only ``call``, ``requests`` times, while py-spy samples dev and its store: where one path's time goes."""
    out = dev.work / "profile.txt"
    sampler = sampling.record(dev.process.pid, 3600, out)
    if sampler is None:
        raise SystemExit("py-spy is not installed")
    await asyncio.sleep(1)
    for _ in range(requests):
        await call()
    sampler.send_signal(signal.SIGINT)  # py-spy writes what it has on SIGINT
    sampler.wait(timeout=60)
    stages, functions = sampling.summarise(out, top=25)
    for row in stages + functions:
        print(row)
    print(f"raw samples: {out}")


async def main(args: argparse.Namespace) -> None:
    store_port = free_port()
    dev = Dev(HOOKSTREAM_STORE_PORT=str(store_port))
    client = None
    try:
        app = dev.api("POST", "/app", {"name": "bench-list", "uid": TENANT})
        endpoint = dev.api("POST", f"/app/{app['id']}/endpoint", {"url": "http://127.0.0.1:9/hook"})
        target = Endpoint(parse_id(app["id"], IdKind.APPLICATION), parse_id(endpoint["id"], IdKind.ENDPOINT),
                          "http://127.0.0.1:9/hook")  # fmt: skip
        client = connect(store_url(dev.work / "data" / "clickhouse", store_port, WRITER), "hookstream")
        started = time.perf_counter()
        fill(client, target, args.attempts, args.seed)
        print(f"wrote {args.attempts:,} attempts for one destination in {time.perf_counter() - started:.1f} s")
        ids = {"tenant": TENANT, "destination": endpoint["id"], "app": app["id"], "endpoint": endpoint["id"]}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
            paths = {**api_paths(session, dev, ids), **direct_paths(client, target)}
            if args.profile:
                await profile(dev, paths[args.profile], args.requests)
                return
            results = await measure(paths, args.requests)
        rows: list[dict[str, Any]] = []
        for name, (spent, items) in results.items():
            rows.append({"path": name, "attempts": args.attempts, "requests": len(spent), "items": items,
                         "min_ms": round(min(spent), 2), "p50_ms": round(percentile(spent, 0.5), 2),
                         "p99_ms": round(percentile(spent, 0.99), 2), "max_ms": round(max(spent), 2)})  # fmt: skip
        report("list_latency", rows, quick=args.quick)
    finally:
        if client is not None:
            client.close()
        dev.stop()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3,000 attempts, 50 requests a path")
    parser.add_argument("--attempts", type=int, default=None, help="attempts at the destination (default 30,000)")
    parser.add_argument("--requests", type=int, default=None, help="requests per path (default 1,000)")
    parser.add_argument("--profile", metavar="PATH", help="only this path, sampled with py-spy (dev and its store)")
    parser.add_argument("--seed", type=int, default=20250314)
    args = parser.parse_args(argv)
    args.attempts = args.attempts or (3_000 if args.quick else 30_000)
    args.requests = args.requests or (50 if args.quick else 1_000)
    if args.attempts < LIMIT + 1 or args.requests < 1:
        parser.error(f"--attempts must exceed {LIMIT} (a full page and more) and --requests be positive")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
