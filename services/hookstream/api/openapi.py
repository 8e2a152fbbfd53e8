"""``/openapi.json`` and ``/docs``: one OpenAPI 3.1 document for every mounted dialect.

Built from the ``Operation`` values the handlers validate with (api/spec.py),
so a parameter or schema exists in the document exactly when a handler
accepts it. ``/docs`` renders the same document as plain HTML on the server:
no script from a CDN, so it works on an air-gapped deployment.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hookstream.api.spec import JsonSchema, Operation, Param

TITLE = "hookstream"
VERSION = "1"


@dataclass(frozen=True)
class Dialect:
    """One wire dialect as the document shows it: its operations under a prefix, and its error shapes."""

    name: str
    prefix: str
    operations: Sequence[Operation]
    schemas: Mapping[str, JsonSchema] = field(default_factory=dict)  # components/schemas, names prefixed by the dialect
    errors: Mapping[int, JsonSchema] = field(default_factory=dict)  # every operation may answer these


DIALECTS = web.AppKey("dialects", list[Dialect])


def _parameter(param: Param) -> dict[str, Any]:
    out: dict[str, Any] = {"name": param.name, "in": param.where, "required": param.required or param.where == "path"}
    out["schema"] = param.schema
    if param.description:
        out["description"] = param.description
    if param.where == "query" and param.schema.get("type") == "array":
        out["style"], out["explode"] = "form", True
    return out


def _content(schema: JsonSchema | None) -> dict[str, Any]:
    return {} if schema is None else {"content": {"application/json": {"schema": schema}}}


def _operation(dialect: Dialect, op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, response in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": response.description, **_content(response.schema)}
        if response.headers:
            entry["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                for name, text in response.headers.items()}  # fmt: skip
        responses[str(status)] = entry
    for status, schema in sorted(dialect.errors.items()):
        if (not op.authenticated and status in (401, 403)) or (op.body is None and status == 415):
            continue
        responses.setdefault(str(status), {"description": f"error {status}", **_content(schema)})
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [dialect.name],
        "parameters": [_parameter(p) for p in op.params],
        "responses": responses,
    }
    if op.body is not None:
        out["requestBody"] = {"required": op.body_required, **_content(op.body)}
    if not op.authenticated:
        out["security"] = []
    return out


def template(path: str) -> str:
    """An aiohttp path as an OpenAPI path: ``/m/{id:[^/]+}`` -> ``/m/{id}`` (the pattern is routing, not contract)."""
    return re.sub(r"\{(\w+):[^{}]*\}", r"{\1}", path)


def document(dialects: Sequence[Dialect]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, JsonSchema] = {}
    for dialect in dialects:
        schemas.update(dialect.schemas)
        for op in dialect.operations:
            paths.setdefault(dialect.prefix + template(op.path), {})[op.method.lower()] = _operation(dialect, op)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION,
                 "description": "Webhook delivery with a queryable attempt history; Svix, Outpost and v1 dialects."},
        "tags": [{"name": d.name} for d in dialects],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }  # fmt: skip


def _html(doc: Mapping[str, Any]) -> str:
    rows = []
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            params = ", ".join(f"{p['name']} ({p['in']})" for p in op["parameters"]) or "-"
            statuses = " ".join(op["responses"])
            rows.append(
                f"<tr><td>{html.escape(op['tags'][0])}</td><td><b>{method.upper()}</b> <code>{html.escape(path)}</code>"
                f"</td><td>{html.escape(op['summary'])}</td><td>{html.escape(params)}</td><td>{statuses}</td></tr>"
            )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>hookstream API</title><style>"
        "body{font-family:sans-serif;margin:2em}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}"
        "</style></head><body><h1>hookstream API</h1><p>The machine-readable document: "
        "<a href='/openapi.json'>/openapi.json</a></p><table><tr><th>dialect</th><th>operation</th><th>summary</th>"
        "<th>parameters</th><th>responses</th></tr>" + "".join(rows) + "</table></body></html>"
    )


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[DIALECTS]))


async def _docs(request: web.Request) -> web.Response:
    return web.Response(text=_html(document(request.app[DIALECTS])), content_type="text/html")


def add_routes(app: web.Application) -> None:
    """Serve the document of whatever dialects are (or will be) listed in ``app[DIALECTS]``."""
    if DIALECTS not in app:
        app[DIALECTS] = []
    app.router.add_get("/openapi.json", _openapi)
    app.router.add_get("/docs", _docs)
