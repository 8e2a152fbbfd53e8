"""The topic catalogue: every topic of the design, named under the namespace."""

from __future__ import annotations

from dataclasses import dataclass

from hookstream.domain.background import RETENTION_DAYS
from hookstream.domain.schedule import delay_tiers, parse_duration, parse_schedule, tier_name
from hookstream.foundation.settings import Settings

CONFIG = "config"
MESSAGES = "messages"
TASKS = "tasks"
ATTEMPTS = "attempts"
STATUS = "status"
COMMANDS = "commands"
DEAD_LETTER = "deadletter"
OPERATIONAL = "operational"
"""OperationalEvent records (``message.attempt.*``, ``endpoint.disabled``) for operational webhooks."""
IDEMPOTENCY = "idempotency"
"""IdempotentResponse records: the first answer to each keyed POST, forgotten by Kafka after the window."""
BACKGROUND_TASKS = "background-tasks"
"""BackgroundTaskState records (an endpoint recover's progress), the latest per task, forgotten after 90 days."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    retention_ms: int | None = None
    """For a compacted topic: also delete records older than this (``compact,delete``)."""

    @property
    def config(self) -> dict[str, str]:
        if self.compacted:
            # Compacted topics are views of the latest state per key: keep one
            # record per key, clean often enough that a rebuild stays short.
            config = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1", "segment.ms": "3600000"}
            if self.retention_ms is not None:
                # Retention deletes whole segments: roll them at least once per retention period.
                segment_ms = min(3600000, self.retention_ms)
                config.update({"cleanup.policy": "compact,delete", "retention.ms": str(self.retention_ms),
                               "segment.ms": str(segment_ms)})  # fmt: skip
            return config
        return {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}


class TopicNames:
    """Full topic names of one deployment; the namespace is applied here only."""

    def __init__(self, namespace: str, retry_schedule: str) -> None:
        self.namespace = namespace
        self.tiers = delay_tiers(parse_schedule(retry_schedule))

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        """The deployment's names: its namespace, and one delay tier per distinct delay of its retry schedule."""
        return cls(settings.topic_namespace, settings.retry_schedule)

    def __call__(self, short: str) -> str:
        return f"{self.namespace}{short}"

    def retry_tier(self, delay_s: float) -> str:
        return self(retry_topic(delay_s))


def retry_topic(delay_s: float) -> str:
    """The short name of the delay tier holding tasks due ``delay_s`` after their attempt."""
    return f"retry.{tier_name(delay_s)}"


def idempotency_retention_ms(settings: Settings) -> int:
    return max(1, round(parse_duration(settings.api_idempotency_window) * 1000))


def catalogue(settings: Settings) -> list[TopicSpec]:
    names = TopicNames.from_settings(settings)
    p = settings.topic_partitions
    specs = [
        TopicSpec(names(CONFIG), 1, compacted=True),
        TopicSpec(names(MESSAGES), p),
        TopicSpec(names(TASKS), p),
        *(TopicSpec(names.retry_tier(delay), p) for delay in names.tiers),
        TopicSpec(names(ATTEMPTS), p),
        TopicSpec(names(STATUS), p, compacted=True),
        TopicSpec(names(COMMANDS), p),
        TopicSpec(names(OPERATIONAL), p),
        TopicSpec(names(DEAD_LETTER), 1),
        TopicSpec(names(IDEMPOTENCY), p, compacted=True, retention_ms=idempotency_retention_ms(settings)),
        TopicSpec(names(BACKGROUND_TASKS), p, compacted=True, retention_ms=RETENTION_DAYS * 24 * 3600 * 1000),
    ]
    return specs
