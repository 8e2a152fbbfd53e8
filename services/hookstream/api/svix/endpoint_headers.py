"""Svix endpoint custom headers: get, replace, change some (null removes one).

A change is an ``EndpointUpserted`` on ``config`` with the new headers.
"""

from __future__ import annotations

from aiohttp import web

from hookstream.api.commands import ENDPOINT, Record
from hookstream.api.context import API_CONTEXT
from hookstream.api.spec import Operation, Response, read_body, read_params
from hookstream.api.svix import params
from hookstream.api.svix.endpoints import MISSING, ONE, ONE_PATH, reader, target
from hookstream.api.svix.errors import Invalid
from hookstream.api.svix.schemas import headers_in, ref
from hookstream.domain.custom_headers import headers_problem


async def get_headers(request: web.Request) -> web.Response:
    _, record = await target(request.app[API_CONTEXT], read_params(request, GET_HEADERS))
    return web.json_response({"headers": dict(record["headers"]), "sensitive": []})


async def _set_headers(request: web.Request, op: Operation, *, merge: bool) -> web.Response:
    ctx = request.app[API_CONTEXT]
    path = read_params(request, op)
    given = params.custom_headers(await read_body(request, op), "headers") or {}

    def change(current: Record | None) -> Record:
        assert current is not None
        headers = {**current["headers"], **given} if merge else dict(given)
        headers = {name: value for name, value in headers.items() if value is not None}
        if (problem := headers_problem(headers)) is not None:  # the merge can go over the count
            raise Invalid(["body", "headers"], problem)
        return {"headers": headers}

    await ctx.commands.upsert(ENDPOINT, reader(ctx, path), change)
    return web.Response(status=204)


async def set_headers(request: web.Request) -> web.Response:
    return await _set_headers(request, SET_HEADERS, merge=False)


async def patch_headers(request: web.Request) -> web.Response:
    return await _set_headers(request, PATCH_HEADERS, merge=True)


GET_HEADERS = Operation(
    "GET",
    ONE_PATH + "/headers",
    get_headers,
    "v1.endpoint.get-headers",
    "The custom headers",
    params=ONE,
    responses={200: Response("the headers", ref("EndpointHeadersOut")), **MISSING},
)
SET_HEADERS = Operation(
    "PUT",
    ONE_PATH + "/headers",
    set_headers,
    "v1.endpoint.update-headers",
    "Replace the custom headers",
    params=ONE,
    body=headers_in(patch=False),
    responses={204: Response("replaced"), **MISSING},
)
PATCH_HEADERS = Operation(
    "PATCH",
    ONE_PATH + "/headers",
    patch_headers,
    "v1.endpoint.patch-headers",
    "Change some custom headers (null removes one)",
    params=ONE,
    body=headers_in(patch=True),
    responses={204: Response("changed"), **MISSING},
)
OPERATIONS = (GET_HEADERS, SET_HEADERS, PATCH_HEADERS)
