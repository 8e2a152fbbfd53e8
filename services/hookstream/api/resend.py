"""A manual delivery attempt from the API, shared by every dialect (Svix ``resend``, Outpost ``retry``).

The task itself is ``domain.manual.manual_task``; here the pair's next trigger
sequence is found (recorded in ClickHouse, or handed out by this process a
moment ago) and the task is put on ``tasks``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from hookstream.api.context import ApiContext
from hookstream.domain.manual import manual_task
from hookstream.query.attempts import last_trigger_seq


async def send_manual_task(ctx: ApiContext, app_id: uuid.UUID, endpoint_id: uuid.UUID, message: dict[str, Any]) -> None:
    """Put the task on ``tasks``; ``message`` is a MessageAccepted record or ``messages`` row with its payload."""
    msg_id = message["msg_id"] if isinstance(message["msg_id"], uuid.UUID) else uuid.UUID(message["msg_id"])
    recorded = await last_trigger_seq(ctx.clickhouse, app_id, msg_id, endpoint_id)
    seq = ctx.recent.next_trigger_seq(msg_id, endpoint_id, recorded)
    await ctx.commands.task(manual_task({**message, "app_id": app_id}, str(endpoint_id), seq, datetime.now(UTC)))
