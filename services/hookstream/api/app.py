"""The HTTP application: operational routes now, the API dialects as they land."""

from __future__ import annotations

from aiohttp import web

from hookstream.runtime.ops import Check, Metrics, add_ops_routes, count_requests


def build_app(checks: dict[str, Check], metrics: Metrics | None = None) -> web.Application:
    metrics = metrics or Metrics()
    app = web.Application(middlewares=[count_requests])
    add_ops_routes(app, checks, metrics)
    return app
