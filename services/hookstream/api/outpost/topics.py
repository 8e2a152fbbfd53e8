"""Outpost topics: the event types configured in hookstream (archived ones are no longer offered)."""

from __future__ import annotations

from aiohttp import web

from hookstream.api.context import API_CONTEXT
from hookstream.api.spec import Operation, Response


async def list_topics(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    await ctx.cache.catch_up()
    names = sorted(ctx.records.topics())
    return web.json_response(names)


LIST = Operation("GET", "/topics", list_topics, "listTopics", "List the configured topics",
                 responses={200: Response("topic names", {"type": "array", "items": {"type": "string"}})})  # fmt: skip
OPERATIONS = (LIST,)
