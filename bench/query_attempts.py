"""Attempt-list query latency over a realistic projection: what the API's attempt lists cost at volume.

Inserts N synthetic AttemptFinished-shaped records through the projector's
own write path (``projector.rows.attempt_row`` -> ``projector.store.write_rows``)
into a store (``hookstream store``, the embedded ClickHouse in a process of
its own, reached over its HTTP interface as every role reaches it), then
times ``query.attempts.list_attempts``, the function every dialect's attempt
list calls, LIMIT 50, and the same shapes through the Svix API's attempt
lists (``hookstream run --roles api`` in its own process against the store
and a broker of the benchmark's own):

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

Prints a table (p50/p99/max ms per query kind) per path (direct, API) and
appends one JSON line per kind to bench/results/query_attempts.jsonl. A
measurement, not a test: no figure here is asserted anywhere.

``--data-dir DIR`` keeps the store's data in DIR: the first run inserts and
lets ClickHouse's background merges settle (``--insert-only`` stops there),
later runs with the same ``--rows`` and ``--seed`` find the rows (and the
query targets, in ``DIR/b4-data.json``) and go straight to the queries.

    .venv/bin/python bench/query_attempts.py                 # 1,000,000 rows, 1,000 queries a kind
    .venv/bin/python bench/query_attempts.py --quick         # 20,000 rows, 100 queries a kind
    .venv/bin/python bench/query_attempts.py --rows 5000000 --optimize
    .venv/bin/python bench/query_attempts.py --rows 10000000 --batch 100000 --data-dir /data/b4 --insert-only
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import bisect
import contextlib
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from clickhouse_connect.driver import Client

from harness import Store, builders, start_roles, stop_process
from hookstream.api.svix.params import STATUS_NAMES
from hookstream.domain.ids import IdKind, attempt_id, new_id, timestamp_ms, to_svix
from hookstream.foundation.progress import Progress
from hookstream.foundation.settings import load_settings
from hookstream.log.admin import create_topics, wait_for_broker
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, TopicNames, catalogue
from hookstream.projector.migrations import apply_migrations
from hookstream.projector.rows import attempt_row, message_row
from hookstream.projector.store import write_rows
from hookstream.query.attempts import AttemptFilter, list_attempts
from hookstream.query.common import Page, Position
from hookstream.runtime.kafka_dist import ensure_kafka
from hookstream.runtime.local_kafka import LocalKafka

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
    messages: list[tuple[uuid.UUID, uuid.UUID, str]]  # (app_id, msg_id, event_type)


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
    """Insert ``rows`` attempts in batches; returns the seconds spent in ``write_rows`` and query targets.

    The targets' messages get a row in ``messages`` too (a few thousand): the API looks a message up before
    listing its attempts, as it does for any message it accepted.
    """
    rng = random.Random(seed)
    sample = random.Random(seed + 1)
    targets = Targets([], [])
    spent = 0.0
    values: list[tuple] = []
    written = 0
    with Progress("insert attempts", rows) as progress:  # a bar on a terminal, one summary line otherwise
        for record in _attempts(rng, rows):
            values.append(attempt_row(record).values)
            if sample.random() < 4_000 / rows:  # ~4,000 targets, each attempt equally likely: busy endpoints more
                endpoint = Endpoint(uuid.UUID(record["app_id"]), uuid.UUID(record["endpoint_id"]), record["url"])
                targets.endpoints.append(endpoint)
                targets.messages.append((endpoint.app_id, uuid.UUID(record["msg_id"]), record["event_type"]))
            if len(values) >= batch:
                spent += _write(client, values)
                written, values = written + len(values), []
                progress.update(written)
        if values:
            spent += _write(client, values)
            progress.update(written + len(values))
    write_rows(client, {"messages": [_message(*m).values for m in dict.fromkeys(targets.messages)]})
    return spent, targets


def _message(app_id: uuid.UUID, msg_id: uuid.UUID, event_type: str) -> Any:
    accepted = datetime.fromtimestamp(timestamp_ms(msg_id) / 1000, UTC)
    return message_row({"app_id": str(app_id), "msg_id": str(msg_id), "event_type": event_type, "event_id": None,
                        "channels": [], "tags": [], "payload": b'{"bench":true}', "accepted_at": accepted})  # fmt: skip


def _write(client: Client, values: list[tuple]) -> float:
    started = time.perf_counter()
    write_rows(client, {"attempts": values})
    return time.perf_counter() - started


def settle_merges(client: Client, quiet_s: float = 5.0, timeout_s: float = 1800.0) -> None:
    """Wait until ClickHouse has run no background merge of this database for ``quiet_s``: the state the
    "as inserted" column measures (the parts a burst leaves once the store has merged what it merges on its own)."""
    sql = "SELECT count() FROM system.merges WHERE database = currentDatabase()"
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if int(client.command(sql)):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(1)


MANIFEST = "b4-data.json"
"""In a kept ``--data-dir``: what was inserted (rows, seed, batch, insert rate) and the query targets drawn."""


@dataclass(frozen=True, slots=True)
class Prepared:
    targets: Targets
    insert_rows_per_s: int
    inserted_now: bool


def prepare(client: Client, args: argparse.Namespace, data_dir: Path) -> Prepared:
    """The data the queries run on: the kept rows when ``data_dir`` holds them for this size and seed, else
    inserted now (and kept with a manifest). A directory holding something else is refused, never overwritten."""
    manifest = data_dir / MANIFEST
    apply_migrations(client)
    held = int(client.command("SELECT count() FROM attempts"))
    if manifest.exists():
        kept = json.loads(manifest.read_text())
        if (kept["rows"], kept["seed"]) != (args.rows, args.seed) or held != args.rows:
            raise SystemExit(f"{data_dir} holds {held:,} attempts inserted for --rows {kept['rows']} --seed "
                             f"{kept['seed']}; give another --data-dir (or remove it) for these sizes")  # fmt: skip
        print(f"kept data in {data_dir}: {held:,} attempts (--rows {args.rows:,} --seed {args.seed}, inserted "
              f"{kept['at']} at {kept['insert_rows_per_s']:,} rows/s); straight to the queries")  # fmt: skip
        return Prepared(_targets(kept["targets"]), kept["insert_rows_per_s"], inserted_now=False)
    if held:
        raise SystemExit(f"{data_dir} holds {held:,} attempts but no {MANIFEST} (an insert that did not finish?); "
                         "remove it or give another --data-dir")  # fmt: skip
    spent, targets = insert(client, args.rows, args.batch, args.seed)
    rate = round(args.rows / spent)
    print(f"inserted {args.rows:,} attempts in batches of {args.batch:,} through projector.store.write_rows: "
          f"{spent:.1f} s, {rate:,} rows/s")  # fmt: skip
    settle_merges(client)
    print(f"background merges settled: {parts(client)} active parts in `attempts`")
    manifest.write_text(json.dumps({"rows": args.rows, "seed": args.seed, "batch": args.batch, "commit": _commit(),
                                    "at": datetime.now(UTC).isoformat(), "insert_rows_per_s": rate,
                                    "store_max_memory_bytes": args.store_max_memory_bytes,
                                    "targets": _targets_json(targets)}))  # fmt: skip
    return Prepared(targets, rate, inserted_now=True)


def _targets_json(targets: Targets) -> dict[str, Any]:
    return {"endpoints": [[str(e.app_id), str(e.endpoint_id), e.url] for e in targets.endpoints],
            "messages": [[str(a), str(m), t] for a, m, t in targets.messages]}  # fmt: skip


def _targets(raw: dict[str, Any]) -> Targets:
    return Targets([Endpoint(uuid.UUID(a), uuid.UUID(e), url) for a, e, url in raw["endpoints"]],
                   [(uuid.UUID(a), uuid.UUID(m), t) for a, m, t in raw["messages"]])  # fmt: skip


def _next(page: Page[dict[str, Any]]) -> Position | None:
    if page.done or not page.items:
        return None
    last = page.items[-1]
    return Position(last["started_at"], last["attempt_id"])


@dataclass(frozen=True)
class Plan:
    """What the n-th query of each kind asks for, the same for the direct path and the API."""

    endpoints: list[Endpoint]
    messages: list[tuple[uuid.UUID, uuid.UUID, str]]
    types: list[tuple[str, ...]]
    windows: list[datetime]


def plan(targets: Targets, queries: int, seed: int) -> Plan:
    rng = random.Random(seed + 2)
    endpoints = [rng.choice(targets.endpoints) for _ in range(queries)]
    messages = [rng.choice(targets.messages) for _ in range(queries)]
    types = [tuple(rng.sample([name for name, _ in EVENT_TYPES], 2)) for _ in range(queries)]
    now = datetime.now(UTC)
    return Plan(endpoints, messages, types, [now - timedelta(days=rng.uniform(7, DAYS)) for _ in range(queries)])


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


Call = Callable[[int], Awaitable[int]]
"""The n-th query of a kind; returns the rows it answered."""


async def timed(kind: str, queries: int, call: Call) -> Result:
    latencies: list[float] = []
    rows = 0
    for n in range(queries):
        started = time.perf_counter()
        rows += await call(n)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return Result(kind, queries, percentile(latencies, 0.5), percentile(latencies, 0.99), latencies[-1],
                  rows / queries)  # fmt: skip


async def measure(client: Client, p: Plan, queries: int) -> tuple[list[Result], float]:
    """``list_attempts`` itself, over the store's HTTP interface as the API calls it."""
    deep, depth = await deep_positions(client, p.endpoints, 50)

    def by(n: int, **extra: Any) -> AttemptFilter:
        return AttemptFilter(p.endpoints[n].app_id, endpoint_id=p.endpoints[n].endpoint_id, **extra)

    async def rows(f: AttemptFilter, position: Position | None = None) -> int:
        return len((await list_attempts(client, f, PAGE, position)).items)

    kinds: list[tuple[str, Call]] = [
        ("by_endpoint", lambda n: rows(by(n))),
        ("by_endpoint_deep", lambda n: rows(*deep[n % len(deep)])),
        ("by_endpoint_status", lambda n: rows(by(n, statuses=("failed",)))),
        ("by_endpoint_types", lambda n: rows(by(n, event_types=p.types[n]))),
        ("by_endpoint_window", lambda n: rows(by(n, after=p.windows[n], before=p.windows[n] + timedelta(days=7)))),
        ("by_message", lambda n: rows(AttemptFilter(p.messages[n][0], msg_id=p.messages[n][1]))),
    ]
    return [await timed(kind, queries, call) for kind, call in kinds], depth


