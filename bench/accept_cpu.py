"""B3's cost side: CPU milliseconds the API process spends per accepted message.

Wall rates drift with whatever else the machine runs; the CPU the API
process itself uses per 202 does much less, so this is the figure to compare
two versions of the accept path by. Against `hookstream dev` (its parent
process serves the HTTP API alone): warm up, read the process's CPU time
from /proc, send ``--messages`` svix-wire ``POST /api/v1/app/{app}/msg`` with
1 KiB payloads and 64 requests in flight from this (separate) process, read
it again. ``--profile FILE`` also records the API process with py-spy for the
run (a flame graph SVG; ``--profile-format raw`` for collapsed stacks).

    .venv/bin/python bench/accept_cpu.py                    # 5,000 messages, 3 rounds
    .venv/bin/python bench/accept_cpu.py --quick
    .venv/bin/python bench/accept_cpu.py --profile /tmp/accept.svg
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from harness import Dev, report
from pipeline import PAYLOAD
from processes import _stat

IN_FLIGHT = 64


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds of every thread of ``pid`` so far."""
    stat = _stat(pid)
    if stat is None:
        raise RuntimeError(f"process {pid} is gone")
    return stat[1]


async def send(session: aiohttp.ClientSession, dev: Dev, app: str, count: int) -> tuple[int, float]:
    """``count`` messages over HTTP on the session's connections; (202s received, seconds taken)."""
    headers = {"Authorization": f"Bearer {dev.token}", "Content-Type": "application/json"}
    body = {"eventType": "bench.event", "payload": PAYLOAD}
    left = count
    accepted = 0

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal left, accepted
        while left > 0:
            left -= 1
            async with session.post(f"{dev.base}/api/v1/app/{app}/msg", json=body, headers=headers) as response:
                await response.read()
                accepted += response.status == 202

    started = time.monotonic()
    await asyncio.gather(*(client(session) for _ in range(IN_FLIGHT)))
    return accepted, time.monotonic() - started


def py_spy(pid: int, out: str, fmt: str) -> subprocess.Popen[bytes]:
    binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen([binary, "record", "-p", str(pid), "-o", out, "-f", fmt, "-r", "200", "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    messages = 500 if args.quick else args.messages
    rounds = 1 if args.quick else args.rounds
    dev = Dev()
    try:
        app = dev.api("POST", "/app", {"name": "accept-cpu"})
        dev.api("POST", f"/app/{app['id']}/endpoint",
                {"url": "http://127.0.0.1:9/never", "filterTypes": ["never.matches"]})  # fmt: skip
        # One session throughout, its connections kept alive (as an SDK's are): the rounds measure requests only.
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT))
        try:
            await send(session, dev, app["id"], min(messages, 1000))  # warm up: connections, caches, metadata
            rows = await rounds_of(session, dev, app["id"], messages, rounds, args)
        finally:
            await session.close()
        report("b3_accept_cpu", rows, quick=args.quick)
    finally:
        dev.stop()


async def rounds_of(session: aiohttp.ClientSession, dev: Dev, app: str, messages: int, rounds: int,
                    args: argparse.Namespace) -> list[dict[str, Any]]:  # fmt: skip
    pid = dev.process.pid
    rows = []
    for index in range(rounds):
        spy = py_spy(pid, args.profile, args.profile_format) if args.profile and index == 0 else None
        before = cpu_s(pid)
        accepted, seconds = await send(session, dev, app, messages)
        used = cpu_s(pid) - before
        if spy is not None:
            spy.send_signal(2)  # py-spy writes its output on SIGINT
            spy.wait(timeout=60)
        rows.append({"round": index + 1, "messages": messages, "accepted": accepted,
                     "cpu_ms_per_msg": 1000 * used / max(accepted, 1), "accepted_per_s": accepted / seconds,
                     "api_cpu_share": used / seconds})  # fmt: skip
        if accepted != messages:
            raise RuntimeError(f"only {accepted} of {messages} were accepted")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", help="record the API process with py-spy into this file (first round)")
    parser.add_argument("--profile-format", default="flamegraph", choices=["flamegraph", "raw", "speedscope"])
    asyncio.run(main(parser.parse_args()))
