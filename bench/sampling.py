"""Where a process's time goes: py-spy samples it, and the samples are summed by pipeline stage and by function.

Used by the benchmarks to name the slowest stage with evidence. A sample is
attributed to a stage by the first hookstream module on its stack (router,
delivery, scheduler, status, projector, api, log), else to the library it
is in (aiokafka, faust, fastavro, aiohttp, chdb, asyncio); the leaf function
is its self time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

_STAGES = ("router", "delivery", "scheduler", "status", "projector", "api", "config", "log", "runtime", "query")
_LIBRARIES = ("aiokafka", "faust", "mode", "fastavro", "aiohttp", "chdb", "clickhouse_connect", "asyncio", "uvloop",
              "ssl", "json", "prometheus_client", "yarl", "multidict")  # fmt: skip


_ENTRY_POINTS = ("hookstream/cli.py", "hookstream/runtime/dev.py")


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return found if Path(found).exists() else None


def record(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` and its Python children (``hookstream dev``'s role processes) for ``seconds``.

    Collapsed stacks go into ``out``; None when py-spy is missing.
    """
    tool = py_spy()
    if tool is None:
        return None
    return subprocess.Popen([tool, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "200",
                             "--format", "raw", "--output", str(out), "--nonblocking", "--subprocesses"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip


def _frame_module(frame: str) -> str:
    """py-spy raw frames look like ``function (package/module.py:123)``, paths relative to sys.path or absolute."""
    match = re.search(r"\((.*?)(?::\d+)?\)$", frame)
    return "/" + (match.group(1) if match else frame).lstrip("/")


def _function(frame: str) -> str:
    return re.sub(r":\d+\)$", ")", frame)


def stage_of(stack: list[str]) -> str:
    for frame in reversed(stack):  # innermost hookstream frame decides (the entry points run the loop: not a stage)
        path = _frame_module(frame)
        if "/hookstream/" in path and not path.endswith(_ENTRY_POINTS):
            part = path.split("/hookstream/", 1)[1].split("/", 1)[0]
            return part if part in _STAGES else "hookstream-other"
    for frame in reversed(stack):
        path = _frame_module(frame)
        for library in _LIBRARIES:
            if f"/{library}/" in path or path.startswith(f"<{library}") or f"/{library}.py" in path:
                return library
    return "other"


def summarise(out: Path, top: int = 12) -> tuple[list[dict], list[dict]]:
    """(share of samples per stage, share of self time per leaf function)."""
    stages: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        stack = [frame for frame in stack_text.split(";") if "(" in frame]  # drop a process/thread label if any
        total += count
        stages[stage_of(stack)] += count
        leaves[_function(stack[-1]) if stack else "?"] += count
    by_stage = [{"stage": s, "share": round(c / total, 3)} for s, c in stages.most_common()]
    by_leaf = [{"function": f[:90], "self_share": round(c / total, 3)} for f, c in leaves.most_common(top)]
    return by_stage, by_leaf
