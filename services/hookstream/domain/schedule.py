"""The retry schedule as data: delays before each attempt, and their delay tiers.

Each distinct non-zero delay gets one delay-tier topic (``retry.5s``,
``retry.30m``...). Every record in a tier waits the same time, so records fall
due in offset order and the tier consumer only waits on its head.
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


class InvalidSchedule(ValueError):
    """A schedule or duration that cannot be read; the message names the bad part."""


def parse_duration(text: str) -> float:
    """Seconds in ``"5s"``, ``"30m"``, ``"2h"``, ``"250ms"``, ``"1d"``."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidSchedule(f"{text!r} is not a duration: write a number and a unit of ms, s, m, h, d (e.g. 5m)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_schedule(text: str) -> tuple[float, ...]:
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise InvalidSchedule("the retry schedule is empty: give at least the first attempt's delay (e.g. 0s)")
    return tuple(parse_duration(part) for part in parts)


def tier_name(delay_s: float) -> str:
    """The largest whole unit that expresses the delay exactly: 300 -> ``5m``."""
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if delay_s >= factor and delay_s % factor == 0:
            return f"{int(delay_s // factor)}{unit}"
    return f"{round(delay_s * 1000)}ms"


def delay_tiers(schedule: tuple[float, ...]) -> tuple[float, ...]:
    """Distinct non-zero delays, shortest first."""
    return tuple(sorted({delay for delay in schedule if delay > 0}))
