"""Every benchmark's ``--quick`` mode runs and prints its table, so the benchmarks never rot.

Asserts only that each runs to the end and reports; never a speed (figures
live in BENCHMARKS.md, measured by `make bench` on a quiet machine).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize(
    ("args", "tables"),
    [
        (["pipeline.py"], ["b1_throughput", "b2_latency", "b6_memory"]),
        (["ingest.py"], ["b3_ingest"]),
        (["accept_cpu.py"], ["b3_accept_cpu"]),
        (["scheduler_retries.py", "--mode", "due"], ["b5_retry_due"]),
        (["scheduler_retries.py", "--mode", "rss"], ["b5_retry_memory"]),
        (["scheduler_retries.py", "--mode", "due", "--pending", "2000"], ["b5_retry_memory", "b5_retry_due"]),
        (["outcome_header.py"], ["outcome_header"]),
        (["delivery_cpu.py"], ["delivery_cpu"]),
        (["delivery_pieces.py"], ["delivery_pieces"]),
        (["intake_pieces.py"], ["intake_pieces"]),
        (["list_latency.py"], ["list_latency"]),
        # hookstream's side of the Outpost comparison (Outpost itself needs apt packages and a Go build)
        (["peers.py", "--systems", "hookstream", "-e", "1"], ["peers", "peers_processes"]),
        (["throttle.py"], ["throttle"]),
    ],
    ids=[
        "pipeline",
        "ingest",
        "accept-cpu",
        "retry-due",
        "retry-memory",
        "retry-due-with-pending",
        "outcome-header",
        "delivery-cpu",
        "delivery-pieces",
        "intake-pieces",
        "list-latency",
        "peers",
        "throttle",
    ],
)
def test_quick_benchmark_runs_and_reports(args: list[str], tables: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "HOOKSTREAM_BENCH_RESULTS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:], "--quick"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for table in tables:
        assert f"{table} (quick)" in done.stdout
        rows = [json.loads(line) for line in (tmp_path / f"{table}.jsonl").read_text().splitlines()]
        assert rows and all(row["quick"] for row in rows)
