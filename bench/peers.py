"""Side by side with Hookdeck Outpost: one client, Outpost's wire, against Outpost and hookstream's Outpost dialect.

Outpost v1.1.0 (built by bench/peers/outpost.sh, with its Postgres, Redis
and RabbitMQ from Debian's packages) and ``hookstream dev`` each start from
empty state for every case, one system at a time, the other stopped. The
client is the same code for both; only the base URL and the bearer token
differ (Outpost's API key, hookstream's operator token). Per case:

* upsert tenant ``t1``, delete its destinations, create ``d1..dE`` (webhook,
  topics ``["*"]``) pointing at a receiver on 127.0.0.1 in another process;
* one warm-up event, waited for at the receiver, not measured;
* N events (1 KiB ``data``) from C concurrent keep-alive connections to
  ``POST /api/v1/publish``; accepted/s over the publishing, delivered/s from
  the first publish to the last of N*E arrivals, first-delivery latency per event
  (publish sent -> first arrival at the receiver, matched by the event id
  the publish answered with: Outpost's ``x-outpost-event-id`` header,
  hookstream's ``webhook-id``);
* visibility: the last arrival -> its attempt listed by
  ``GET /api/v1/attempts?tenant_id=t1&destination_id=…``;
* sequential calls of the two attempt lists (p50/p99);
* peak RSS/PSS of every process of the system (the process tree, walked
  at each sample) and of the client and receiver; their CPU from the first
  publish until the last attempt is listed, and the host's busy cores left
  over: what other jobs on the machine used meanwhile.

Cases alternate which system goes first. Targets (benchmarks, not tests):
hookstream at least 2x Outpost's deliveries/s and accepted/s at each E, and
list-attempts p99 at or below Outpost's on the same data.

    .venv/bin/python bench/peers.py                 # E=1 and E=10, N=3000, C=32
    .venv/bin/python bench/peers.py --quick         # N=200, E=1 and 2: proves the benchmark runs
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import aiohttp

from harness import Dev, Receivers, percentile, report
from processes import Sampler

PEERS = Path(__file__).resolve().parent / "peers"
OUTPOST_SH = PEERS / "outpost.sh"
TENANT = "t1"
TOPIC = "bench.event"
DATA = {"pad": "x" * 1014}  # 1,024 bytes of JSON
TENANT_LIST = f"/tenants/{TENANT}/destinations/d1/attempts?limit=100"
ATTEMPTS_LIST = f"/attempts?tenant_id={TENANT}&destination_id=d1&limit=100"
PG_PID_FILE = Path("/var/lib/postgresql/15/main/postmaster.pid")


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return {key: value for key, value in pairs}


def pids_named(name: str, user: str | None = None) -> list[int]:
    found = []
    uid = None if user is None else int(subprocess.run(["id", "-u", user], capture_output=True, text=True).stdout)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if Path(entry.path, "comm").read_text().strip() == name and (uid is None or entry.stat().st_uid == uid):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def pid_in(path: Path) -> list[int]:
    try:
        return [int(path.read_text().split()[0])]
    except (OSError, ValueError, IndexError):
        return []


class Outpost(AbstractContextManager["Outpost"]):
    """Outpost and its infrastructure, started empty (a new database, Redis flushed, queues deleted), then stopped."""

    name = "outpost"

    def __init__(self) -> None:
        self.env = env_file(PEERS / "outpost.env")
        self.base = f"http://127.0.0.1:{self.env['API_PORT']}"
        self.token = self.env["API_KEY"]
        self.run_dir = Path(os.environ.get("OUTPOST_RUN", Path.home() / ".cache/hookstream/outpost/v1.1.0/run"))

    def ctl(self, command: str) -> None:
        subprocess.run([str(OUTPOST_SH), command], check=True, env={**os.environ, "OUTPOST_RUN": str(self.run_dir)},
                       stdout=subprocess.DEVNULL)  # fmt: skip

    def __enter__(self) -> Outpost:
        try:
            for command in ("infra-start", "reset", "start"):
                self.ctl(command)
        except BaseException:
            self.ctl("infra-stop")
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.ctl("infra-stop")

    def roots(self) -> Iterable[int]:
        """The server, Postgres's postmaster, Redis, and RabbitMQ's Erlang VM with its port mapper."""
        return [*pid_in(self.run_dir / "outpost-server.pid"), *pid_in(PG_PID_FILE),
                *pid_in(self.run_dir / "redis" / "redis.pid"), *pids_named("beam.smp", "rabbitmq"),
                *pids_named("epmd", "rabbitmq")]  # fmt: skip


class Hookstream(AbstractContextManager["Hookstream"]):
    """``hookstream dev`` in a temp dir of its own (the harness's Dev: loopback receivers allowed, no rate limit)."""

    name = "hookstream"

    def __enter__(self) -> Hookstream:
        self.dev = Dev()
        self.base, self.token = self.dev.base, self.dev.token
        return self

    def __exit__(self, *_: object) -> None:
        self.dev.stop()

    def roots(self) -> Iterable[int]:
        return [self.dev.process.pid]


class Client:
    """Outpost's API as a user's code calls it; the same for both systems."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.api = session, base + "/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.api + path, json=body, headers=self.headers) as response:
            answer = await response.json(content_type=None) if response.content_length != 0 else None
            return response.status, answer

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, answer = await self.call(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer!r}")
        return answer

    async def destinations(self, count: int, url: str) -> None:
        await self.ok("PUT", f"/tenants/{TENANT}")
        for old in await self.ok("GET", f"/tenants/{TENANT}/destinations"):
            await self.ok("DELETE", f"/tenants/{TENANT}/destinations/{old['id']}")
        for index in range(1, count + 1):
            destination = {"type": "webhook", "id": f"d{index}", "topics": ["*"], "config": {"url": f"{url}/d{index}"}}
            await self.ok("POST", f"/tenants/{TENANT}/destinations", destination)

    async def publish(self) -> str:
        answer = await self.ok("POST", "/publish", {"tenant_id": TENANT, "topic": TOPIC, "data": DATA})
        return answer["id"]

    async def attempts(self, destination: str) -> list[dict]:
        path = f"/attempts?tenant_id={TENANT}&destination_id={destination}&limit=100"
        return (await self.ok("GET", path))["models"]


async def wait_arrivals(receivers: Receivers, since: int, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while receivers.total() - since < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{receivers.total() - since} of {count} deliveries after {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def publish_all(client: Client, events: int, connections: int) -> tuple[dict[str, float], int, float, float]:
    """({event id: publish sent at}, errors, first send, last answer): ``connections`` workers, one event each."""
    sent_at: dict[str, float] = {}
    errors = 0
    left = iter(range(events))
    started = time.time()
    finished = started

    async def worker() -> None:
        nonlocal errors, finished
        for _ in left:
            at = time.time()
            try:
                sent_at[await client.publish()] = at
            except (RuntimeError, aiohttp.ClientError):
                errors += 1
            finished = max(finished, time.time())

    await asyncio.gather(*(worker() for _ in range(connections)))
    return sent_at, errors, started, finished


async def visibility(client: Client, event_id: str, destination: str, delivered_at: float, timeout: float) -> float:
    """Seconds from the last delivery until its attempt is listed (NaN if not within ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(a.get("event_id") == event_id for a in await client.attempts(destination)):
            return time.time() - delivered_at
        await asyncio.sleep(0.02)
    return float("nan")


async def list_latency(client: Client, path: str, calls: int) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, attempts on the last page) over ``calls`` sequential calls."""
    took = []
    rows = 0
    for _ in range(calls):
        start = time.perf_counter()
        rows = len((await client.ok("GET", path))["models"])
        took.append((time.perf_counter() - start) * 1000)
    return percentile(took, 0.5), percentile(took, 0.99), rows


async def run_case(system: Outpost | Hookstream, receivers: Receivers, args: argparse.Namespace, endpoints: int,
                   bench: dict[str, int]) -> tuple[dict, list[dict]]:  # fmt: skip
    """One system at one fan-out: the headline row and the per-process rows."""
    sampler = Sampler({system.name: system.roots}, alone={pid: ("bench", name) for name, pid in bench.items()})
    url = f"http://127.0.0.1:{receivers.ports[0]}/hook"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.connections)) as session:
        client = Client(session, system.base, system.token)
        with sampler:
            await client.destinations(endpoints, url)
            before = receivers.total()
            await client.publish()
            await wait_arrivals(receivers, before, endpoints, 120)
            base = receivers.total()
            load_before = os.getloadavg()[0]
            start_mark = sampler.mark()
            sent_at, errors, first, last_answer = await publish_all(client, args.events, args.connections)
            expected = len(sent_at) * endpoints
            await wait_arrivals(receivers, base, expected, args.timeout)
            arrivals = receivers.stats(since=base)["arrivals"]
            first_arrival: dict[str, float] = {}
            for event_id, _, at in arrivals:
                first_arrival.setdefault(event_id, at)
            last_id, last_path, last_at = max(arrivals, key=lambda a: a[2])
            seen = await visibility(client, last_id, last_path.rsplit("/", 1)[1], last_at, 60)
            end_mark = sampler.mark()  # CPU until the attempts are written too, not only delivered
            tenant_list = await list_latency(client, TENANT_LIST, args.queries)
            attempts_list = await list_latency(client, ATTEMPTS_LIST, args.queries)
    latency = [(first_arrival[e] - at) * 1000 for e, at in sent_at.items() if e in first_arrival]
    cpu, host_busy = sampler.cpu_cores(start_mark, end_mark)
    ours = sum(v for (group, _), v in cpu.items() if group == system.name)
    tools = sum(v for (group, _), v in cpu.items() if group == "bench")
    row = {
        "system": system.name, "E": endpoints, "N": args.events, "C": args.connections,
        "accepted_per_s": len(sent_at) / (last_answer - first),
        "delivered_per_s": expected / (max(a[2] for a in arrivals) - first),
        "first_delivery_p50_ms": percentile(latency, 0.5), "first_delivery_p99_ms": percentile(latency, 0.99),
        "visible_after_s": seen,
        "tenant_dest_attempts_p50_ms": tenant_list[0], "tenant_dest_attempts_p99_ms": tenant_list[1],
        "attempts_p50_ms": attempts_list[0], "attempts_p99_ms": attempts_list[1], "attempts_rows": attempts_list[2],
        "deliveries": len(arrivals), "unique_events": len(first_arrival), "publish_errors": errors,
        "rss_mb": sum(p["rss_mb"] for (g, _), p in sampler.peak.items() if g == system.name),
        "pss_mb": sum(p["pss_mb"] for (g, _), p in sampler.peak.items() if g == system.name),
        "cpu_cores": ours, "bench_cpu_cores": tools,
        "other_cpu_cores": max(0.0, host_busy - ours - tools),
        "load_1m": round(load_before, 2),
    }  # fmt: skip
    processes = [{"system": group, "E": endpoints, "process": name, "count": int(peak["n"]), "rss_mb": peak["rss_mb"],
                  "pss_mb": peak["pss_mb"], "cpu_cores": cpu.get((group, name), 0.0)}
                 for (group, name), peak in sorted(sampler.peak.items())]  # fmt: skip
    return row, processes


def compare(rows: list[dict]) -> list[dict]:
    """hookstream over Outpost per fan-out, against the targets."""
    out = []
    for endpoints in sorted({r["E"] for r in rows}):
        by = {r["system"]: r for r in rows if r["E"] == endpoints}
        if {"outpost", "hookstream"} <= by.keys():
            ours, peer = by["hookstream"], by["outpost"]
            delivered = ours["delivered_per_s"] / peer["delivered_per_s"]
            accepted = ours["accepted_per_s"] / peer["accepted_per_s"]
            out.append({
                "E": endpoints, "delivered_x": delivered, "accepted_x": accepted,
                "attempts_p99_ms": f"{ours['attempts_p99_ms']:.1f} vs {peer['attempts_p99_ms']:.1f}",
                "tenant_dest_p99_ms": f"{ours['tenant_dest_attempts_p99_ms']:.1f} vs "
                                      f"{peer['tenant_dest_attempts_p99_ms']:.1f}",
                "target": "≥ 2x delivered and accepted; list p99 ≤ Outpost's",
                "met": delivered >= 2 and accepted >= 2 and ours["attempts_p99_ms"] <= peer["attempts_p99_ms"]
                and ours["tenant_dest_attempts_p99_ms"] <= peer["tenant_dest_attempts_p99_ms"],
            })  # fmt: skip
    return out


async def main(args: argparse.Namespace) -> None:
    quick = {"events": 200, "endpoints": [1, 2], "queries": 20}
    full = {"events": 3000, "endpoints": [1, 10], "queries": 200}
    for name, value in (quick if args.quick else full).items():
        setattr(args, name, value if getattr(args, name) is None else getattr(args, name))
    receivers = Receivers(1)
    rows: list[dict] = []
    processes: list[dict] = []
    try:
        for index, endpoints in enumerate(args.endpoints):
            order = args.systems if index % 2 == 0 else args.systems[::-1]
            for name in order:
                with Outpost() if name == "outpost" else Hookstream() as system:
                    row, procs = await run_case(system, receivers, args, endpoints,
                                                {"client": os.getpid(), "receiver": receivers.process.pid})  # fmt: skip
                rows.append(row)
                processes += procs
                print(f"{name} E={endpoints}: {row['delivered_per_s']:,.0f} delivered/s, "
                      f"{row['accepted_per_s']:,.0f} accepted/s", flush=True)  # fmt: skip
    finally:
        receivers.stop()
    report("peers", rows, quick=args.quick)
    report("peers_processes", processes, quick=args.quick)
    if ratios := compare(rows):
        report("peers_ratio", ratios, quick=args.quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="N=200, E=1 and 2, 20 list calls: proves it runs")
    parser.add_argument("-n", "--events", type=int, help="events published per case (3000)")
    parser.add_argument("-e", "--endpoints", type=int, nargs="+", help="destinations, one case each (1 10)")
    parser.add_argument("-c", "--connections", type=int, default=32, help="concurrent publishing connections")
    parser.add_argument("--queries", type=int, help="sequential calls of each attempt list (200)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for every delivery")
    parser.add_argument("--systems", nargs="+", default=["outpost", "hookstream"], choices=["outpost", "hookstream"])
    asyncio.run(main(parser.parse_args()))
