"""The ``health`` agent: each endpoint's attempts folded into its health, and a failing endpoint disabled.

The attempt facts come keyed by endpoint on an internal topic the ``statuses``
agent writes; the fold is pure (:func:`~hookstream.domain.health.fold_health`)
and its state lives in a table keyed by endpoint id. An endpoint that only
failed for the whole window is disabled by an ``EndpointUpserted`` on
``config`` (the endpoint as the config view has it, ``disabled`` set, version
bumped) and an ``endpoint.disabled`` event; a repeat of the deciding attempt
finds it disabled already, so the disable is idempotent.
"""

from __future__ import annotations

import json
import logging
import uuid

import faust

from hookstream.domain.directory import endpoint_record
from hookstream.domain.health import DisableRule, EndpointHealth, fold_health
from hookstream.domain.operational import endpoint_disabled_event
from hookstream.domain.schedule import parse_duration
from hookstream.domain.status import AttemptFacts, from_us, to_us
from hookstream.foundation.settings import Settings
from hookstream.log.config_follower import ConfigFollower
from hookstream.status.context import StatusContext

log = logging.getLogger("hookstream.status")


def register_health(ctx: StatusContext, cache: ConfigFollower, rule: DisableRule) -> None:
    """Register the ``health`` agent and its table; ``cache`` is the config view the disable starts from."""
    endpoints = ctx.app.Table("endpoints", default=None)
    codec, config, emit = ctx.codec, ctx.topics.config, ctx.emit

    @ctx.app.agent(ctx.topics.endpoint_attempts, name="health")
    async def health(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            facts = AttemptFacts.from_json(json.loads(event.message.value))
            stored = endpoints.get(facts.endpoint_id)
            step = fold_health(EndpointHealth.from_json(stored) if stored else None, facts, rule)
            endpoints[facts.endpoint_id] = step.health.as_json()
            if step.disable and step.health.failing_since_us is not None:
                await disable(facts, step.health.failing_since_us)

    async def disable(facts: AttemptFacts, failing_since_us: int) -> None:
        """Disable the endpoint, unless it is gone, already disabled, or was changed after the attempt that
        decided it: a replay (a rebuild of the statuses) must not disable again an endpoint someone has
        enabled since."""
        endpoint_id = uuid.UUID(facts.endpoint_id)
        endpoint = cache.view.endpoints.get(endpoint_id)
        if endpoint is None:
            await cache.catch_up()
            endpoint = cache.view.endpoints.get(endpoint_id)
        if endpoint is None or endpoint.disabled:
            return
        if endpoint.updated_at is not None and to_us(endpoint.updated_at) > facts.finished_us:
            log.info("endpoint %s not disabled: changed after the attempt that decided it", endpoint_id)
            return
        changed_at = from_us(facts.finished_us)
        # The API writes endpoints too: when it took this version first the view keeps its record and drops
        # this one, so the disable is read back and applied again on top of what the view now holds (a later
        # version, a delete or a disabled endpoint mean nothing of this one was lost).
        for _ in range(DISABLE_TRIES):
            version = endpoint.version + 1
            stamp = max(changed_at, endpoint.updated_at or changed_at)  # never before what it replaces
            record = endpoint_record(endpoint, updated_at=stamp, disabled=True, version=version)
            await (await config.send(key=facts.endpoint_id.encode(), value=codec.encode("EndpointUpserted", record)))
            await cache.catch_up()
            held = cache.view.endpoints.get(endpoint_id)
            if held is None or held.disabled or held.version != version:
                break
            log.warning(
                "endpoint %s: disable lost version %d to another writer; applying it again", endpoint_id, version
            )
            endpoint = held
        application = cache.view.applications.get(endpoint.app_id)
        log.warning("endpoint %s disabled: only failures since %s", endpoint_id, from_us(failing_since_us))
        app_uid = application.uid if application else None
        await emit(endpoint_disabled_event(facts, failing_since_us, app_uid=app_uid, endpoint_uid=endpoint.uid))


DISABLE_TRIES = 5
"""Attempts of one disable when another writer keeps taking the version it needs."""


def disable_rule(settings: Settings) -> DisableRule:
    def us(text: str) -> int:
        return int(parse_duration(text) * 1_000_000)

    s = settings
    return DisableRule(us(s.endpoint_disable_after), us(s.endpoint_disable_min_span), us(s.endpoint_disable_within))
