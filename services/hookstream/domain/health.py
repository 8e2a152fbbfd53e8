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


@dataclass(frozen=True, slots=True)
class EndpointHealth:
    consecutive_failures: int = 0
    failing_since_us: int | None = None
    last_success_us: int | None = None
    last_failure_us: int | None = None
    disabled_at_us: int | None = None  # when this run of failures got the endpoint disabled
    disabled_by: str | None = None  # the attempt that showed it
    recent: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EndpointHealth:
        return cls(**(data | {"recent": tuple(data.get("recent", ()))}))


@dataclass(frozen=True, slots=True)
class HealthStep:
    health: EndpointHealth
    disable: bool = False  # this attempt crossed the window: disable the endpoint now


def fold_health(health: EndpointHealth | None, facts: AttemptFacts, disable_after_us: int) -> HealthStep:
    health = health or EndpointHealth()
    if facts.attempt_id in health.recent:
        return HealthStep(health, disable=health.disabled_by == facts.attempt_id)
    health = replace(health, recent=(*health.recent, facts.attempt_id)[-RECENT:])
    at = facts.started_us
    if facts.success:
        changes: dict[str, Any] = {"last_success_us": max(at, health.last_success_us or at)}
        if health.failing_since_us is not None and at >= health.failing_since_us:
            changes |= {
                "consecutive_failures": 0,
                "failing_since_us": None,
                "disabled_at_us": None,
                "disabled_by": None,
            }
        return HealthStep(replace(health, **changes))
    if health.last_success_us is not None and at < health.last_success_us:
        return HealthStep(health)
    if health.disabled_at_us is not None and at > health.disabled_at_us:
        health = replace(health, consecutive_failures=0, failing_since_us=None, disabled_at_us=None, disabled_by=None)
    since = at if health.failing_since_us is None else min(at, health.failing_since_us)
    health = replace(
        health,
        consecutive_failures=health.consecutive_failures + 1,
        failing_since_us=since,
        last_failure_us=max(at, health.last_failure_us or at),
    )
    if health.disabled_at_us is None and at - since >= disable_after_us:
        disabled = replace(health, disabled_at_us=facts.finished_us, disabled_by=facts.attempt_id)
        return HealthStep(disabled, disable=True)
    return HealthStep(health)
