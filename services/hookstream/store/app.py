"""ClickHouse's HTTP interface over the engine: ``/`` for statements, ``/ping`` and ``/replicas_status`` for probes.

Answers carry the headers ClickHouse sends and clients read
(``X-ClickHouse-Query-Id``, ``-Format``, ``-Timezone``, ``-Summary``,
``-Server-Display-Name``); a failure carries ``X-ClickHouse-Exception-Code``,
ClickHouse's status for that code and the exception text, so a client
raises exactly what it raises against a server.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid

from aiohttp import web

from hookstream.store import compressed, statements
from hookstream.store import request as requests
from hookstream.store.engine import Engine
from hookstream.store.errors import READONLY, SYNTAX_ERROR, ClickHouseError
from hookstream.store.users import User, Users, credentials

log = logging.getLogger("hookstream.store")

DISPLAY_NAME = "hookstream-store"
ENGINE = web.AppKey("engine", Engine)
USERS = web.AppKey("users", Users)
MAX_BODY_BYTES = 1 << 30
"""The largest body taken, as sent and once inflated (an insert's data: a query itself is far smaller)."""
_REFUSALS = frozenset({READONLY[1]})  # answered as ClickHouse does (500) but nothing went wrong in the store

_TSV = "text/tab-separated-values; charset=UTF-8"


def _content_type(fmt: str | None) -> str:
    if fmt is None:
        return "text/plain; charset=UTF-8"
    if fmt.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if fmt.startswith(("TabSeparated", "TSV")):
        return _TSV
    return "text/csv; charset=UTF-8" if fmt.startswith("CSV") else "application/octet-stream"


async def ping(_: web.Request) -> web.Response:
    return web.Response(text="Ok.\n")


def _readonly_level(user: User, statement: requests.Statement) -> int:
    """The ``readonly`` level the statement runs at, refusing up front what the engine would refuse at it.

    The early refusals give ClickHouse's messages; the engine handles of that
    level enforce the same again, whatever the statement's text hides. A
    ``readonly`` URL parameter picks the level instead of changing a handle,
    which could not be changed back.
    """
    if statements.several(statement.sql):
        raise ClickHouseError.raised(SYNTAX_ERROR, "Multi-statements are not allowed")
    if user.readonly:
        changed = [*statement.settings, *(["readonly"] if statement.readonly not in (None, 1) else [])]
        if changed:
            raise ClickHouseError.raised(READONLY, f"Cannot modify '{changed[0]}' setting in readonly mode")
        level = 1
    else:
        level = 2 if statement.read_only_method or statement.readonly else 0
    if level and not statements.is_read(statement.sql):
        detail = (" For queries over HTTP, method GET implies readonly. You should use method POST for modifying "
                  "queries") if statement.read_only_method and not user.readonly else ""  # fmt: skip
        raise ClickHouseError.raised(READONLY, f"{user.name}: Cannot execute query in readonly mode.{detail}")
    return level


def _base_headers(app: web.Application, query_id: str) -> dict[str, str]:
    return {"X-ClickHouse-Query-Id": query_id, "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
            "X-ClickHouse-Timezone": app[ENGINE].timezone}  # fmt: skip


async def query(request: web.Request) -> web.Response:
    query_id = request.query.get("query_id") or str(uuid.uuid4())
    headers = _base_headers(request.app, query_id)
    try:
        if request.method == "GET" and "query" not in request.query:
            return web.Response(text="Ok.\n", headers=headers)
        user = request.app[USERS].authenticate(*credentials(request.headers, request.query))
        body = await request.read() if request.method == "POST" else b""
        body = requests.decompress(body, request.headers.get("Content-Encoding", ""), MAX_BODY_BYTES)
        parameters = requests.parameters(request.query, request.headers)
        statement = requests.statement(parameters, body, method=request.method)
        level = _readonly_level(user, statement)
        outcome = await request.app[ENGINE].run(statement, readonly=level)
    except ClickHouseError as exc:
        if exc.status >= 500 and exc.name not in _REFUSALS:
            log.warning("store statement failed", extra={"code": exc.code, "query_id": query_id})
        headers["X-ClickHouse-Exception-Code"] = str(exc.code)
        return web.Response(status=exc.status, text=exc.text + "\n", headers=headers)
    headers["X-ClickHouse-Summary"] = json.dumps(outcome.summary, separators=(",", ":"))
    if outcome.fmt is not None:
        headers["X-ClickHouse-Format"] = outcome.fmt
    headers["Content-Type"] = _content_type(outcome.fmt)
    answer = outcome.body
    if answer and requests.compressed_answer(request.query):
        answer = await asyncio.to_thread(compressed.compress, answer)  # the checksum is pure Python: off the loop
    return web.Response(body=answer, headers=headers)


def store_app(engine: Engine, users: Users) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[ENGINE] = engine
    app[USERS] = users
    app.router.add_get("/ping", ping)
    app.router.add_get("/replicas_status", ping)
    app.router.add_route("GET", "/", query)
    app.router.add_route("POST", "/", query)
    return app
