"""Resident memory and CPU of every process of a system under test, found from /proc on each sample.

A system is named by its root processes; their descendants are found by
walking the process tree every time, not from a fixed layout, so a child
that comes and goes (a role process restarted, a Postgres backend opened)
is counted while it lives. Processes are labelled by what they run
(``hookstream run --roles …``, ``java``, ``postgres``), and the figures are
summed per label. The host's busy CPU is read beside them, so a table can say
how much of the machine something else was using.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

TICK_S = 1 / os.sysconf("SC_CLK_TCK")
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:  # gone between listing and reading
        return None


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(parent pid, CPU seconds used, RSS MB) from /proc/<pid>/stat."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return int(fields[1]), (int(fields[11]) + int(fields[12])) * TICK_S, int(fields[21]) * PAGE_MB


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages split among their users, so Postgres backends sum sensibly."""
    text = _read(f"/proc/{pid}/smaps_rollup") or ""
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def label(pid: int) -> str:
    """What a process runs: hookstream's CLI command (with its roles), else the executable's name."""
    argv = (_read(f"/proc/{pid}/cmdline") or "").split("\0")
    if "hookstream.cli" in argv:
        words = [w for w in argv[argv.index("hookstream.cli") + 1 :] if w]
        roles = words[words.index("--roles") : words.index("--roles") + 2] if "--roles" in words else []
        return " ".join(["hookstream", *words[:1], *roles])
    comm = (_read(f"/proc/{pid}/comm") or "?").strip()
    return "kafka broker (java)" if comm == "java" else comm


def parents() -> dict[int, int]:
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = stat[0]
    return found


def with_descendants(roots: Iterable[int], parent_of: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for pid, ppid in parent_of.items():
        children[ppid].append(pid)
    seen: set[int] = set()
    todo = [pid for pid in roots if pid in parent_of]
    while todo:
        pid = todo.pop()
        if pid not in seen:
            seen.add(pid)
            todo.extend(children[pid])
    return seen


def host_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (not idle, not waiting on I/O) since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) * TICK_S


@dataclass
class Mark:
    """Cumulative CPU per pid and of the host at one instant: two marks give CPU used in between."""

    at: float
    host_s: float
    cpu_s: dict[int, float]


@dataclass
class Sampler:
    """Samples ``groups`` (name -> function giving its root pids) every ``interval`` in a thread.

    ``peak`` keeps, per (group, label), the largest RSS and PSS summed over that label's processes at one
    sample, and how many processes carried the label then.
    """

    groups: dict[str, Callable[[], Iterable[int]]]
    alone: dict[int, tuple[str, str]] = field(default_factory=dict)  # pid -> (group, label), children not followed
    interval: float = 0.5
    peak: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    _labels: dict[int, tuple[str, str]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def members(self) -> dict[int, tuple[str, str]]:
        parent_of = parents()
        found = {pid: key for pid, key in self.alone.items() if pid in parent_of}
        for group, roots in self.groups.items():
            for pid in with_descendants(roots(), parent_of):
                found.setdefault(pid, self._labels.get(pid) or (group, label(pid)))
        return found

    def sample(self) -> None:
        members = self.members()
        self._labels.update(members)
        totals: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: {"rss_mb": 0.0, "pss_mb": 0.0, "n": 0})
        for pid, key in members.items():
            stat = _stat(pid)
            if stat is not None:
                totals[key]["rss_mb"] += stat[2]
                totals[key]["pss_mb"] += pss_mb(pid)
                totals[key]["n"] += 1
        for key, now in totals.items():
            best = self.peak.setdefault(key, {"rss_mb": 0.0, "pss_mb": 0.0, "n": 0})
            for name in now:
                best[name] = max(best[name], now[name])

    def mark(self) -> Mark:
        members = self.members()
        self._labels.update(members)
        cpu = {pid: stat[1] for pid in members if (stat := _stat(pid)) is not None}
        return Mark(time.monotonic(), host_busy_s(), cpu)

    def cpu_cores(self, start: Mark, end: Mark) -> tuple[dict[tuple[str, str], float], float]:
        """Average cores per (group, label) between two marks, and the host's busy cores over the same time.

        A process that started after ``start`` counts from zero; one that ended before ``end`` is lost
        (short-lived helpers only: the systems' processes live through a run).
        """
        wall = end.at - start.at
        used: dict[tuple[str, str], float] = defaultdict(float)
        for pid, seconds in end.cpu_s.items():
            if pid in self._labels:
                used[self._labels[pid]] += (seconds - start.cpu_s.get(pid, 0.0)) / wall
        return dict(used), (end.host_s - start.host_s) / wall

    def __enter__(self) -> Sampler:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.sample()

        self.sample()
        self._thread = threading.Thread(target=loop, name="sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