class SvixLists:
    """The Svix dialect's attempt lists, one request at a time: list-by-endpoint (its filters) and list-by-msg."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base + "/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def get(self, path: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        async with self.session.get(self.base + path, params=[("limit", str(PAGE)), *params],
                                    headers=self.headers) as response:  # fmt: skip
            body = await response.read()
            if response.status != 200:
                raise RuntimeError(f"GET {path} {params}: {response.status} {body[:300]!r}")
            return json.loads(body)

    async def by_endpoint(self, endpoint: Endpoint, *params: tuple[str, str]) -> dict[str, Any]:
        app, target = to_svix(IdKind.APPLICATION, endpoint.app_id), to_svix(IdKind.ENDPOINT, endpoint.endpoint_id)
        return await self.get(f"/app/{app}/attempt/endpoint/{target}", list(params))

    async def by_msg(self, app_id: uuid.UUID, msg_id: uuid.UUID) -> dict[str, Any]:
        app, msg = to_svix(IdKind.APPLICATION, app_id), to_svix(IdKind.MESSAGE, msg_id)
        return await self.get(f"/app/{app}/attempt/msg/{msg}", [])

    async def deep_iterators(self, endpoints: list[Endpoint], want: int) -> tuple[list[tuple], float]:
        """As ``deep_positions``, by following the API's own iterators."""
        found: list[tuple[Endpoint, str | None]] = []
        depths: list[int] = []
        for endpoint in list(dict.fromkeys(endpoints))[:want]:
            iterator: str | None = None
            depth = 1
            while depth < DEEP_PAGES:
                page = await self.by_endpoint(endpoint, *([("iterator", iterator)] if iterator else []))
                if page["done"] or not page["data"]:
                    break
                iterator, depth = page["iterator"], depth + 1
            found.append((endpoint, iterator))
            depths.append(depth)
        return found, sum(depths) / len(depths)


