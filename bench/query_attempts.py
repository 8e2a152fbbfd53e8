"""Attempt-list query latency over a realistic projection: what the API's attempt lists cost at volume.

Inserts N synthetic AttemptFinished-shaped records through the projector's
own write path (``projector.rows.attempt_row`` -> ``projector.store.write_rows``)
into a fresh chDB database, then times ``query.attempts.list_attempts``, the
function every dialect's attempt list calls, LIMIT 50:

    by_endpoint           first page of an endpoint's attempts
    by_endpoint_deep      the 20th page, reached by following iterators
    by_endpoint_status    + failed attempts only
    by_endpoint_types     + two of the five event types
    by_endpoint_window    + a one-week before/after window
    by_message            one message's attempts (the attempts_by_msg table)

Data: 1,000 applications with Zipf-like volume (a few tenants hold most of
the attempts), 2-6 endpoints each, five event types of unequal frequency,
messages spread over 90 days, each to 1-3 of its app's endpoints, every
attempt failing with probability 0.2 and retried on Svix's schedule until it
succeeds or 6 attempts were made (so ~20 % of attempts fail, ~1.25 per
message x endpoint). Query targets are drawn from the inserted rows, so busy
endpoints are queried more often, as they are in production.

Prints a table (p50/p99/max ms per query kind) and appends one JSON line per
kind to bench/results/query_attempts.jsonl. A measurement, not a test: no
figure here is asserted anywhere.

    .venv/bin/python bench/query_attempts.py                 # 1,000,000 rows, 1,000 queries a kind
    .venv/bin/python bench/query_attempts.py --quick         # 20,000 rows, 100 queries a kind
    .venv/bin/python bench/query_attempts.py --rows 5000000 --optimize
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.domain.ids import attempt_id, new_id
from hookstream.projector.migrations import apply_migrations
from hookstream.projector.rows import attempt_row
from hookstream.projector.store import write_rows
from hookstream.query.attempts import AttemptFilter, list_attempts
from hookstream.query.common import Page, Position
from hookstream.runtime.clickhouse import connect

RESULTS = Path(__file__).resolve().parent / "results" / "query_attempts.jsonl"
APPS = 1_000
ZIPF_S = 1.1
EVENT_TYPES = (("invoice.paid", 40), ("invoice.created", 25), ("customer.updated", 20), ("subscription.renewed", 10),
               ("payout.failed", 5))  # fmt: skip
FAILURE_P = 0.2
MAX_ATTEMPTS = 6
RETRY_DELAYS_S = (0, 5, 300, 1800, 7200, 18000)  # before attempt 1, 2, ... (Svix's schedule, no jitter)
DAYS = 90
PAGE = 50
DEEP_PAGES = 20
FAILURE_STATUSES = (500, 502, 503, 404, 429, 0)


@dataclass(frozen=True, slots=True)
class Endpoint:
    app_id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str


@dataclass
class Targets:
    """What the queries ask for, sampled from what was inserted (weighted by volume)."""

    endpoints: list[Endpoint]
    messages: list[tuple[uuid.UUID, uuid.UUID]]  # (app_id, msg_id)


@dataclass(frozen=True, slots=True)
class Result:
    kind: str
    queries: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    mean_rows: float


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))]


def _world(rng: random.Random) -> tuple[list[Endpoint], list[float]]:
    """Every endpoint of every app, and the cumulative Zipf weights of the apps."""
    endpoints: list[Endpoint] = []
    now_ms = int(time.time() * 1000) - DAYS * 86_400_000
    for n in range(APPS):
        app_id = new_id(now_ms - n, rng.randbytes(10))
        for e in range(rng.randint(2, 6)):
            endpoint_id = new_id(now_ms - n, rng.randbytes(10))
            endpoints.append(Endpoint(app_id, endpoint_id, f"https://tenant-{n}.example.com/hooks/{e}"))
    weights = list(itertools.accumulate(1 / (rank + 1) ** ZIPF_S for rank in range(APPS)))
    return endpoints, weights


def _attempts(rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    """AttemptFinished-shaped records (the fields the delivery worker writes), ``count`` of them."""
    endpoints, weights = _world(rng)
    by_app: dict[uuid.UUID, list[Endpoint]] = {}
    for endpoint in endpoints:
        by_app.setdefault(endpoint.app_id, []).append(endpoint)
    apps = list(by_app)
    type_names = [name for name, _ in EVENT_TYPES]
    type_weights = [weight for _, weight in EVENT_TYPES]
    start = datetime.now(UTC) - timedelta(days=DAYS)
    made = 0
    while made < count:
        app_id = apps[bisect.bisect_left(weights, rng.random() * weights[-1])]
        accepted = start + timedelta(seconds=rng.random() * DAYS * 86_400)
        msg_id = new_id(int(accepted.timestamp() * 1000), rng.randbytes(10))
        event_type = rng.choices(type_names, type_weights)[0]
        targets = rng.sample(by_app[app_id], min(len(by_app[app_id]), rng.choice((1, 1, 2, 3))))
        for endpoint in targets:
            at = accepted
            for number in range(1, MAX_ATTEMPTS + 1):
                at += timedelta(seconds=RETRY_DELAYS_S[number - 1], milliseconds=rng.randint(2, 40))
                ok = rng.random() >= FAILURE_P
                yield attempt_record(rng, endpoint, msg_id, event_type, number, at, ok)
                made += 1
                if ok or made >= count:
                    break
            if made >= count:
                break


def attempt_record(rng: random.Random, endpoint: Endpoint, msg_id: uuid.UUID, event_type: str, number: int,
                   at: datetime, ok: bool) -> dict[str, Any]:  # fmt: skip
    """One AttemptFinished-shaped record (also what bench/list_latency.py fills its endpoint with)."""
    status = rng.choice((200, 200, 200, 201, 204)) if ok else rng.choice(FAILURE_STATUSES)
    error_class = None if ok else ("http_status" if status else rng.choice(("connect", "timeout", "dns")))
    total_us = rng.randint(20_000, 400_000) if status else rng.randint(1_000, 15_000_000)
    body = b'{"received":true}' if ok else (b"upstream error" if status else None)
    return {
        "attempt_id": str(attempt_id(msg_id, endpoint.endpoint_id, number, 0)),
        "app_id": str(endpoint.app_id),
        "msg_id": str(msg_id),
        "endpoint_id": str(endpoint.endpoint_id),
        "event_type": event_type,
        "event_id": None,
        "channels": [],
        "attempt_number": number,
        "trigger": "scheduled",
        "trigger_seq": 0,
        "url": endpoint.url,
        "status": "success" if ok else "failed",
        "response_status": status,
        "status_code_class": status // 100 * 100,
        "error_class": error_class,
        "error_text": None if ok else (f"HTTP {status}" if status else f"{error_class} error"),
        "request_headers": {"webhook-id": f"msg_{msg_id.hex[:24]}", "content-type": "application/json"},
        "response_headers": {"content-type": "application/json"} if status else {},
        "response_body": body,
        "response_body_size": len(body or b""),
        "response_body_truncated": False,
        "response_content_type": "application/json" if status else None,
        "resolved_ip": "203.0.113.7" if error_class != "dns" else None,
        "conn_reused": number > 1,
        "dns_us": rng.randint(100, 3000),
        "tcp_connect_us": rng.randint(300, 30_000),
        "tls_handshake_us": rng.randint(2_000, 60_000),
        "ttfb_us": total_us - 500 if status else None,
        "transfer_us": 400 if status else None,
        "total_us": total_us,
        "processing_us": total_us + 300,
        "retry_type": None if ok else "scheduled",
        "retry_after_seconds": None,
        "next_attempt_at": None if ok or number == MAX_ATTEMPTS else at + timedelta(seconds=RETRY_DELAYS_S[number]),
        "due_at": at,
        "started_at": at,
        "finished_at": at + timedelta(microseconds=total_us),
        "worker_id": "bench",
    }


def insert(client: Client, rows: int, batch: int, seed: int) -> tuple[float, Targets]:
    """Insert ``rows`` attempts in batches; returns the seconds spent in ``write_rows`` and query targets."""
    rng = random.Random(seed)
    sample = random.Random(seed + 1)
    targets = Targets([], [])
    spent = 0.0
    values: list[tuple] = []
    for record in _attempts(rng, rows):
        values.append(attempt_row(record).values)
        if sample.random() < 4_000 / rows:  # ~4,000 targets, each attempt equally likely: busy endpoints more
            endpoint = Endpoint(uuid.UUID(record["app_id"]), uuid.UUID(record["endpoint_id"]), record["url"])
            targets.endpoints.append(endpoint)
            targets.messages.append((endpoint.app_id, uuid.UUID(record["msg_id"])))
        if len(values) >= batch:
            spent += _write(client, values)
            values = []
    if values:
        spent += _write(client, values)
    return spent, targets


def _write(client: Client, values: list[tuple]) -> float:
    started = time.perf_counter()
    write_rows(client, {"attempts": values})
    return time.perf_counter() - started


def _next(page: Page[dict[str, Any]]) -> Position | None:
    if page.done or not page.items:
        return None
    last = page.items[-1]
    return Position(last["started_at"], last["attempt_id"])


async def deep_positions(client: Client, endpoints: list[Endpoint], want: int) -> tuple[list[tuple], float]:
    """For up to ``want`` distinct endpoints: the iterator of their 20th page (or their last one, if fewer)."""
    positions: list[tuple[AttemptFilter, Position | None]] = []
    depths: list[int] = []
    for endpoint in list(dict.fromkeys(endpoints))[:want]:
        f = AttemptFilter(endpoint.app_id, endpoint_id=endpoint.endpoint_id)
        position: Position | None = None
        depth = 1
        while depth < DEEP_PAGES:
            following = _next(await list_attempts(client, f, PAGE, position))
            if following is None:
                break
            position, depth = following, depth + 1
        positions.append((f, position))
        depths.append(depth)
    return positions, sum(depths) / len(depths)


async def timed(kind: str, queries: int, call: Callable[[int], Awaitable[Page[dict[str, Any]]]]) -> Result:
    latencies: list[float] = []
    rows = 0
    for n in range(queries):
        started = time.perf_counter()
        page = await call(n)
        latencies.append((time.perf_counter() - started) * 1000)
        rows += len(page.items)
    latencies.sort()
    return Result(kind, queries, percentile(latencies, 0.5), percentile(latencies, 0.99), latencies[-1],
                  rows / queries)  # fmt: skip


async def measure(client: Client, targets: Targets, queries: int, seed: int) -> tuple[list[Result], float]:
    rng = random.Random(seed + 2)
    endpoints = [rng.choice(targets.endpoints) for _ in range(queries)]
    messages = [rng.choice(targets.messages) for _ in range(queries)]
    types = [tuple(rng.sample([name for name, _ in EVENT_TYPES], 2)) for _ in range(queries)]
    now = datetime.now(UTC)
    windows = [now - timedelta(days=rng.uniform(7, DAYS)) for _ in range(queries)]
    deep, depth = await deep_positions(client, endpoints, 50)

    def by(n: int, **extra: Any) -> AttemptFilter:
        return AttemptFilter(endpoints[n].app_id, endpoint_id=endpoints[n].endpoint_id, **extra)

    kinds: list[tuple[str, Callable[[int], Awaitable[Page[dict[str, Any]]]]]] = [
        ("by_endpoint", lambda n: list_attempts(client, by(n), PAGE, None)),
        ("by_endpoint_deep", lambda n: list_attempts(client, deep[n % len(deep)][0], PAGE, deep[n % len(deep)][1])),
        ("by_endpoint_status", lambda n: list_attempts(client, by(n, statuses=("failed",)), PAGE, None)),
        ("by_endpoint_types", lambda n: list_attempts(client, by(n, event_types=types[n]), PAGE, None)),
        ("by_endpoint_window", lambda n: list_attempts(
            client, by(n, after=windows[n], before=windows[n] + timedelta(days=7)), PAGE, None)),
        ("by_message", lambda n: list_attempts(client, AttemptFilter(messages[n][0], msg_id=messages[n][1]), PAGE,
                                               None)),
    ]  # fmt: skip
    return [await timed(kind, queries, call) for kind, call in kinds], depth


def parts(client: Client) -> int:
    sql = "SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = 'attempts' AND active"
    return int(client.command(sql))


def _commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent, check=True)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def report(results: list[Result], meta: dict[str, Any], path: Path) -> None:
    load = meta["load_avg_1m"]
    print(f"\n{meta['phase']}: {meta['rows']:,} attempts, {meta['parts']} active parts in `attempts`, "
          f"deep pages at depth {meta['deep_page_depth']:.1f} on average, "
          f"load average {load[0]} -> {load[1]} on {meta['cpus']} CPUs")  # fmt: skip
    print(f"| {'query':<20} | {'queries':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'rows':>5} |")
    print(f"|{'-' * 22}|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 6}:|")
    for r in results:
        print(f"| {r.kind:<20} | {r.queries:>7} | {r.p50_ms:>7.1f} | {r.p99_ms:>7.1f} | {r.max_ms:>7.1f} | "
              f"{r.mean_rows:>5.1f} |")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for r in results:
            out.write(json.dumps({**meta, **asdict(r)}) + "\n")


async def main(args: argparse.Namespace) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows through a pipe
    work = Path(tempfile.mkdtemp(prefix="hookstream-bench-query-"))
    client = connect(f"chdb://{work}", "bench")
    try:
        apply_migrations(client)
        spent, targets = insert(client, args.rows, args.batch, args.seed)
        rate = args.rows / spent
        print(f"inserted {args.rows:,} attempts in batches of {args.batch:,} through projector.store.write_rows: "
              f"{spent:.1f} s, {rate:,.0f} rows/s")  # fmt: skip
        meta = {"bench": "query_attempts", "at": datetime.now(UTC).isoformat(), "commit": _commit(),
                "machine": platform.machine(), "cpus": _cpus(), "rows": args.rows, "batch": args.batch,
                "insert_rows_per_s": round(rate), "seed": args.seed}  # fmt: skip
        phases = [] if args.merged_only else [("as inserted", None)]
        phases += [("merged", "OPTIMIZE TABLE {} FINAL")] if args.optimize or args.merged_only else []
        for phase, statement in phases:
            if statement is not None:
                for table in ("attempts", "attempts_by_msg"):
                    client.command(statement.format(table))
            load_before = os.getloadavg()[0]
            results, depth = await measure(client, targets, args.queries, args.seed)
            meta = {**meta, "phase": phase, "parts": parts(client), "deep_page_depth": round(depth, 1),
                    "load_avg_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)]}  # fmt: skip
            report(results, meta, args.results)
        if args.analytics_runs:
            time_analytics(client, args.analytics_runs, meta, args.results)
    finally:
        client.close()
        shutil.rmtree(work, ignore_errors=True)


DOC = Path(__file__).resolve().parents[1] / "docs" / "analytics.md"


def analytics_queries() -> list[tuple[str, str]]:
    """(title, SQL) of every sql block in docs/analytics.md, titled by the ``### `` heading above it."""
    found: list[tuple[str, str]] = []
    title, sql = "", None
    for line in DOC.read_text().splitlines():
        if sql is not None:
            if line.startswith("```"):
                found.append((title or f"query {len(found) + 1}", "\n".join(sql)))
                sql = None
            else:
                sql.append(line)
        elif line.startswith("### "):
            title = line[4:].strip()
        elif line.startswith("```sql"):
            sql = []
    return found


