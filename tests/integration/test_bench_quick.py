"""The attempt-query benchmark still runs: ``bench/query_attempts.py --quick`` end to end in its own process.

A smoke test of the driver, never of the figures: it checks that the run
finishes, prints its table with a row per query kind, and records the same
kinds as JSON lines, whatever the numbers are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "query_attempts.py"
KINDS = ("by_endpoint", "by_endpoint_deep", "by_endpoint_status", "by_endpoint_types", "by_endpoint_window",
         "by_message")  # fmt: skip


def test_quick_run_prints_its_table_and_records_it(tmp_path: Path) -> None:
    results = tmp_path / "query_attempts.jsonl"
    # Its own process: chDB binds one data directory per process, and the bench opens a fresh one.
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--queries", "20", "--results", str(results)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("inserted 20,000 attempts") and "rows/s" in line for line in lines), done.stdout
    header = next(n for n, line in enumerate(lines) if line.startswith("| query"))
    assert [line.split("|")[1].strip() for line in lines[header + 2 : header + 2 + len(KINDS)]] == list(KINDS)
    everything = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    recorded = [r for r in everything if r.get("phase") != "analytics"]
    analytics = [r for r in everything if r.get("phase") == "analytics"]
    assert analytics and all(r["p50_ms"] <= r["max_ms"] for r in analytics), "every docs/analytics.md query timed"
    assert [r["kind"] for r in recorded] == list(KINDS)
    assert {r["rows"] for r in recorded} == {20_000} and {r["queries"] for r in recorded} == {20}
    assert all(r["p50_ms"] <= r["p99_ms"] <= r["max_ms"] for r in recorded), "percentiles are ordered"
