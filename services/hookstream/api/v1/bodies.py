"""``response_body_url``: signed, expiring links to one attempt's stored response body, served here.

The link carries the project, message and attempt ids, its expiry and an
HMAC over all four (``domain.body_links``); it is the credential, so the
route is open (no bearer token). The signature is checked before anything
is read: expired or tampered answers 403 without touching ClickHouse. A body
that is no longer stored (expunged, or past payload retention) answers 404.
The body goes back with the receiver's content type, but sandboxed: it is
someone else's content served from hookstream's origin, so browsers must
neither run nor sniff it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from hookstream.api.context import API_CONTEXT
from hookstream.api.spec import Operation, Param, Response, read_params
from hookstream.api.v1.errors import forbidden, not_found
from hookstream.api.v1.shapes import as_uuid
from hookstream.domain.body_links import BodyRef, LinkCheck, sign, verify
from hookstream.query.attempts import get_attempt

OPERATION_ID = "v1GetAttemptResponseBody"
_SANDBOX = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class BodyLinks:
    key: bytes
    ttl_s: float
    public_url: str = ""  # empty: the origin of the request the link is handed out in


BODY_LINKS = web.AppKey("v1_body_links", BodyLinks)


def body_url(request: web.Request, row: dict[str, Any], now: float) -> str | None:
    """A link to the row's stored response body, or None when there is none to read."""
    ctx = request.app[API_CONTEXT]
    body = row.get("response_body")
    if not body or row.get("expunged") or ctx.recent.is_expunged(row["attempt_id"]):
        return None
    links = request.app[BODY_LINKS]
    ref = BodyRef(as_uuid(row["app_id"]), as_uuid(row["msg_id"]), as_uuid(row["attempt_id"]))
    expires = math.ceil(now + links.ttl_s)
    path = request.app.router[OPERATION_ID].url_for(id=str(ref.msg_id), attempt_id=str(ref.attempt_id))
    query = urlencode({"project": str(ref.app_id), "expires": expires, "signature": sign(links.key, ref, expires)})
    base = links.public_url.rstrip("/") or str(request.url.origin())
    return f"{base}{path}?{query}"


async def get_body(request: web.Request) -> web.Response:
    args = read_params(request, GET_BODY)
    ref = BodyRef(args["project"], args["id"], args["attempt_id"])
    check = verify(request.app[BODY_LINKS].key, ref, args["expires"], args["signature"], time.time())
    if check is LinkCheck.FORGED:
        raise forbidden("LINK_INVALID", "the link's signature does not match it (altered, or not issued here)")
    if check is LinkCheck.EXPIRED:
        raise forbidden("LINK_EXPIRED", "the link has expired; list the message's attempts for a fresh one")
    ctx = request.app[API_CONTEXT]
    row = await get_attempt(ctx.clickhouse, ref.app_id, ref.msg_id, ref.attempt_id, with_content=True)
    if row is None or row.get("response_body") is None or row["expunged"] or ctx.recent.is_expunged(ref.attempt_id):
        raise not_found("response body")
    headers = {**_SANDBOX, "Content-Type": row["response_content_type"] or "application/octet-stream"}
    if row["response_body_truncated"]:
        headers["X-Response-Body-Truncated"] = "true"
    return web.Response(body=row["response_body"], headers=headers)


_UUID = {"type": "string", "format": "uuid"}
GET_BODY = Operation(
    method="GET",
    path="/messages/{id:[^/]+}/attempts/{attempt_id:[^/]+}/body",
    handler=get_body,
    operation_id=OPERATION_ID,
    summary="Download an attempt's stored response body (the signed response_body_url; no bearer token)",
    params=(
        Param("id", "path", _UUID, description="Message id (UUIDv7)"),
        Param("attempt_id", "path", _UUID, description="Attempt id (UUIDv7)"),
        Param("project", "query", _UUID, required=True, description="Project (application) id, signed"),
        Param(
            "expires",
            "query",
            {"type": "integer", "minimum": 0},
            required=True,
            description="Unix seconds after which the link is refused",
        ),
        Param(
            "signature",
            "query",
            {"type": "string", "minLength": 1, "maxLength": 64},
            required=True,
            description="HMAC over project, message, attempt and expiry",
        ),
    ),
    responses={
        200: Response(
            "The stored response body, with the endpoint's content type",
            headers={"X-Response-Body-Truncated": "`true` when the stored body was cut at the cap"},
        ),
        403: Response("The link expired or does not verify", {"$ref": "#/components/schemas/V1Error"}),
        404: Response(
            "The body is no longer stored (expunged or past retention)", {"$ref": "#/components/schemas/V1Error"}
        ),
    },
    authenticated=False,
)
OPERATIONS = [GET_BODY]
