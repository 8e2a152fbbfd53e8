"""Svix endpoint secrets: the signing secret, and its rotation.

Signing secrets are sealed with the deployment's SecretBox before they reach
the log (``SecretRotated`` on ``config``) and are opened only to answer
``GET .../secret``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from hookstream.api.commands import ENDPOINT_SECRETS
from hookstream.api.context import API_CONTEXT
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix.endpoints import MISSING, ONE, ONE_PATH, given_secret, reader, target
from hookstream.api.svix.params import IDEMPOTENCY_KEY
from hookstream.api.svix.schemas import DEFAULT_GRACE_S, SECRET_ROTATE_IN, ref


async def get_secret(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    _, record = await target(ctx, read_params(request, GET_SECRET))
    newest = record["secrets"][0]
    return web.json_response({"key": ctx.box.open(newest["ciphertext"], newest["key_id"])})


async def rotate_secret(request: web.Request) -> web.Response:
    """A new signing secret; the old ones keep signing for the grace period (default 24 h, at most 7 days)."""
    ctx = request.app[API_CONTEXT]
    path = read_params(request, ROTATE_SECRET)
    body = await read_body(request, ROTATE_SECRET)
    secret = given_secret(body, "key")
    grace = body.get("gracePeriodSeconds")
    grace = DEFAULT_GRACE_S if grace is None else grace
    await ctx.commands.upsert(ENDPOINT_SECRETS, reader(ctx, path), lambda current: {
        "secrets": ctx.box.rotated(current["secrets"], secret, datetime.now(UTC), timedelta(seconds=grace))
    })  # fmt: skip
    return web.json_response({"key": secret})


GET_SECRET = Operation(
    "GET",
    ONE_PATH + "/secret",
    get_secret,
    "v1.endpoint.get-secret",
    "The signing secret",
    params=ONE,
    responses={200: Response("the newest secret", ref("EndpointSecretOut")), **MISSING},
)
ROTATE_SECRET = Operation(
    "POST",
    ONE_PATH + "/secret/rotate",
    rotate_secret,
    "v1.endpoint.rotate-secret",
    "A new signing secret; the old ones sign too for the grace period",
    params=(*ONE, IDEMPOTENCY_KEY),
    body=SECRET_ROTATE_IN,
    responses={200: Response("the new secret", ref("EndpointSecretOut")), **MISSING},
)
OPERATIONS = (GET_SECRET, ROTATE_SECRET)
