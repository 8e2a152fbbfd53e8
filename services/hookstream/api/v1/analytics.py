"""``GET /v1/endpoints/{id}/latency``, ``GET /v1/apps/{app_id}/endpoints/slowest`` (issue 10) and
``GET /v1/apps/{app_id}/endpoints/summary`` (the console's endpoint list: one call for every endpoint's
success rate and percentiles over a window, merged exactly rather than from per-hour percentiles).

Both read the attempt rollups through ``query.analytics``; this module only
checks the caller may see the endpoint or application (another application's
id answers 404 exactly like an unknown one), validates the window and maps
microseconds to the dialect's milliseconds.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from hookstream.api.auth import scope_of
from hookstream.api.context import API_CONTEXT, ApiContext
from hookstream.api.fresh import get_fresh
from hookstream.api.requestid import request_id_of
from hookstream.api.spec import InvalidInput, Operation, Param, Response, read_params
from hookstream.api.v1.errors import not_found
from hookstream.api.v1.shapes import iso
from hookstream.query.analytics import (
    EndpointChange,
    EndpointSummary,
    Granularity,
    LatencyBucket,
    Percentiles,
    endpoint_summaries,
    latency,
    slowest_endpoints,
)

MAX_BUCKETS = 2000
DEFAULT_SPAN = {Granularity.HOUR: timedelta(days=1), Granularity.DAY: timedelta(days=30)}
SLOWEST_SPAN = timedelta(days=7)
SUMMARY_SPAN = timedelta(days=1)


def _ms(us: int | None) -> float | None:
    return None if us is None else us / 1000


def _percentiles(p: Percentiles) -> dict[str, float | None]:
    return {"p50_ms": _ms(p.p50), "p90_ms": _ms(p.p90), "p99_ms": _ms(p.p99)}


def bucket_out(b: LatencyBucket) -> dict[str, Any]:
    return {
        "start": iso(b.bucket),
        "attempts": b.attempts,
        "successes": b.successes,
        "phases": {phase: _percentiles(p) for phase, p in b.phases.items()},
    }


def change_out(c: EndpointChange) -> dict[str, Any]:
    return {
        "endpoint_id": str(c.endpoint_id),
        "attempts": c.attempts,
        "previous_attempts": c.previous_attempts,
        "p99_ms": _ms(c.p99_us),
        "previous_p99_ms": _ms(c.previous_p99_us),
        "change_ms": _ms(c.change_us),
        "phase": c.phase,
        "phase_change_ms": _ms(c.phase_change_us),
    }


def summary_out(s: EndpointSummary) -> dict[str, Any]:
    return {"endpoint_id": str(s.endpoint_id), "attempts": s.attempts, "successes": s.successes,
            **_percentiles(s.total)}  # fmt: skip


def window(since: datetime | None, until: datetime | None, span: timedelta) -> tuple[datetime, datetime]:
    """[since, until) with defaults (until now, since ``span`` before), refused when empty."""
    end = until or datetime.fromtimestamp(time.time(), UTC)
    start = since or end - span
    if start >= end:
        raise InvalidInput("query", ["since"], f"must be before until ({iso(end)})")
    return start, end


async def _endpoint_app(ctx: ApiContext, request: web.Request, endpoint_id: uuid.UUID) -> uuid.UUID:
    """The endpoint's application if the caller may see it; 404 otherwise (unknown and foreign alike)."""
    record = await get_fresh(ctx.cache, lambda: ctx.records.any_endpoint(endpoint_id), lambda: not_found("endpoint"))
    if not scope_of(request).allows(record["app_id"]):
        raise not_found("endpoint")
    return uuid.UUID(record["app_id"])


async def get_latency(request: web.Request) -> web.Response:
    args = read_params(request, LATENCY)
    ctx = request.app[API_CONTEXT]
    granularity = Granularity(args["granularity"])
    since, until = window(args["since"], args["until"], DEFAULT_SPAN[granularity])
    step = timedelta(hours=1) if granularity is Granularity.HOUR else timedelta(days=1)
    buckets = (until - granularity.floor(since)) / step
    if buckets > MAX_BUCKETS:
        raise InvalidInput(
            "query", ["since"], f"the range spans {buckets:.0f} {granularity} buckets, at most {MAX_BUCKETS}"
        )
    app_id = await _endpoint_app(ctx, request, args["id"])
    rows = await latency(ctx.clickhouse, app_id, args["id"], since, until, granularity)
    data = {
        "endpoint_id": str(args["id"]),
        "granularity": str(granularity),
        "since": iso(since),
        "until": iso(until),
        "buckets": [bucket_out(b) for b in rows],
    }
    return web.json_response({"data": data, "meta": {"request_id": request_id_of(request)}})


async def get_slowest(request: web.Request) -> web.Response:
    args = read_params(request, SLOWEST)
    ctx = request.app[API_CONTEXT]
    app_id = args["app_id"]
    if not scope_of(request).allows(app_id):
        raise not_found("application")
    await get_fresh(ctx.cache, lambda: ctx.records.application(app_id), lambda: not_found("application"))
    since, until = window(args["since"], args["until"], SLOWEST_SPAN)
    ranked = await slowest_endpoints(ctx.clickhouse, app_id, since, until, args["limit"])
    meta = {"request_id": request_id_of(request), "since": iso(Granularity.HOUR.floor(since)), "until": iso(until)}
    return web.json_response({"data": [change_out(c) for c in ranked], "meta": meta})


