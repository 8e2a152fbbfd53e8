"""Errors the way Svix shapes them, so the SDK raises its own exception types.

Svix answers ``{"code": ..., "detail": ...}`` (the SDK's ``HttpError``) for
every error but validation, and ``{"detail": [{"loc", "msg", "type"}]}``
(``HTTPValidationError``) for 422. Handlers raise these; the middleware
turns them, and aiohttp's own 404/405/413, into those bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web

log = logging.getLogger("hookstream.api.svix")


class SvixError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail

    def response(self) -> web.Response:
        return web.json_response({"code": self.code, "detail": self.detail}, status=self.status)


class Invalid(Exception):
    """422: ``loc`` names the input (``["body", "url"]``, ``["query", "limit"]``, ``["path", "attempt_id"]``)."""

    def __init__(self, loc: Sequence[str], msg: str, kind: str = "value_error") -> None:
        super().__init__(msg)
        self.loc = list(loc)
        self.msg = msg
        self.kind = kind

    def response(self) -> web.Response:
        return web.json_response({"detail": [{"loc": self.loc, "msg": self.msg, "type": self.kind}]}, status=422)


def not_found(what: str = "Entity") -> SvixError:
    return SvixError(404, "not_found", f"{what} not found")


def conflict(detail: str) -> SvixError:
    return SvixError(409, "conflict", detail)


def unauthorized(detail: str) -> SvixError:
    return SvixError(401, "authentication_failed", detail)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def svix_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (SvixError, Invalid) as error:
        return error.response()
    except web.HTTPRequestEntityTooLarge:
        return Invalid(["body"], "request body too large").response()
    except web.HTTPNotFound:
        return not_found().response()
    except web.HTTPMethodNotAllowed as error:
        return SvixError(405, "method_not_allowed", f"{error.method} is not allowed here").response()
    except web.HTTPException:
        raise
    except Exception:
        log.exception("svix api request failed", extra={"path": request.path})
        return SvixError(500, "internal_error", "internal error").response()