async def measure_api(api: SvixLists, p: Plan, queries: int) -> tuple[list[Result], float]:
    """The same shapes as ``measure``, through the Svix API in its own process: request to parsed answer."""
    deep, depth = await api.deep_iterators(p.endpoints, 50)
    fail = ("status", str(next(n for n, name in STATUS_NAMES.items() if name == "fail")))

    async def rows(answer: Awaitable[dict[str, Any]]) -> int:
        return len((await answer)["data"])

    def window(n: int) -> list[tuple[str, str]]:
        return [("after", p.windows[n].isoformat()), ("before", (p.windows[n] + timedelta(days=7)).isoformat())]

    def deep_page(n: int) -> Awaitable[dict[str, Any]]:
        endpoint, iterator = deep[n % len(deep)]
        return api.by_endpoint(endpoint, *([("iterator", iterator)] if iterator else []))

    kinds: list[tuple[str, Call]] = [
        ("by_endpoint", lambda n: rows(api.by_endpoint(p.endpoints[n]))),
        ("by_endpoint_deep", lambda n: rows(deep_page(n))),
        ("by_endpoint_status", lambda n: rows(api.by_endpoint(p.endpoints[n], fail))),
        ("by_endpoint_types", lambda n: rows(api.by_endpoint(p.endpoints[n],
                                                             *[("event_types", t) for t in p.types[n]]))),
        ("by_endpoint_window", lambda n: rows(api.by_endpoint(p.endpoints[n], *window(n)))),
        ("by_message", lambda n: rows(api.by_msg(p.messages[n][0], p.messages[n][1]))),
    ]  # fmt: skip
    return [await timed(kind, queries, call) for kind, call in kinds], depth


