"""The web console at ``/console/``: static files shipped in the package, nothing computed here.

Every page is drawn in the browser from the public API with the token the
user holds (the operator's, or an application-scoped one for the consumer
portal at ``/console/portal``), so the console has no access path of its own:
what a token cannot read through the API, the console cannot show. This
module only serves the files, under a Content-Security-Policy that allows
scripts, styles and connections to this origin alone (no inline script or
style anywhere), and ``frame-ancestors`` from ``console_frame_ancestors`` so
an operator's product may embed the portal.
"""

from __future__ import annotations

import re
from pathlib import Path

from aiohttp import web

from hookstream.foundation.settings import Settings

CONSOLE_PATH = "/console/"
PORTAL_PATH = "/console/portal"
STATIC_DIR = Path(__file__).resolve().parent.parent / "console"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".html": "text/html"}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|svg)$")
_HEADERS = web.AppKey("console_headers", dict)


def security_headers(frame_ancestors: str) -> dict[str, str]:
    """The headers every console answer carries; the CSP forbids inline script and style."""
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"base-uri 'none'; form-action 'self'; frame-ancestors {frame_ancestors}"
    )
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def _file(request: web.Request, name: str) -> web.FileResponse:
    path = STATIC_DIR / name
    if not path.is_file():
        raise web.HTTPNotFound()
    headers = {**request.app[_HEADERS], "Content-Type": _TYPES[path.suffix] + "; charset=utf-8"}
    return web.FileResponse(path, headers=headers)


async def index(request: web.Request) -> web.FileResponse:
    """The one page of both the operator console and the portal; the script tells them apart by the token."""
    return _file(request, "index.html")


async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if not _NAME.match(name):
        raise web.HTTPNotFound()
    return _file(request, name)


async def to_index(_request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently(CONSOLE_PATH)


def add_routes(app: web.Application, settings: Settings) -> None:
    app[_HEADERS] = security_headers(settings.console_frame_ancestors)
    app.router.add_get(CONSOLE_PATH.rstrip("/"), to_index)
    app.router.add_get(CONSOLE_PATH, index)
    app.router.add_get(PORTAL_PATH, index)
    app.router.add_get(CONSOLE_PATH + "{name}", asset)
