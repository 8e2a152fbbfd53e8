"""The attempt-query benchmark still runs: ``bench/query_attempts.py --quick`` end to end in its own process.

A smoke test of the driver, never of the figures: it checks that the run
finishes, prints a table with a row per query kind for each path (the store's
HTTP interface, then the Svix API in its own process), and records the same
kinds as JSON lines, whatever the numbers are; then that a kept data
directory is reused without a second insert.
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
    kept = tmp_path / "kept"
    done = run("--quick", "--queries", "20", "--results", str(results), "--data-dir", str(kept), cwd=tmp_path)
    lines = done.stdout.splitlines()
    assert any(line.startswith("inserted 20,000 attempts") and "rows/s" in line for line in lines), done.stdout
    headers = [n for n, line in enumerate(lines) if line.startswith("| query")][:2]
    for header in headers:
        assert [line.split("|")[1].strip() for line in lines[header + 2 : header + 2 + len(KINDS)]] == list(KINDS)
    assert "Svix API" in lines[headers[1] - 1], "the second table is the API's"
    everything = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    recorded = [r for r in everything if r.get("phase") != "analytics"]
    analytics = [r for r in everything if r.get("phase") == "analytics"]
    assert analytics and all(r["p50_ms"] <= r["max_ms"] for r in analytics), "every docs/analytics.md query timed"
    assert [r["kind"] for r in recorded] == list(KINDS) * 2
    assert len({r["path"] for r in recorded}) == 2
    assert {r["rows"] for r in recorded} == {20_000} and {r["queries"] for r in recorded} == {20}
    assert all(r["p50_ms"] <= r["p99_ms"] <= r["max_ms"] for r in recorded), "percentiles are ordered"
    assert [r["mean_rows"] for r in recorded[:6]] == [r["mean_rows"] for r in recorded[6:]], "both paths, same pages"

    again = run("--quick", "--queries", "5", "--results", str(results), "--data-dir", str(kept), "--no-api",
                "--analytics-runs", "0", cwd=tmp_path)  # fmt: skip
    assert "kept data in" in again.stdout and "inserted 20,000" not in again.stdout, again.stdout


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600, cwd=cwd)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done
