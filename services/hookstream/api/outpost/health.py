"""``GET /api/v1/healthz`` as Outpost answers it: no token, 200 ``healthy`` or 503 ``failed``, one entry per part.

Outpost names its workers (``http-server``, ``retrymq-consumer``, ...);
hookstream's parts are the dependency checks ``/health`` runs (Kafka,
ClickHouse, the roles of the process), each ``healthy`` or ``failed``. As in
Outpost, no error detail is shown: the logs and ``/health`` have it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from hookstream.api.spec import Operation, Response
from hookstream.foundation.ops import HEALTH_CHECKS, run_checks

PATH = "/healthz"


async def healthz(request: web.Request) -> web.Response:
    results = await run_checks(request.app[HEALTH_CHECKS])
    workers = {"http-server": {"status": "healthy"}}
    workers |= {name: {"status": "healthy" if error is None else "failed"} for name, error in sorted(results.items())}
    healthy = all(error is None for error in results.values())
    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = {"status": "healthy" if healthy else "failed", "timestamp": stamp, "workers": workers}
    return web.json_response(body, status=200 if healthy else 503)


_BODY = {
    "type": "object", "required": ["status", "timestamp", "workers"],
    "properties": {
        "status": {"type": "string", "enum": ["healthy", "failed"]},
        "timestamp": {"type": "string", "format": "date-time"},
        "workers": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["healthy", "failed"]}},
        }},
    },
}  # fmt: skip
OPERATIONS = (
    Operation("GET", PATH, healthz, "healthCheck", "Health: 200 when every part is healthy, 503 if one failed",
              responses={200: Response("healthy", _BODY), 503: Response("a part failed", _BODY)},
              authenticated=False),
)  # fmt: skip