TOKEN = "hs_op_bench_query_attempts"


@contextlib.asynccontextmanager
async def served_api(work: Path, store: Store, database: str, targets: Targets) -> AsyncIterator[SvixLists]:
    """`hookstream run --roles api` against the store and a broker of its own whose config topic holds the
    targets' applications and endpoints (the API looks both up before listing): the API as deployed apart."""
    base = load_settings(env={})
    broker = LocalKafka(ensure_kafka(base.kafka_jars_dir), work / "kafka").start()
    process = None
    try:
        settings = base.replace(
            data_dir=work / "api", kafka_bootstrap_servers=broker.bootstrap_servers, clickhouse_url=store.url(),
            clickhouse_database=database, operator_token=TOKEN, api_rate_limit_per_s=0.0, log_level="WARNING",
            secret_keys=base64.b64encode(os.urandom(32)).decode(), topic_namespace=f"bench.{uuid.uuid4().hex[:6]}.",
        )  # fmt: skip
        await wait_for_broker(settings.kafka_bootstrap_servers)
        await create_topics(settings.kafka_bootstrap_servers, catalogue(settings))
        config = TopicNames.from_settings(settings)(CONFIG)
        async with EventProducer(settings.kafka_bootstrap_servers, AvroCodec(), client_id="bench-config") as producer:
            acks = []
            for app_id in dict.fromkeys([e.app_id for e in targets.endpoints] + [m[0] for m in targets.messages]):
                acks.append(await producer.send(config, "ApplicationUpserted", builders.application(app_id),
                                                str(app_id).encode()))  # fmt: skip
            for e in dict.fromkeys(targets.endpoints):
                record = builders.endpoint(str(e.app_id), e.url, endpoint_id=e.endpoint_id)
                acks.append(await producer.send(config, "EndpointUpserted", record, str(e.endpoint_id).encode()))
            await asyncio.gather(*acks)
        process, port = start_roles(settings, "api", work / "api.log")
        async with aiohttp.ClientSession() as session:
            yield SvixLists(session, f"http://127.0.0.1:{port}", TOKEN)
    finally:
        if process is not None:
            stop_process(process)
        broker.stop()


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
    print(f"\n{meta['phase']}, {meta['path']}: {meta['rows']:,} attempts, {meta['parts']} active parts in "
          f"`attempts`, deep pages at depth {meta['deep_page_depth']:.1f} on average, load average {load[0]} -> "
          f"{load[1]} on {meta['cpus']} CPUs, store RSS {meta['store_rss_mb']:.0f} MB")  # fmt: skip
    print(f"| {'query':<20} | {'queries':>7} | {'p50 ms':>7} | {'p99 ms':>7} | {'max ms':>7} | {'rows':>5} |")
    print(f"|{'-' * 22}|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 8}:|{'-' * 6}:|")
    for r in results:
        print(f"| {r.kind:<20} | {r.queries:>7} | {r.p50_ms:>7.1f} | {r.p99_ms:>7.1f} | {r.max_ms:>7.1f} | "
              f"{r.mean_rows:>5.1f} |")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        for r in results:
            out.write(json.dumps({**meta, **asdict(r)}) + "\n")


