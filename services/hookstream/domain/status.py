"""Delivery status as a fold over attempt records: per message x endpoint, and per message.

The status processor keeps one :class:`MessageState` per message (the
attempts topic is keyed by message, so one partition sees all of a message's
attempts) and folds each ``AttemptFinished`` into it with
:func:`fold_attempt`. Everything is a function of the attempts alone, event
times included (no clock), so replaying the topic rebuilds the same states,
versions and records. The fold tolerates what at-least-once delivery does: a
repeated attempt (same attempt id) changes nothing, and an old attempt
arriving late does not overwrite a newer one.

Status of a pair: ``success`` when its latest attempt succeeded; ``sending``
when it failed and a scheduled retry is pending; ``fail`` when it failed and
no retry is left (the schedule is exhausted, or a manual attempt failed);
``pending`` is never produced here (no attempt yet means no record).

A task the delivery worker dropped because its endpoint was disabled or
deleted (``DeliverySkipped`` on the same topic, :class:`SkipFacts`) is no
attempt, but it is the end of the pair's scheduled deliveries: folded with
:func:`fold_skip`, a pair that was ``sending`` becomes ``fail`` (Svix has
no separate status for it), and no operational event is raised (the
endpoint's own ``endpoint.disabled`` said why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from hookstream.domain.schedule import parse_duration

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DeliveryStatus(StrEnum):
    SUCCESS = "success"
    PENDING = "pending"
    FAIL = "fail"
    SENDING = "sending"


class Signal(StrEnum):
    """Pair transitions that become operational events (the values are Svix's event types)."""

    FAILING = "message.attempt.failing"
    EXHAUSTED = "message.attempt.exhausted"
    RECOVERED = "message.attempt.recovered"


def to_us(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class AttemptFacts:
    """What the status and health folds read of one ``AttemptFinished`` record."""

    attempt_id: str
    app_id: str
    msg_id: str
    endpoint_id: str
    attempt_number: int
    manual: bool
    success: bool
    response_status: int
    started_us: int
    finished_us: int
    next_attempt_us: int | None
    total_us: int = 0
    event_type: str = ""
    event_id: str | None = None
    channels: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FACT_FIELDS}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AttemptFacts:
        return cls(**(dict(data) | {"channels": tuple(data["channels"])}))

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> AttemptFacts:
        next_at = record.get("next_attempt_at")
        return cls(
            attempt_id=record["attempt_id"], app_id=record["app_id"], msg_id=record["msg_id"],
            endpoint_id=record["endpoint_id"], attempt_number=record["attempt_number"],
            manual=record["trigger"] == "manual", success=record["status"] == "success",
            response_status=record.get("response_status") or 0, started_us=to_us(record["started_at"]),
            finished_us=to_us(record["finished_at"]), next_attempt_us=to_us(next_at) if next_at else None,
            total_us=record.get("total_us") or 0, event_type=record.get("event_type", ""),
            event_id=record.get("event_id"), channels=tuple(record.get("channels") or ()),
        )  # fmt: skip


_FACT_FIELDS = tuple(f.name for f in fields(AttemptFacts))


@dataclass(frozen=True, slots=True)
class SkipFacts:
    """What the status fold reads of one ``DeliverySkipped`` record."""

    skip_id: str
    app_id: str
    msg_id: str
    endpoint_id: str
    attempt_number: int
    manual: bool
    skipped_us: int
    event_type: str = ""
    event_id: str | None = None
    channels: tuple[str, ...] = ()

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> SkipFacts:
        return cls(
            skip_id=record["skip_id"], app_id=record["app_id"], msg_id=record["msg_id"],
            endpoint_id=record["endpoint_id"], attempt_number=record["attempt_number"],
            manual=record["trigger"] == "manual", skipped_us=to_us(record["skipped_at"]),
            event_type=record.get("event_type", ""), event_id=record.get("event_id"),
            channels=tuple(record.get("channels") or ()),
        )  # fmt: skip


def skip_record(task: Mapping[str, Any], skip_id: str, reason: str, at: datetime) -> dict[str, Any]:
    """The ``DeliverySkipped`` record of a dropped ``DeliveryTask``."""
    copied = ("msg_id", "app_id", "endpoint_id", "event_type", "event_id", "attempt_number", "trigger", "due_at")
    return {name: task.get(name) for name in copied} | {
        "channels": list(task.get("channels") or ()), "trigger_seq": task.get("trigger_seq", 0),
        "skip_id": skip_id, "reason": reason, "skipped_at": at,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class PairState:
    """One message at one endpoint. ``attempts`` are the ids folded in so far (dedupe, count, version)."""

    endpoint_id: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: tuple[str, ...] = ()
    last_attempt_id: str | None = None
    last_started_us: int | None = None
    last_response_status: int | None = None
    last_success: bool = False
    scheduled_number: int = 0  # highest scheduled attempt number seen
    scheduled_next_us: int | None = None  # the retry it asked for, if it failed with one
    failures: int = 0  # failed attempts since the last success
    failing_sent: bool = False
    exhausted_sent: bool = False
    updated_us: int = 0
    signals_of: str | None = None  # the latest attempt that raised signals...
    signals: tuple[Signal, ...] = ()  # ...and which, so a replay of it raises them again
    skipped: tuple[str, ...] = ()  # tasks dropped unattempted (DeliverySkipped), by the attempt id they would have had

    @property
    def version(self) -> int:
        return len(self.attempts) + len(self.skipped)

    @property
    def next_attempt_us(self) -> int | None:
        return None if self.status is DeliveryStatus.SUCCESS else self.scheduled_next_us


_PAIR_FIELDS = tuple(f.name for f in fields(PairState))


@dataclass(frozen=True, slots=True)
class MessageState:
    msg_id: str
    app_id: str
    event_type: str = ""
    event_id: str | None = None
    channels: tuple[str, ...] = ()
    pairs: Mapping[str, PairState] = field(default_factory=dict)

    @property
    def status(self) -> DeliveryStatus:
        statuses = {pair.status for pair in self.pairs.values()}
        for status in (DeliveryStatus.SENDING, DeliveryStatus.PENDING, DeliveryStatus.FAIL):
            if status in statuses:
                return status
        return DeliveryStatus.SUCCESS

    @property
    def version(self) -> int:
        return sum(pair.version for pair in self.pairs.values())

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict (the status processor's table value); by hand, as ``asdict`` is 10x slower."""
        pairs = {key: {f: getattr(pair, f) for f in _PAIR_FIELDS} for key, pair in self.pairs.items()}
        return {"msg_id": self.msg_id, "app_id": self.app_id, "event_type": self.event_type,
                "event_id": self.event_id, "channels": self.channels, "pairs": pairs}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessageState:
        pairs = {key: _pair_from_json(value) for key, value in data["pairs"].items()}
        return cls(**(dict(data) | {"channels": tuple(data["channels"]), "pairs": pairs}))


def _pair_from_json(value: Mapping[str, Any]) -> PairState:
    signals = tuple(Signal(signal) for signal in value.get("signals", ()))
    typed = {"status": DeliveryStatus(value["status"]), "attempts": tuple(value["attempts"]), "signals": signals,
             "skipped": tuple(value.get("skipped", ()))}  # fmt: skip
    return PairState(**(dict(value) | typed))


@dataclass(frozen=True, slots=True)
class Folded:
    """``changed`` False: the attempt was folded in before. Its records and signals are returned again all
    the same: a crash can lose what was sent after the state (a table) was saved, and a replay must make up
    for it; the repeats are identical records and events with the same ids."""

    message: MessageState
    pair: PairState
    signals: tuple[Signal, ...] = ()
    changed: bool = True


def fold_attempt(message: MessageState | None, facts: AttemptFacts, failing_after: int) -> Folded:
    """Fold one attempt into its message's state; ``failing_after`` failures send ``message.attempt.failing``."""
    if message is None:
        message = MessageState(facts.msg_id, facts.app_id, facts.event_type, facts.event_id, facts.channels)
    pair = message.pairs.get(facts.endpoint_id) or PairState(facts.endpoint_id)
    if facts.attempt_id in pair.attempts:
        return Folded(message, pair, pair.signals if pair.signals_of == facts.attempt_id else (), changed=False)
    pair, signals = _fold_pair(pair, facts, failing_after)
    if signals:
        pair = replace(pair, signals_of=facts.attempt_id, signals=signals)
    return Folded(replace(message, pairs={**message.pairs, facts.endpoint_id: pair}), pair, signals)


def _fold_pair(pair: PairState, facts: AttemptFacts, failing_after: int) -> tuple[PairState, tuple[Signal, ...]]:
    changes: dict[str, Any] = {"attempts": (*pair.attempts, facts.attempt_id)}
    changes["updated_us"] = max(pair.updated_us, facts.finished_us)
    if pair.last_started_us is None or facts.started_us >= pair.last_started_us:
        changes |= {"last_attempt_id": facts.attempt_id, "last_started_us": facts.started_us,
                    "last_response_status": facts.response_status, "last_success": facts.success}  # fmt: skip
    newest_scheduled = not facts.manual and facts.attempt_number >= pair.scheduled_number
    if newest_scheduled:
        next_us = None if facts.success else facts.next_attempt_us
        changes |= {"scheduled_number": facts.attempt_number, "scheduled_next_us": next_us}
    signals: list[Signal] = []
    if facts.success:
        changes["failures"] = 0
        if pair.failing_sent or pair.exhausted_sent:
            signals.append(Signal.RECOVERED)
            changes |= {"failing_sent": False, "exhausted_sent": False}
    else:
        changes["failures"] = pair.failures + 1
        if changes["failures"] >= failing_after and not pair.failing_sent:
            signals.append(Signal.FAILING)
            changes["failing_sent"] = True
        if newest_scheduled and facts.next_attempt_us is None and not pair.exhausted_sent:
            signals.append(Signal.EXHAUSTED)
            changes["exhausted_sent"] = True
    return _with_status(replace(pair, **changes)), tuple(signals)


def _with_status(pair: PairState) -> PairState:
    if pair.last_success:
        status = DeliveryStatus.SUCCESS
    elif pair.scheduled_next_us is not None:
        status = DeliveryStatus.SENDING
    else:
        status = DeliveryStatus.FAIL
    return replace(pair, status=status)


def fold_skip(message: MessageState | None, facts: SkipFacts) -> Folded:
    """Fold a dropped task: the scheduled delivery it stood for ends there (a repeat changes nothing)."""
    if message is None:
        message = MessageState(facts.msg_id, facts.app_id, facts.event_type, facts.event_id, facts.channels)
    pair = message.pairs.get(facts.endpoint_id) or PairState(facts.endpoint_id)
    if facts.skip_id in pair.skipped or facts.skip_id in pair.attempts:
        return Folded(message, pair, changed=False)
    changes: dict[str, Any] = {"skipped": (*pair.skipped, facts.skip_id),
                               "updated_us": max(pair.updated_us, facts.skipped_us)}  # fmt: skip
    if not facts.manual and facts.attempt_number >= pair.scheduled_number:
        changes |= {"scheduled_number": facts.attempt_number, "scheduled_next_us": None}
    pair = _with_status(replace(pair, **changes))
    return Folded(replace(message, pairs={**message.pairs, facts.endpoint_id: pair}), pair)


def pair_record(message: MessageState, pair: PairState) -> dict[str, Any]:
    """The ``MessageEndpointStatus`` record of one pair."""
    return {
        "msg_id": message.msg_id,
        "app_id": message.app_id,
        "endpoint_id": pair.endpoint_id,
        "event_type": message.event_type,
        "event_id": message.event_id,
        "channels": list(message.channels),
        "status": pair.status.value,
        "attempt_count": len(pair.attempts),
        "last_attempt_id": pair.last_attempt_id,
        "last_attempt_at": from_us(pair.last_started_us),
        "last_response_status": pair.last_response_status,
        "next_attempt_at": from_us(pair.next_attempt_us),
        "version": pair.version,
        "updated_at": from_us(pair.updated_us),
    }


def message_record(message: MessageState) -> dict[str, Any]:
    """The ``MessageStatus`` record: the message across all the endpoints it was attempted at."""
    pairs = list(message.pairs.values())
    latest = max(pairs, key=lambda p: p.last_started_us or 0)
    upcoming = [p.next_attempt_us for p in pairs if p.next_attempt_us is not None]
    return {
        "msg_id": message.msg_id,
        "app_id": message.app_id,
        "status": message.status.value,
        "attempt_count": sum(len(p.attempts) for p in pairs),
        "last_attempt_id": latest.last_attempt_id,
        "last_attempt_at": from_us(latest.last_started_us),
        "next_attempt_at": from_us(min(upcoming)) if upcoming else None,
        "endpoint_count": len(pairs),
        "succeeded_endpoints": sum(p.status is DeliveryStatus.SUCCESS for p in pairs),
        "failed_endpoints": sum(p.status is DeliveryStatus.FAIL for p in pairs),
        "version": message.version,
        "updated_at": from_us(max(p.updated_us for p in pairs)),
    }


# Pruning: a message whose every pair is final (``success`` or ``fail``) and has not changed for the
# retention is forgotten (table entry deleted, tombstones on ``status``). Only this decision reads a clock,
# and it is passed in; the folds above stay clock-free.
FINAL = frozenset({DeliveryStatus.SUCCESS, DeliveryStatus.FAIL})


def settled_us(message: MessageState) -> int | None:
    """When the message last changed or was due to (a scheduled retry counts); None while a pair is not final."""
    if not message.pairs or any(pair.status not in FINAL for pair in message.pairs.values()):
        return None
    return max(max(pair.updated_us, pair.scheduled_next_us or 0) for pair in message.pairs.values())


def prunable(message: MessageState, now_us: int, retention_us: int) -> bool:
    """Whether the message's status may be forgotten at ``now_us``: final everywhere and unchanged for the retention.

    A message pruned and then attempted again (a manual resend, a recover) starts a fresh state from that
    attempt alone, which is not prunable until it is final and old in turn.
    """
    settled = settled_us(message)
    return settled is not None and settled + retention_us <= now_us


def status_retention_s(status_retention: str, payload_retention_days: int) -> float:
    """The status retention in seconds: ``status_retention`` (a duration), or empty for the payload retention."""
    if not status_retention.strip():
        return payload_retention_days * 86400.0
    try:
        seconds = parse_duration(status_retention.strip())
    except ValueError as exc:
        raise ValueError(f"HOOKSTREAM_STATUS_RETENTION: {exc}") from exc
    if seconds < 1:
        raise ValueError(f"HOOKSTREAM_STATUS_RETENTION must be at least 1s, got {status_retention!r}")
    return seconds
