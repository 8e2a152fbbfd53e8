"""The ``status`` role: attempts in; statuses, operational events and endpoint disables out.

A faust app whose parts each register their agents and share a
:class:`~hookstream.status.context.StatusContext`:

* :mod:`~hookstream.status.fold`: the ``statuses`` agent (on ``attempts``)
  folds each attempt into its message's state (a table keyed by message id,
  co-partitioned with ``attempts``) and writes the pair's
  ``MessageEndpointStatus`` and the ``MessageStatus`` to the compacted
  ``status`` topic, ``message.attempt.failing/exhausted/recovered`` to
  ``operational``, and the attempt's facts (JSON) to an internal topic keyed
  by endpoint.
* :mod:`~hookstream.status.health`: the ``health`` agent (on that internal
  topic) folds them into the endpoint's health (a table keyed by endpoint id)
  and disables an endpoint that only failed for the whole window.
* :mod:`~hookstream.status.prune`: a timer and the ``prune`` agent forget
  final statuses unchanged for ``status_retention``.

At-least-once: faust saves a table change and flushes what an event sent
before committing the event, but a crash in between can keep the one and
lose the other. So a repeated attempt (already in the state) sends its
records, signals and facts again: identical records, events with the same
ids, and an idempotent disable.

The folds are pure (:mod:`hookstream.domain.status`, :mod:`hookstream.domain.health`)
and read only the attempts, so a fresh app replaying the topic derives the
same records.
"""

from __future__ import annotations

import faust

from hookstream.domain.status import status_retention_s
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.streams import faust_app, raw_topic
from hookstream.log.topics import ATTEMPTS, CONFIG, DEAD_LETTER, OPERATIONAL, STATUS, TopicNames
from hookstream.status.context import StatusContext, StatusTopics
from hookstream.status.fold import register_fold
from hookstream.status.health import disable_rule, register_health
from hookstream.status.metrics import StatusMetrics
from hookstream.status.prune import register_prune

__all__ = ["StatusMetrics", "build_status_app"]


def build_status_app(
    settings: Settings, codec: AvroCodec, cache: ConfigFollower, metrics: StatusMetrics, *, name: str = "status"
) -> faust.App:
    """The faust app of the status processor; ``name`` (under the namespace) is its group and changelog prefix."""
    app = faust_app(settings, name)
    names = TopicNames.from_settings(settings)
    topics = StatusTopics(
        attempts=raw_topic(app, names(ATTEMPTS)),
        endpoint_attempts=raw_topic(app, f"{app.conf.id}-endpoint-attempts", internal=True),
        status=raw_topic(app, names(STATUS)),
        operational=raw_topic(app, names(OPERATIONAL)),
        config=raw_topic(app, names(CONFIG)),
        dead_letters=raw_topic(app, names(DEAD_LETTER)),
        prune_requests=raw_topic(app, f"{app.conf.id}-prune", internal=True),
    )
    retention_s = status_retention_s(settings.status_retention, settings.payload_retention_days)
    messages = app.Table("messages", default=None)
    ctx = StatusContext(app, codec, metrics, topics, messages, retention_us=int(retention_s * 1_000_000))
    register_fold(ctx, settings.status_failing_after)
    register_prune(ctx, retention_s)
    register_health(ctx, cache, disable_rule(settings))
    return app
