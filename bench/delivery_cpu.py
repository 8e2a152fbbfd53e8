"""CPU seconds the delivery process spends per 1,000 deliveries, and where they go.

`hookstream dev` as a user runs it, with one delivery process: its router and delivery worker in that
child process (`hookstream run --roles router,deliver`), receivers in another
process answering 200 at once. After a warm-up, ``--messages`` 1 KiB messages
are produced straight into ``messages`` for ``--endpoints`` endpoints; the
figure is the child's utime+stime (``/proc/<pid>/stat``) from the first
produce until every request has arrived and every attempt is projected,
divided by the deliveries. CPU time, not a rate: other jobs on a shared
machine slow the run down but hardly change what it costs. The child's idle
CPU rate (measured before) is reported beside it, and subtracted in
``cpu_ms_per_1k_busy``. With ``--profile``, py-spy samples the child through
the measured phase and the shares by stage and by leaf function are printed.

    .venv/bin/python bench/delivery_cpu.py                      # 10 endpoints, 2,000 messages
    .venv/bin/python bench/delivery_cpu.py --profile --runs 2   # with the function breakdown
    .venv/bin/python bench/delivery_cpu.py --quick              # seconds; asserts nothing about speed
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time
from pathlib import Path

import sampling
from harness import Dev, Receivers, descendants, process_name, report
from hookstream.foundation.settings import load_settings
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import MESSAGES, TopicNames
from hookstream.runtime.role_process import DELIVERY_ROLES
from pipeline import app_uuid, produce, setup_app
from processes import _stat

ATTEMPTS = ("hookstream_projector_rows_total", 'table="attempts"')


def delivery_pid(dev: Dev) -> int:
    """The child running the router and the delivery worker."""
    for pid in descendants(dev.process.pid):
        if process_name(pid) == "+".join(DELIVERY_ROLES):
            return pid
    roles = ",".join(DELIVERY_ROLES)
    raise RuntimeError(f"no `hookstream run --roles {roles}` child: is HOOKSTREAM_DEV_DELIVERY_PROCESSES 0?")


def cpu_s(pid: int) -> float:
    stat = _stat(pid)
    if stat is None:
        raise RuntimeError(f"process {pid} is gone")
    return stat[1]


async def wait_for(dev: Dev, receivers: Receivers, requests: int, attempts: float, timeout: float = 600) -> None:
    """Until the receivers have seen ``requests`` requests and the projector ``attempts`` attempt rows."""
    deadline = time.monotonic() + timeout
    while receivers.total() < requests or dev.metric(*ATTEMPTS) < attempts:
        if time.monotonic() > deadline:
            raise RuntimeError(f"not delivered and projected within {timeout} s")
        await asyncio.sleep(0.1)


async def one_run(dev: Dev, receivers: Receivers, app_id: str, args: argparse.Namespace, run: int) -> dict:
    """Warm up, measure idle, then push ``args.messages`` and time the child's CPU until all are projected."""
    topic = TopicNames.from_settings(load_settings(env={}))(MESSAGES)
    pid = delivery_pid(dev)
    async with EventProducer(dev.bootstrap, AvroCodec(), client_id="bench-cpu") as producer:
        requests, attempts = receivers.total(), dev.metric(*ATTEMPTS)
        await produce(producer, topic, app_id, args.warmup)
        requests, attempts = requests + args.warmup * args.endpoints, attempts + args.warmup * args.endpoints
        await wait_for(dev, receivers, requests, attempts)
        await asyncio.sleep(1.0)  # the last commits and metric updates
        idle_start, idle_at = cpu_s(pid), time.monotonic()
        await asyncio.sleep(args.idle)
        idle_cores = (cpu_s(pid) - idle_start) / (time.monotonic() - idle_at)
        profile = Path(dev.work / f"delivery-cpu-{run}.txt")
        spy = None
        if args.profile and (tool := sampling.py_spy()) is not None:
            spy = subprocess.Popen([tool, "record", "--pid", str(pid), "--rate", "200", "--format", "raw",
                                    "--output", str(profile), "--nonblocking"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            await asyncio.sleep(1.0)  # py-spy attaches
        started_cpu, started = cpu_s(pid), time.monotonic()
        await produce(producer, topic, app_id, args.messages)
        deliveries = args.messages * args.endpoints
        await wait_for(dev, receivers, requests + deliveries, attempts + deliveries)
        used, wall = cpu_s(pid) - started_cpu, time.monotonic() - started
    if spy is not None:
        spy.send_signal(2)  # SIGINT: py-spy writes what it sampled and exits
        spy.wait(timeout=60)
    row = {
        "run": run, "endpoints": args.endpoints, "deliveries": deliveries, "wall_s": round(wall, 2),
        "deliveries_per_s": round(deliveries / wall), "cpu_s": round(used, 3),
        "cores": round(used / wall, 2), "idle_cores": round(idle_cores, 3),
        "cpu_ms_per_1k": round(used / deliveries * 1e6, 1),
        "cpu_ms_per_1k_busy": round((used - idle_cores * wall) / deliveries * 1e6, 1),
    }  # fmt: skip
    if spy is not None and profile.exists():
        row["profile"] = str(profile)
    return row


async def main(args: argparse.Namespace) -> None:
    receivers = Receivers(args.endpoints)
    dev = Dev(HOOKSTREAM_DEV_DELIVERY_PROCESSES="1")  # one delivery process: its CPU is every delivery's
    try:
        app_id = app_uuid(setup_app(dev, receivers, args.endpoints))
        rows = [await one_run(dev, receivers, app_id, args, run) for run in range(args.runs)]
        report("delivery_cpu", rows, quick=args.quick)
        for row in rows:
            if "profile" in row:
                stages, functions = sampling.summarise(Path(row["profile"]), top=args.top)
                report("delivery_cpu_stages", [{"run": row["run"], **s} for s in stages], quick=args.quick)
                report("delivery_cpu_functions", [{"run": row["run"], **f} for f in functions], quick=args.quick)
    finally:
        dev.stop()
        receivers.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoints", "-e", type=int, default=10, help="endpoints each message fans out to")
    parser.add_argument("--messages", "-n", type=int, default=2_000, help="messages in the measured phase")
    parser.add_argument("--warmup", type=int, default=300, help="messages delivered before measuring")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds the idle CPU rate is measured over")
    parser.add_argument("--runs", type=int, default=1, help="measured phases on the same dev process")
    parser.add_argument("--profile", action="store_true", help="py-spy the delivery process in each phase")
    parser.add_argument("--top", type=int, default=25, help="leaf functions listed from the profile")
    parser.add_argument("--quick", action="store_true", help="a few messages: proves the benchmark runs")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.endpoints, arguments.messages, arguments.warmup, arguments.idle = 2, 100, 20, 0.5
    asyncio.run(main(arguments))
