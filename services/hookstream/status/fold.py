"""The ``statuses`` agent: each attempt (or skip) on ``attempts`` folded into its message's state.

The fold is pure (:func:`~hookstream.domain.status.fold_attempt`) and reads the
attempt's facts from its outcome header when it has one (decoding the value
only when not: :mod:`hookstream.domain.outcome`); the agent
writes the pair's and the message's status records, the operational signals,
and the attempt's facts keyed by endpoint for the health agent. After each
fold it applies the prune rule too: an attempt replayed after its message was
pruned (a crash before the commit) makes a state that is prunable at once, so
it is forgotten again instead of resurrected.
"""

from __future__ import annotations

import json
import logging

import faust

from hookstream.domain.operational import message_event
from hookstream.domain.outcome import OUTCOME_HEADER, MalformedOutcome, facts_of_header
from hookstream.domain.status import AttemptFacts, MessageState, SkipFacts, fold_attempt, fold_skip, prunable
from hookstream.log.codec import UndecodableRecord, UnexpectedType
from hookstream.log.streams import dead_letter_of, decode_event, event_header
from hookstream.status.context import StatusContext, now_us

log = logging.getLogger("hookstream.status")


def register_fold(ctx: StatusContext, failing_after: int) -> None:
    """Register the ``statuses`` agent; ``failing_after`` is the fold's ``status_failing_after`` setting."""

    @ctx.app.agent(ctx.topics.attempts, name="statuses")
    async def statuses(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            facts = await facts_of(ctx, event)
            if facts is None:
                continue
            stored = ctx.messages.get(facts.msg_id)
            state = MessageState.from_json(stored) if stored else None
            if isinstance(facts, SkipFacts):
                folded = fold_skip(state, facts)
            else:
                folded = fold_attempt(state, facts, failing_after)
            if prunable(folded.message, now_us(), ctx.retention_us):
                # Only an event older than the retention gets here (a replay after the message was pruned):
                # forget the message again rather than bring back a partial state.
                await ctx.forget(facts.msg_id, folded.message.pairs, stored is not None)
                continue
            if folded.changed:
                ctx.messages[facts.msg_id] = folded.message.as_json()
            await ctx.write_status(folded)
            if isinstance(facts, SkipFacts):
                continue
            for signal in folded.signals:
                await ctx.emit(message_event(signal, facts))
            value = json.dumps(facts.as_json()).encode()
            await ctx.topics.endpoint_attempts.send(key=facts.endpoint_id.encode(), value=value)


async def facts_of(ctx: StatusContext, event: faust.EventT) -> AttemptFacts | SkipFacts | None:
    """The event's facts, or ``None`` once an undecodable or unexpected record is dead-lettered.

    Read from the outcome header when the record has a well-formed one (no decoding), else from the value.
    """
    header = event_header(event, OUTCOME_HEADER)
    if header is not None:
        try:
            return facts_of_header(header)
        except MalformedOutcome as error:
            log.warning("status: %s; decoding the value instead", error)
    try:
        name, record = decode_event(ctx.codec, event)
        if name == "DeliverySkipped":
            return SkipFacts.of(record)
        if name != "AttemptFinished":
            raise UnexpectedType(f"expected AttemptFinished on the attempts topic, got {name}")
    except UndecodableRecord as error:
        log.error("status: undecodable attempt dead-lettered: %s", error.reason)
        letter = dead_letter_of(event, error, ctx.app.conf.id)
        await ctx.topics.dead_letters.send(key=event.message.key, value=ctx.codec.encode("DeadLetter", letter))
        return None
    return AttemptFacts.of(record)
