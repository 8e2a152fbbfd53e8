"""v1 errors: ``{"error": {"code", "message"}, "meta": {"request_id"}}`` for every failure (seed 002).

Handlers raise ``V1Error`` (or ``InvalidInput`` from ``api.spec``); the
middleware writes the envelope, and turns aiohttp's own 404/405/413 and any
unexpected exception into it as well, so a client never sees another shape.
Codes are upper-case words as in the seed (``INVALID_REQUEST``,
``UNAUTHORIZED``, ``INTERNAL_ERROR``).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from hookstream.api.requestid import Handler, request_id_of
from hookstream.api.spec import InvalidInput, UnsupportedMediaType
from hookstream.api.unavailable import retry_after, unavailable_dependency

log = logging.getLogger("hookstream.api.v1")


class V1Error(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def envelope(request: web.Request, status: int, code: str, message: str) -> web.Response:
    body: dict[str, Any] = {"error": {"code": code, "message": message}, "meta": {"request_id": request_id_of(request)}}
    return web.json_response(body, status=status)


def invalid(error: InvalidInput) -> V1Error:
    """400 naming where and which field: ``path id: is not a valid uuid``."""
    field = ".".join(map(str, error.loc)) or "(root)"
    return V1Error(400, "INVALID_REQUEST", f"{error.where} {field}: {error.reason}")


def unauthorized() -> V1Error:
    return V1Error(401, "UNAUTHORIZED", "Invalid or missing API key")


def not_found(what: str) -> V1Error:
    return V1Error(404, f"{what.upper().replace(' ', '_')}_NOT_FOUND", f"{what} not found")


def forbidden(code: str, message: str) -> V1Error:
    return V1Error(403, code, message)


@web.middleware
async def v1_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except V1Error as error:
        return envelope(request, error.status, error.code, error.message)
    except UnsupportedMediaType as error:
        return envelope(request, 415, "UNSUPPORTED_MEDIA_TYPE", str(error))
    except InvalidInput as error:
        failure = invalid(error)
        return envelope(request, failure.status, failure.code, failure.message)
    except web.HTTPNotFound:
        return envelope(request, 404, "NOT_FOUND", f"no route {request.path}")
    except web.HTTPMethodNotAllowed as error:
        return envelope(request, 405, "METHOD_NOT_ALLOWED", f"{error.method} is not allowed on {request.path}")
    except web.HTTPRequestEntityTooLarge:
        return envelope(request, 413, "PAYLOAD_TOO_LARGE", "request body too large")
    except web.HTTPException:
        raise
    except Exception as error:
        if (dependency := unavailable_dependency(error)) is not None:
            log.warning("v1 api: %s unavailable: %s", dependency, error, extra={"path": request.path})
            message = f"{dependency} is not answering; nothing was changed, retry shortly"
            response = envelope(request, 503, "SERVICE_UNAVAILABLE", message)
            response.headers.update(retry_after())
            return response
        log.exception("v1 api request failed", extra={"path": request.path})
        return envelope(request, 500, "INTERNAL_ERROR", "An internal error occurred")