def time_analytics(client: Client, runs: int, meta: dict[str, Any], path: Path) -> None:
    """Each documented analytics query ``runs`` times over the inserted data: p50 and max, rows returned."""
    rows_out = []
    for title, sql in analytics_queries():
        spent, rows = [], 0
        for _ in range(runs):
            started = time.perf_counter()
            rows = len(client.query(sql).result_rows)
            spent.append((time.perf_counter() - started) * 1000)
        spent.sort()
        rows_out.append({"query": title[:60], "runs": runs, "p50_ms": round(percentile(spent, 0.5), 1),
                         "max_ms": round(spent[-1], 1), "result_rows": rows})  # fmt: skip
    print(f"\nanalytics queries of docs/analytics.md over {meta['rows']:,} attempts ({runs} runs each)")
    print(f"| {'query':<60} | {'p50 ms':>8} | {'max ms':>8} | {'rows':>6} |")
    print(f"|{'-' * 62}|{'-' * 9}:|{'-' * 9}:|{'-' * 7}:|")
    for r in rows_out:
        print(f"| {r['query']:<60} | {r['p50_ms']:>8.1f} | {r['max_ms']:>8.1f} | {r['result_rows']:>6} |")
    with path.open("a", encoding="utf-8") as out:
        for r in rows_out:
            out.write(json.dumps({**meta, "phase": "analytics", **r}) + "\n")


def _cpus() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help="attempts to insert (default 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="20,000 rows and 100 queries a kind")
    parser.add_argument("--queries", type=int, default=None, help="queries per kind (default 1,000)")
    parser.add_argument("--batch", type=int, default=50_000, help="rows per write_rows call")
    parser.add_argument("--optimize", action="store_true", help="measure again after OPTIMIZE ... FINAL")
    parser.add_argument("--merged-only", action="store_true", help="measure only after OPTIMIZE ... FINAL")
    parser.add_argument("--analytics-runs", type=int, default=None,
                        help="runs of each docs/analytics.md query (default 5, quick 1; 0 skips them)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=20250314)
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON lines appended here")
    args = parser.parse_args(argv)
    args.rows = args.rows or (20_000 if args.quick else 1_000_000)
    args.queries = args.queries or (100 if args.quick else 1_000)
    if args.analytics_runs is None:
        args.analytics_runs = 1 if args.quick else 5
    if args.rows < 1 or args.queries < 1 or args.batch < 1:
        parser.error("--rows, --queries and --batch must be positive")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
