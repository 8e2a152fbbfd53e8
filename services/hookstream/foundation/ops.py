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
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

Check = Callable[[], Awaitable[None]]
Exposition = Callable[[], Awaitable[str]]
"""Another process's ``/metrics`` text, served here too (``hookstream dev``'s role processes)."""


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
FEDERATED = web.AppKey("federated", dict)


async def run_checks(checks: Mapping[str, Check], timeout_s: float = 3.0) -> dict[str, str | None]:
    """Each check's failure (``None`` when it passed), all run concurrently under one deadline each."""
    results = await asyncio.gather(*(_run_check(name, check, timeout_s) for name, check in checks.items()))
    return dict(results)


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
    results = await run_checks(checks)
    failing = {name: error for name, error in results.items() if error is not None}
    for name, error in results.items():
        metrics.dependency_up.labels(name).set(0 if error else 1)
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: ("ok" if error is None else error) for name, error in results.items()},
        "elapsed_ms": round((time.monotonic() - started) * 1000, 1),
    }
    if failing:
        body["failing"] = sorted(failing)
    return web.json_response(body, status=200 if not failing else 503)


async def metrics_endpoint(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[METRICS].registry)
    sources: Mapping[str, Exposition] = request.app.get(FEDERATED) or {}
    if sources:
        texts = await asyncio.gather(*(_fetch(fetch) for fetch in sources.values()))
        payload += federate(payload.decode(), dict(zip(sources, texts, strict=True)))
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _fetch(fetch: Exposition) -> str:
    try:
        return await asyncio.wait_for(fetch(), 3.0)
    except Exception:  # a process that does not answer is named by /health; its metrics are just absent
        return ""


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return self._families


def federate(own: str, others: Mapping[str, str]) -> bytes:
    """The families of ``others`` (process name -> exposition) that ``own`` lacks, each sample labelled ``process``.

    Families this process has too (process_*, python_*, its HTTP and health
    metrics) are left out: one name must not appear twice in an exposition,
    and the other process's own ``/metrics`` still serves them.
    """
    mine = {family.name for family in text_string_to_metric_families(own)}
    merged: dict[str, Metric] = {}
    for process, text in others.items():
        for family in text_string_to_metric_families(text):
            if family.name in mine:
                continue
            target = merged.setdefault(family.name, Metric(family.name, family.documentation, family.type))
            target.samples += [s._replace(labels={**s.labels, "process": process}) for s in family.samples]
    if not merged:
        return b""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(merged.values())))  # type: ignore[arg-type]
    return generate_latest(registry)


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


def add_ops_routes(
    app: web.Application, checks: dict[str, Check], metrics: Metrics, federated: Mapping[str, Exposition] | None = None
) -> None:
    app[HEALTH_CHECKS] = checks
    app[METRICS] = metrics
    app[FEDERATED] = dict(federated or {})
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_endpoint)
