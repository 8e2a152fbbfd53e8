"""``POST /api/v1/auth/app/{app_id}/expire-all``: every token issued for the application before stops working.

Tokens are stateless (``domain.access``), so the revocation is a new token
generation on the application's record on ``config``: it survives restarts
and reaches every API process as any config change does. Once this answers,
this process refuses the old tokens; another process does once its view of
``config`` has the write (the config follower's lag). Svix's ``expiry``
keeps the old tokens working that many seconds more; ``sessionIds`` cannot
be honoured (hookstream's tokens carry no session) and is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from hookstream.api.commands import APPLICATION, Record
from hookstream.api.context import API_CONTEXT
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import lookup
from hookstream.api.svix.auth import operator_only
from hookstream.api.svix.errors import Invalid
from hookstream.api.svix.params import APP_ID, IDEMPOTENCY_KEY
from hookstream.api.svix.schemas import ref

MAX_GRACE_S = 259_200  # Svix's bound on expiry: three days


@operator_only
async def expire_all(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    app_ref = read_params(request, EXPIRE_ALL)["app_id"]
    body = await read_body(request, EXPIRE_ALL) or {}
    if body.get("sessionIds"):
        raise Invalid(["body", "sessionIds"], "hookstream's tokens carry no session id: leave it out to expire all")
    grace = body.get("expiry") or 0

    def change(current: Record | None) -> Record:
        assert current is not None
        until = datetime.now(UTC) + timedelta(seconds=grace) if grace else None
        return {"token_generation": (current.get("token_generation") or 0) + 1, "previous_tokens_until": until}

    await ctx.commands.upsert(APPLICATION, lambda: lookup.application(ctx, app_ref), change)
    return web.Response(status=204)


BODY = {
    "type": "object",
    "properties": {
        "expiry": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_GRACE_S,
                   "description": "seconds the old tokens keep working; null or 0: none"},
        "sessionIds": {"type": "array", "items": {"type": "string"},
                       "description": "not supported (tokens carry no session): absent or empty"},
    },
}  # fmt: skip
EXPIRE_ALL = Operation(
    "POST", "/auth/app/{app_id}/expire-all", expire_all, "v1.authentication.expire-all",
    "Expire every token issued for the application (after expiry seconds)", params=(APP_ID, IDEMPOTENCY_KEY),
    body=BODY, body_required=False,
    responses={204: Response("expired"), 404: Response("no such application", ref("HttpError"))},
)  # fmt: skip
OPERATIONS = (EXPIRE_ALL,)