async def get_summary(request: web.Request) -> web.Response:
    args = read_params(request, SUMMARY)
    ctx = request.app[API_CONTEXT]
    app_id = args["app_id"]
    if not scope_of(request).allows(app_id):
        raise not_found("application")
    await get_fresh(ctx.cache, lambda: ctx.records.application(app_id), lambda: not_found("application"))
    since, until = window(args["since"], args["until"], SUMMARY_SPAN)
    rows = await endpoint_summaries(ctx.clickhouse, app_id, since, until)
    meta = {"request_id": request_id_of(request), "since": iso(Granularity.HOUR.floor(since)), "until": iso(until)}
    return web.json_response({"data": [summary_out(r) for r in rows], "meta": meta})


_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_MS = {"type": ["number", "null"]}
_PERCENTILES = {"type": "object", "properties": {"p50_ms": _MS, "p90_ms": _MS, "p99_ms": _MS}}
_ERROR = {"$ref": "#/components/schemas/V1Error"}
_SINCE = Param("since", "query", _TIME, description="Start of the window (inclusive; rounded down to its bucket)")
_UNTIL = Param("until", "query", _TIME, description="End of the window (exclusive); default now")
_APP_ID = Param("app_id", "path", _UUID, required=True, description="Application id")


def _rows(properties: dict[str, Any]) -> dict[str, Any]:
    """The answer of a per-endpoint route: ``{"data": [row, ...]}``, each row an object of ``properties``."""
    items = {"type": "object", "properties": properties}
    return {"type": "object", "properties": {"data": {"type": "array", "items": items}}}


LATENCY = Operation(
    method="GET",
    path="/endpoints/{id}/latency",
    handler=get_latency,
    operation_id="v1GetEndpointLatency",
    summary="Latency breakdown percentiles (total, dns, tcp, tls, ttfb, transfer) per hour or day",
    params=(
        Param("id", "path", _UUID, required=True, description="Endpoint id"),
        _SINCE,
        _UNTIL,
        Param("granularity", "query", {"type": "string", "enum": ["hour", "day"], "default": "hour"}),
    ),
    responses={
        200: Response(
            "Buckets oldest first; a phase no attempt measured (tls over http) has null percentiles",
            {
                "type": "object",
                "properties": {
                    "data": {
                        "type": "object",
                        "properties": {
                            "endpoint_id": _UUID,
                            "granularity": {"type": "string"},
                            "since": _TIME,
                            "until": _TIME,
                            "buckets": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "start": _TIME,
                                        "attempts": {"type": "integer"},
                                        "successes": {"type": "integer"},
                                        "phases": {"type": "object", "additionalProperties": _PERCENTILES},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        ),
        400: Response("Invalid window or granularity", _ERROR),
        404: Response("No such endpoint visible to the token", _ERROR),
    },
)
SLOWEST = Operation(
    method="GET",
    path="/apps/{app_id}/endpoints/slowest",
    handler=get_slowest,
    operation_id="v1ListSlowestEndpoints",
    summary="Endpoints ranked by p99 change against the previous period, naming the phase that changed most",
    params=(
        _APP_ID,
        Param("since", "query", _TIME, description="Start of the period (default 7 days before until)"),
        _UNTIL,
        Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 250, "default": 50}),
    ),
    responses={
        200: Response(
            "Largest p99 increase first; endpoints new in the period (no previous p99) last",
            _rows(
                {
                    "endpoint_id": _UUID,
                    "attempts": {"type": "integer"},
                    "previous_attempts": {"type": "integer"},
                    "p99_ms": _MS,
                    "previous_p99_ms": _MS,
                    "change_ms": _MS,
                    "phase": {"type": ["string", "null"]},
                    "phase_change_ms": _MS,
                }
            ),
        ),
        400: Response("Invalid window", _ERROR),
        404: Response("No such application visible to the token", _ERROR),
    },
)
SUMMARY = Operation(
    method="GET",
    path="/apps/{app_id}/endpoints/summary",
    handler=get_summary,
    operation_id="v1ListEndpointSummaries",
    summary="Each endpoint's attempts, successes and total-latency percentiles over a window (default 24 h)",
    params=(
        _APP_ID,
        Param(
            "since",
            "query",
            _TIME,
            description="Start of the window (default 24 h before until; rounded down to the hour)",
        ),
        _UNTIL,
    ),
    responses={
        200: Response(
            "Endpoints with attempts in the window; percentiles merged over the whole window",
            _rows(
                {
                    "endpoint_id": _UUID,
                    "attempts": {"type": "integer"},
                    "successes": {"type": "integer"},
                    **_PERCENTILES["properties"],
                }
            ),
        ),
        400: Response("Invalid window", _ERROR),
        404: Response("No such application visible to the token", _ERROR),
    },
)
OPERATIONS = [LATENCY, SLOWEST, SUMMARY]
