"""``GET /api/v1/health/`` as Svix answers it: 204 when healthy, no token needed (``/health/ping`` asks no
dependency).

It runs the same dependency checks as ``/health`` (Kafka, ClickHouse); when
one fails it answers 503 with a Svix error body naming the failing parts,
which the SDK raises as ``HttpError``.
"""

from __future__ import annotations

from aiohttp import web

from hookstream.api.spec import Operation, Response
from hookstream.api.svix.errors import SvixError
from hookstream.api.svix.schemas import ref
from hookstream.foundation.ops import HEALTH_CHECKS, run_checks


async def health(request: web.Request) -> web.Response:
    checks = request.app[HEALTH_CHECKS]
    results = await run_checks(checks)
    failing = sorted(name for name, error in results.items() if error is not None)
    if failing:
        raise SvixError(503, "unhealthy", f"unavailable: {', '.join(failing)}")
    return web.Response(status=204)


async def ping(_request: web.Request) -> web.Response:
    """Liveness only: the process answers (no dependency is asked, unlike ``/health``)."""
    return web.Response(status=204)


OPERATIONS = (
    Operation("GET", "/health", health, "v1.health.get", "Health: 204 when Kafka and ClickHouse answer",
              responses={204: Response("healthy"), 503: Response("a dependency is failing", ref("HttpError"))},
              authenticated=False),
    Operation("GET", "/health/ping", ping, "v1.health.ping", "Ping: 204 while the process answers",
              responses={204: Response("alive")}, authenticated=False),
)  # fmt: skip
