"""Errors the way Outpost shapes them: ``{"status", "message", "data"}``, which every SDK error model reads.

The outpost-sdk parses ``message`` for every error (``BadRequestError``,
``UnauthorizedError``, ``NotFoundError``, ``InternalServerError``) and
``status``/``message``/``data`` for ``APIErrorResponse`` (403, 409, 422).
A malformed query or path (a bad cursor, a limit out of range) is a 400; a
body that does not validate is a 422 whose ``data`` lists the problems, as
Outpost answers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hookstream.api.commands import ConfigConflict
from hookstream.api.spec import InvalidInput, UnsupportedMediaType
from hookstream.api.unavailable import retry_after, unavailable_dependency

log = logging.getLogger("hookstream.api.outpost")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["status", "message"],
    "properties": {
        "status": {"type": "integer"},
        "message": {"type": "string"},
        "data": {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]},
    },
}
ERRORS = {status: ERROR_SCHEMA for status in (400, 401, 403, 404, 415, 422, 500, 503)}


class OutpostError(Exception):
    def __init__(self, status: int, message: str, data: list[str] | dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.data = data

    def response(self) -> web.Response:
        body: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.data is not None:
            body["data"] = self.data
        return web.json_response(body, status=self.status)


def not_found(what: str) -> OutpostError:
    return OutpostError(404, f"{what} not found")


def bad_request(field: str, reason: str) -> OutpostError:
    return OutpostError(400, f"{field} {reason}", [f"{field} {reason}"])


def invalid(field: str, reason: str) -> OutpostError:
    """422 for a body field: ``field`` is its JSON path (``config.url``)."""
    return OutpostError(422, "validation error", [f"{field} {reason}"])


def from_invalid_input(error: InvalidInput) -> OutpostError:
    field = ".".join(map(str, error.loc)) or "body"
    if error.where == "body":
        return invalid(field, error.reason)
    return bad_request(f"{error.where} parameter {field}", error.reason)


@web.middleware
async def outpost_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OutpostError as error:
        return error.response()
    except UnsupportedMediaType as error:
        return OutpostError(415, str(error)).response()
    except InvalidInput as error:
        return from_invalid_input(error).response()
    except ConfigConflict as error:
        return OutpostError(409, str(error)).response()
    except web.HTTPRequestEntityTooLarge:
        return OutpostError(413, "request body too large").response()
    except web.HTTPNotFound:
        return not_found("route").response()
    except web.HTTPMethodNotAllowed as error:
        return OutpostError(405, f"{error.method} is not allowed here").response()
    except web.HTTPException:
        raise
    except Exception as error:
        if (dependency := unavailable_dependency(error)) is not None:
            log.warning("outpost api: %s unavailable: %s", dependency, error, extra={"path": request.path})
            response = OutpostError(
                503, f"{dependency} is not answering; nothing was changed, retry shortly"
            ).response()
            response.headers.update(retry_after())
            return response
        log.exception("outpost api request failed", extra={"path": request.path})
        return OutpostError(500, "internal error").response()
