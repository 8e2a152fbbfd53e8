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
INTAKE = "intake"
"""What upstream systems emit (CloudEvents, Debezium outbox records, plain JSON MessageIn): the intake role turns
each record into a MessageAccepted on ``messages`` or dead-letters it (README, "Intake")."""
IDEMPOTENCY = "idempotency"
"""IdempotentResponse records: the first answer to each keyed POST, forgotten by Kafka after the window."""
BACKGROUND_TASKS = "background-tasks"
"""BackgroundTaskState records (an endpoint recover's progress), the latest per task, forgotten after 90 days; and
TokenRevoked records (logged-out application tokens), which every API process follows too."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    compacted: bool = False
    retention_ms: int | None = None
    """For a compacted topic: also delete records older than this (``compact,delete``)."""
    max_message_bytes: int | None = None
    """The largest record the topic takes (``max.message.bytes``); None: the broker's default."""

    @property
    def config(self) -> dict[str, str]:
        config = self._cleanup()
        if self.max_message_bytes is not None:
            config["max.message.bytes"] = str(self.max_message_bytes)
        return config

    def _cleanup(self) -> dict[str, str]:
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


def dead_letter_max_bytes(settings: Settings) -> int:
    """Room for the largest intake record and the dead letter's own fields around it."""
    return settings.intake_max_record_bytes + 65536


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
        TopicSpec(names(INTAKE), p, max_message_bytes=settings.intake_max_record_bytes),
        # A dead letter holds an intake record whole, plus where it came from and why.
        TopicSpec(names(DEAD_LETTER), 1, max_message_bytes=dead_letter_max_bytes(settings)),
        TopicSpec(names(IDEMPOTENCY), p, compacted=True, retention_ms=idempotency_retention_ms(settings)),
        TopicSpec(names(BACKGROUND_TASKS), p, compacted=True, retention_ms=RETENTION_DAYS * 24 * 3600 * 1000),
    ]
    return specs
