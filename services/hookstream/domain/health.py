"""Endpoint health as a fold over its attempts: a run of failures, and when it gets the endpoint disabled.

An endpoint that has done nothing but fail for ``disable_after`` (Svix: 5
days) is disabled. The run starts at the first failure after the last
success and ends with the next success. Attempts of one endpoint come from
every partition of the attempts topic, so they may arrive slightly out of
order: times are the attempts' own (``started_at``), a success only ends a
run that began before it, and a failure older than the last success is
ignored. Once the endpoint is disabled, a failure that starts after that
moment (the endpoint was enabled again and still fails) begins a new run
instead of disabling it again at once.

Svix's nuance (docs.svix.com/retries): "the clock only starts after
multiple deliveries failed within a 24 hour span, with at least 12 hours
difference between the first and the last failure". A run of failures is
therefore only *eligible* for disabling once it holds two failures at least
``min_span`` apart and at most ``within`` apart (:class:`DisableRule`); the
window is then counted from the earlier of the two, so a failing endpoint is
still disabled 5 days after it began failing, but a short burst of failures,
or failures days apart with nothing between, never starts the clock. The
failure times of the last ``within`` are kept as the earliest per
``within / BUCKETS`` (bounded state whatever the traffic; the span is judged
to within one bucket, an hour by default).

Repeated attempts (at-least-once) are recognised among the last
:data:`RECENT` attempt ids and not counted twice; the repeat of the attempt
that disabled the endpoint asks for the disable again, so a disable lost in
a crash is made up for by the replay (disabling is idempotent downstream).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from hookstream.domain.status import AttemptFacts

RECENT = 32
"""Attempt ids remembered per endpoint to recognise a repeat."""
BUCKETS = 24
"""Failure times kept per ``within`` (the earliest of each bucket)."""


@dataclass(frozen=True, slots=True)
class DisableRule:
    """Disable after ``after_us`` of only failures, counted from the first pair of failures at least
    ``min_span_us`` and at most ``within_us`` apart (``within_us`` None: from the run's first failure)."""

    after_us: int
    min_span_us: int = 0
    within_us: int | None = None


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    consecutive_failures: int = 0
    failing_since_us: int | None = None
    last_success_us: int | None = None
    last_failure_us: int | None = None
    disabled_at_us: int | None = None  # when this run of failures got the endpoint disabled
    disabled_by: str | None = None  # the attempt that showed it
    recent: tuple[str, ...] = ()
    clock_since_us: int | None = None  # the run became eligible: the window counts from here
    failure_times: tuple[int, ...] = ()  # earliest failure per bucket of the last `within` (before eligible)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointHealth:
        return cls(**(data | {"recent": tuple(data.get("recent", ())),
                              "failure_times": tuple(data.get("failure_times", ()))}))  # fmt: skip


@dataclass(frozen=True, slots=True)
class HealthStep:
    health: EndpointHealth
    disable: bool = False  # this attempt crossed the window: disable the endpoint now


_RUN_RESET: dict[str, Any] = {
    "consecutive_failures": 0, "failing_since_us": None, "disabled_at_us": None, "disabled_by": None,
    "clock_since_us": None, "failure_times": (),
}  # fmt: skip


def _clock(health: EndpointHealth, at: int, rule: DisableRule) -> dict[str, Any]:
    """Once the run holds two failures ``min_span`` to ``within`` apart, where the window's clock starts."""
    if health.clock_since_us is not None:
        return {}
    if rule.within_us is None:
        return {"clock_since_us": health.failing_since_us}
    horizon = at - rule.within_us
    times = [t for t in health.failure_times if t >= horizon]
    if times and max(*times, at) - min(*times, at) >= rule.min_span_us:
        return {"clock_since_us": min(*times, at), "failure_times": ()}
    bucket = max(1, rule.within_us // BUCKETS)
    earliest: dict[int, int] = {}
    for t in (*times, at):
        earliest[t // bucket] = min(t, earliest.get(t // bucket, t))
    return {"failure_times": tuple(sorted(earliest.values()))}


def fold_health(health: EndpointHealth | None, facts: AttemptFacts, rule: DisableRule) -> HealthStep:
    health = health or EndpointHealth()
    if facts.attempt_id in health.recent:
        return HealthStep(health, disable=health.disabled_by == facts.attempt_id)
    health = replace(health, recent=(*health.recent, facts.attempt_id)[-RECENT:])
    at = facts.started_us
    if facts.success:
        changes: dict[str, Any] = {"last_success_us": max(at, health.last_success_us or at)}
        if health.failing_since_us is not None and at >= health.failing_since_us:
            changes |= _RUN_RESET
        return HealthStep(replace(health, **changes))
    if health.last_success_us is not None and at < health.last_success_us:
        return HealthStep(health)
    if health.disabled_at_us is not None and at > health.disabled_at_us:
        health = replace(health, **_RUN_RESET)
    since = at if health.failing_since_us is None else min(at, health.failing_since_us)
    health = replace(
        health,
        consecutive_failures=health.consecutive_failures + 1,
        failing_since_us=since,
        last_failure_us=max(at, health.last_failure_us or at),
    )
    health = replace(health, **_clock(health, at, rule))
    clock = health.clock_since_us
    if health.disabled_at_us is None and clock is not None and at - clock >= rule.after_us:
        disabled = replace(health, disabled_at_us=facts.finished_us, disabled_by=facts.attempt_id)
        return HealthStep(disabled, disable=True)
    return HealthStep(health)
