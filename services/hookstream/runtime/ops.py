"""Health and Prometheus metrics, served by every hookstream process.

A check is a named coroutine that raises when its dependency is unusable;
``/health`` runs them all concurrently with a deadline and answers 503 naming
each failing part, so a load balancer and an operator read the same answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

Check = Callable[[], Awaitable[None]]


@dataclass
class Metrics:
    """One registry per process (not the global one), so tests can build many apps."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.http_requests = Counter(
            "hookstream_http_requests_total",
            "HTTP requests served",
            ["route", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "hookstream_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.dependency_up = Gauge(
            "hookstream_dependency_up", "1 when the dependency answered the last health check",
            ["dependency"], registry=self.registry,
        )  # fmt: skip


HEALTH_CHECKS = web.AppKey("health_checks", dict)
METRICS = web.AppKey("metrics", Metrics)


async def _run_check(name: str, check: Check, timeout_s: float) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(check(), timeout_s)
    except TimeoutError:
        return name, f"no answer within {timeout_s:g} s"
    except Exception as exc:  # any failure of a dependency is reported, not raised
        return name, f"{type(exc).__name__}: {exc}"
    return name, None


async def health(request: web.Request) -> web.Response:
    checks: Mapping[str, Check] = request.app[HEALTH_CHECKS]
    metrics = request.app[METRICS]
    started = time.monotonic()
    results = await asyncio.gather(*(_run_check(name, check, 3.0) for name, check in checks.items()))
    failing = {name: error for name, error in results if error is not None}
    for name, error in results:
        metrics.dependency_up.labels(name).set(0 if error else 1)
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: ("ok" if error is None else error) for name, error in results},
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    if failing:
        body["failing"] = sorted(failing)
    return web.json_response(body, status=200 if not failing else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[METRICS].registry)
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


@web.middleware
async def count_requests(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
    metrics = request.app[METRICS]
    route = request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched"
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.http_requests.labels(route, str(status)).inc()
        metrics.http_latency.labels(route).observe(time.monotonic() - started)


def add_ops_routes(app: web.Application, checks: dict[str, Check], metrics: Metrics) -> None:
    app[HEALTH_CHECKS] = checks
    app[METRICS] = metrics
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_endpoint)
