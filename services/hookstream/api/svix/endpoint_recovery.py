"""Svix endpoint recovery and statistics: resend the failed (or the missing) messages since a time, count them.

A recovery is a ``RecoverRequested`` command for the schedule role and a
background task (``qtask_``, the command's request id) whose state the API
writes as ``running`` before the command, so a GET right after the 202 finds
it; the schedule role writes its progress and its end
(``GET /api/v1/background-task/{task_id}``). A replay-missing is the same
command with ``selection`` ``missing`` (task ``endpoint.replay``): the
messages of the window never attempted at the endpoint that match its
filters. The statistics are read from ClickHouse.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hookstream.api.context import API_CONTEXT
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix.endpoints import MISSING, ONE, ONE_PATH, target
from hookstream.api.svix.errors import Invalid
from hookstream.api.svix.params import IDEMPOTENCY_KEY, SINCE, UNTIL
from hookstream.api.svix.schemas import RECOVER_IN, REPLAY_IN, ref
from hookstream.api.svix.shapes import iso
from hookstream.domain.background import FAILED, FAILED_MESSAGES, MISSING_MESSAGES, recover_started, task_svix_id
from hookstream.domain.ids import generate_id
from hookstream.query.analytics import default_window, endpoint_status_counts


def _body_time(body: Mapping[str, Any], name: str) -> datetime | None:
    """The schema says string, format date-time; a body's formats are checked here."""
    raw = body.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        reason = f"{name} must be an RFC 3339 date-time, got {raw!r}"
        raise Invalid(["body", name], reason, "type_error.datetime") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def recover(request: web.Request) -> web.Response:
    """Resend the endpoint's failed messages since ``since`` (until ``until``): a RecoverRequested command,
    fanned out into manual attempts by the schedule role (recovery/service.py), so a crash loses nothing."""
    return await _resend(request, RECOVER, FAILED_MESSAGES)


async def replay_missing(request: web.Request) -> web.Response:
    """Send the endpoint every message since ``since`` (until ``until``) never attempted there that its filters
    take: the same command as a recover, with the other selection."""
    return await _resend(request, REPLAY_MISSING, MISSING_MESSAGES)


async def _resend(request: web.Request, op: Operation, selection: str) -> web.Response:
    """202 with the background task (RecoverOut / ReplayOut), written before the command it stands for."""
    ctx = request.app[API_CONTEXT]
    path = read_params(request, op)
    body = await read_body(request, op)
    since = _body_time(body, "since")
    until = _body_time(body, "until")
    now = datetime.now(UTC)
    if since is not None and since > now:
        raise Invalid(["body", "since"], "since must not be in the future")
    if until is not None and since is not None and until <= since:
        raise Invalid(["body", "until"], "until must be after since")
    app_id, endpoint = await target(ctx, path)
    request_id = generate_id()
    record = {"request_id": str(request_id), "app_id": str(app_id), "endpoint_id": endpoint["endpoint_id"],
              "since": since, "until": until, "requested_at": now, "selection": selection}  # fmt: skip
    task = recover_started(request_id, app_id, uuid.UUID(endpoint["endpoint_id"]), now, selection)
    await ctx.background.save(task)
    try:
        await ctx.commands.command("RecoverRequested", record, endpoint["endpoint_id"])
    except Exception:
        # The task would otherwise stay running for ever; if this write fails too, the 5xx still says it all.
        with contextlib.suppress(Exception):
            await ctx.background.save(task.moved(FAILED, datetime.now(UTC)))
        raise
    out = {"id": task_svix_id(task.task_id), "status": task.status, "task": task.task, "updatedAt": iso(now)}
    return web.json_response(out, status=202)


async def stats(request: web.Request) -> web.Response:
    """Messages by delivery status at the endpoint, for messages created in [since, until) (default: 28 days)."""
    ctx = request.app[API_CONTEXT]
    query = read_params(request, STATS)
    app_id, record = await target(ctx, query)
    since, until = default_window(query["since"], query["until"], datetime.now(UTC))
    if since >= until:
        raise Invalid(["query", "since"], "since must be before until", "value_error")
    counts = await endpoint_status_counts(ctx.clickhouse, app_id, uuid.UUID(record["endpoint_id"]), since, until)
    return web.json_response({**counts, "canceled": 0})


RECOVER = Operation(
    "POST",
    ONE_PATH + "/recover",
    recover,
    "v1.endpoint.recover",
    "Resend the endpoint's failed messages since a time",
    params=(*ONE, IDEMPOTENCY_KEY),
    body=RECOVER_IN,
    responses={202: Response("recovery started", ref("RecoverOut")), **MISSING},
)
REPLAY_MISSING = Operation(
    "POST",
    ONE_PATH + "/replay-missing",
    replay_missing,
    "v1.endpoint.replay-missing",
    "Send the endpoint the messages since a time that were never attempted there and that its filters take",
    params=(*ONE, IDEMPOTENCY_KEY),
    body=REPLAY_IN,
    responses={202: Response("replay started", ref("ReplayOut")), **MISSING},
)
STATS = Operation(
    "GET",
    ONE_PATH + "/stats",
    stats,
    "v1.endpoint.get-stats",
    "Messages by delivery status at the endpoint (default window: 28 days)",
    params=(*ONE, SINCE, UNTIL),
    responses={200: Response("the counts", ref("EndpointStats")), **MISSING},
)
OPERATIONS = (RECOVER, REPLAY_MISSING, STATS)
