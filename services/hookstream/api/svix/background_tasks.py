"""Svix background tasks: the state of an endpoint recover or replay-missing (``qtask_...``), by id or listed.

The states are the API's view of the ``background-tasks`` topic
(log/background_tasks.py): the API writes ``running`` before the recover's
command, the ``schedule`` role writes its progress and the end. The list is
the operator's (no ``{app_id}`` in the path: application tokens get 403).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hookstream.api.context import API_CONTEXT
from hookstream.api.spec import Operation, Param, Response, read_params
from hookstream.api.svix.errors import not_found
from hookstream.api.svix.pagination import id_list_response, id_page
from hookstream.api.svix.params import ORDER, PAGE, path_id
from hookstream.api.svix.schemas import list_of, ref
from hookstream.api.svix.shapes import iso
from hookstream.domain.background import STATUSES, BackgroundTask, matching, task_svix_id
from hookstream.domain.ids import IdKind

SVIX_TASK_TYPES = (
    "endpoint.replay", "endpoint.recover", "application.stats", "message.broadcast", "sdk.generate",
    "event-type.aggregate", "application.purge_content", "endpoint.bulk-replay",
)  # fmt: skip
"""Svix's ``BackgroundTaskType``: every one is a valid filter; hookstream runs ``endpoint.recover`` and
``endpoint.replay``."""


def background_task_out(task: BackgroundTask) -> dict[str, Any]:
    """``BackgroundTaskOut``; ``RecoverOut`` is the same without ``data``."""
    return {"id": task_svix_id(task.task_id), "status": task.status, "task": task.task, "data": dict(task.data),
            "updatedAt": iso(task.updated_at)}  # fmt: skip


async def list_tasks(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    query = read_params(request, LIST)
    tasks = matching(ctx.background.tasks.values(), query["status"], query["task"])
    records = [{"task_id": task.task_id, "task": task} for task in tasks]
    items, page = id_page(records, "task_id", query, IdKind.BACKGROUND_TASK, query["limit"])
    return web.json_response(id_list_response([background_task_out(r["task"]) for r in items], page))


async def get(request: web.Request) -> web.Response:
    ctx = request.app[API_CONTEXT]
    task = await ctx.background.get(path_id(request, "task_id", IdKind.BACKGROUND_TASK))
    if task is None:
        raise not_found("Background task")
    return web.json_response(background_task_out(task))


_STATUS = Param("status", "query", {"type": "string", "enum": list(STATUSES)}, description="only tasks in this state")
_TASK = Param("task", "query", {"type": "string", "enum": list(SVIX_TASK_TYPES)}, description="only tasks of this type")
_TASK_ID = Param("task_id", "path", {"type": "string"}, True, "the task's id (qtask_...)")
LIST = Operation(
    "GET",
    "/background-task",
    list_tasks,
    "v1.background-task.list",
    "List background tasks (endpoint recovers and replays) of the past 90 days",
    params=(_STATUS, _TASK, *PAGE, ORDER),
    responses={200: Response("a page of tasks", list_of("BackgroundTaskOut"))},
)
GET = Operation(
    "GET",
    "/background-task/{task_id}",
    get,
    "v1.background-task.get",
    "Get a background task: its state and what it counted",
    params=(_TASK_ID,),
    responses={200: Response("the task", ref("BackgroundTaskOut")), 404: Response("no such task", ref("HttpError"))},
)
OPERATIONS = (LIST, GET)
