"""Accepting a message: the one sequence every dialect that takes messages calls.

A repeated ``eventId`` within the dedupe window is a duplicate. The id is
reserved in this process's recent writes *before* anything is awaited, so a
concurrent twin arriving while ClickHouse is asked or the broker acknowledges
sees the reservation and is told it is a duplicate; a failed write releases
it. The router dedupes again on the log, so two API processes racing on one
``eventId`` still deliver once. Dialects only shape the answer.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hookstream.api.context import ApiContext
from hookstream.domain.message_in import PayloadTooLarge, compact_payload
from hookstream.domain.schedule import parse_duration
from hookstream.query.messages import get_message_by_event_id

__all__ = ["PayloadTooLarge", "accept_message", "encode_payload"]


def encode_payload(ctx: ApiContext, payload: Any) -> bytes:
    """The stored form of a payload within the API's cap (``PayloadTooLarge`` over it)."""
    return compact_payload(payload, ctx.settings.api_max_payload_bytes)


async def accept_message(ctx: ApiContext, record: dict[str, Any]) -> bool:
    """Put the MessageAccepted on ``messages``; False, and nothing written, when its eventId is a duplicate."""
    event_id = record["event_id"]
    if event_id is None:
        await ctx.commands.message(record)
        ctx.recent.add_message(record)
        return True
    app_id = uuid.UUID(record["app_id"])
    if ctx.recent.message_by_event_id(app_id, event_id) is not None:
        return False
    ctx.recent.add_message(record)  # the reservation: no await may come before this line
    try:
        if await _stored_within_window(ctx, app_id, event_id):
            ctx.recent.forget_message(record)
            return False
        await ctx.commands.message(record)
    except BaseException:
        ctx.recent.forget_message(record)
        raise
    return True


async def _stored_within_window(ctx: ApiContext, app_id: uuid.UUID, event_id: str) -> bool:
    """Whether an earlier message with this eventId was projected within the dedupe window."""
    window = datetime.now(UTC).timestamp() - parse_duration(ctx.settings.dedupe_window)
    since = datetime.fromtimestamp(window, UTC)
    return await get_message_by_event_id(ctx.clickhouse, app_id, event_id, since=since, with_content=False) is not None