DATABASE = "bench"
PATHS = {"direct": "list_attempts over the store's HTTP interface", "api": "Svix API (hookstream run --roles api)"}


async def main(args: argparse.Namespace) -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]  # progress shows through a pipe
    work = Path(tempfile.mkdtemp(prefix="hookstream-bench-query-"))
    data_dir = (args.data_dir or work / "data").resolve()
    store = Store(data_dir / "store", args.store_max_memory_bytes)
    client = store.client(DATABASE)
    try:
        prepared = prepare(client, args, data_dir)
        if args.insert_only:
            print(f"--insert-only: the data stays in {data_dir}; the same command without it runs the queries")
            return
        meta: dict[str, Any] = {
            "bench": "query_attempts", "at": datetime.now(UTC).isoformat(), "commit": _commit(),
            "machine": platform.machine(), "cpus": _cpus(), "rows": args.rows, "batch": args.batch,
            "insert_rows_per_s": prepared.insert_rows_per_s, "insert_reused": not prepared.inserted_now,
            "seed": args.seed, "clickhouse": "store over HTTP", "store_max_memory_bytes": args.store_max_memory_bytes,
        }  # fmt: skip
        first = "as inserted" if prepared.inserted_now else "as kept"
        phases = [] if args.merged_only else [(first, None)]
        phases += [("merged", "OPTIMIZE TABLE {} FINAL")] if args.optimize or args.merged_only else []
        p = plan(prepared.targets, args.queries, args.seed)
        async with contextlib.AsyncExitStack() as stack:
            api = None if args.no_api else await stack.enter_async_context(
                served_api(work, store, DATABASE, prepared.targets))  # fmt: skip
            for phase, statement in phases:
                if statement is not None:
                    for table in ("attempts", "attempts_by_msg"):
                        client.command(statement.format(table))
                paths = [("direct", lambda: measure(client, p, args.queries))]
                paths += [] if api is None else [("api", lambda: measure_api(api, p, args.queries))]
                for path, run in paths:
                    load_before = os.getloadavg()[0]
                    results, depth = await run()
                    meta = {**meta, "phase": phase, "path": PATHS[path], "parts": parts(client),
                            "deep_page_depth": round(depth, 1), "store_rss_mb": round(store.rss_mb()),
                            "load_avg_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)]}  # fmt: skip
                    report(results, meta, args.results)
        if args.analytics_runs:
            time_analytics(client, args.analytics_runs, {**meta, "path": PATHS["direct"]}, args.results)
    finally:
        client.close()
        store.stop()
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
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep the store's data here and reuse it when it holds --rows for --seed "
                             "(default: a fresh directory, removed at the end)")  # fmt: skip
    parser.add_argument("--insert-only", action="store_true",
                        help="insert into --data-dir (and let the merges settle), run no query")  # fmt: skip
    parser.add_argument("--no-api", action="store_true", help="time list_attempts only, not through the API")
    parser.add_argument("--store-max-memory-bytes", type=int, default=None,
                        help="HOOKSTREAM_STORE_MAX_MEMORY_BYTES of the store (default: the setting's, 2 GiB, which "
                             "a 10M insert with its rollups outgrows; 0: chDB's own share of the machine)")  # fmt: skip
    args = parser.parse_args(argv)
    args.rows = args.rows or (20_000 if args.quick else 1_000_000)
    args.queries = args.queries or (100 if args.quick else 1_000)
    if args.analytics_runs is None:
        args.analytics_runs = 1 if args.quick else 5
    if args.rows < 1 or args.queries < 1 or args.batch < 1:
        parser.error("--rows, --queries and --batch must be positive")
    if args.insert_only and args.data_dir is None:
        parser.error("--insert-only keeps the data: it needs --data-dir")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
