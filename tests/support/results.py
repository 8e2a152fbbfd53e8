"""Figures as a benchmark records them: an aligned table on stdout and one JSON line per row appended to
``bench/results/<name>.jsonl`` (``HOOKSTREAM_BENCH_RESULTS`` elsewhere), stamped with the machine, the
date and the command, so BENCHMARKS.md can quote the exact run. Shared by the drivers in ``bench/`` and
the chaos suite, which records its fault figures the same way.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(os.environ.get("HOOKSTREAM_BENCH_RESULTS", Path(__file__).resolve().parents[2] / "bench" / "results"))


def machine() -> dict[str, Any]:
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))  # fmt: skip
    return {"cores": os.cpu_count(), "memory_gb": round(mem_kb / 1024 / 1024, 1), "python": platform.python_version()}


def report(bench: str, rows: list[dict[str, Any]], *, quick: bool) -> None:
    """Print ``rows`` as an aligned table and append them to bench/results/<bench>.jsonl."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print(f"\n{bench}{' (quick)' if quick else ''}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row_cells in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row_cells, widths, strict=True)))
    RESULTS.mkdir(exist_ok=True)
    stamp = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "quick": quick, "machine": machine(),
             "command": " ".join([Path(sys.executable).name, *sys.argv])}  # fmt: skip
    with (RESULTS / f"{bench}.jsonl").open("a") as out:
        for row in rows:
            out.write(json.dumps({**stamp, **row}) + "\n")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return "" if value is None else str(value)
