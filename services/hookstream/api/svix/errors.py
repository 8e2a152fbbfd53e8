"""Errors the way Svix shapes them, so the SDK raises its own exception types.

Svix answers ``{"code": ..., "detail": ...}`` (the SDK's ``HttpError``) for
every error but validation, and ``{"detail": [{"loc", "msg", "type"}]}``
(``HTTPValidationError``) for 422. Handlers raise these; the middleware
turns them, and aiohttp's own 404/405/413, into those bodies.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

from aiohttp import web

from hookstream.api.commands import ConfigConflict
from hookstream.api.spec import InvalidInput, UnsupportedMediaType
from hookstream.api.unavailable import retry_after, unavailable_dependency

log = logging.getLogger("hookstream.api.svix")


class SvixError(Exception):
    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = dict(headers or {})

    def response(self) -> web.Response:
        return web.json_response({"code": self.code, "detail": self.detail}, status=self.status, headers=self.headers)


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


def forbidden(detail: str) -> SvixError:
    return SvixError(403, "forbidden", detail)


def rate_limited(retry_after_s: int) -> SvixError:
    detail = f"rate limit exceeded for this token; retry in {retry_after_s} s"
    return SvixError(429, "rate_limited", detail, {"Retry-After": str(retry_after_s)})


def from_invalid_input(error: InvalidInput) -> Invalid:
    """Svix's ``loc``: where, then the field; a list item is named by its field, the index goes in ``msg``."""
    loc: list[str] = [error.where]
    for depth, part in enumerate(error.loc):
        if isinstance(part, int):
            inside = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.loc[depth:])
            return Invalid(loc, f"{'.'.join(loc[1:])}{inside}: {error.reason}")
        loc.append(part)
    if error.missing is not None:
        return Invalid([*loc, error.missing], "field required")
    return Invalid(loc, error.reason)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def svix_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except (SvixError, Invalid) as error:
        return error.response()
    except UnsupportedMediaType as error:
        return SvixError(415, "unsupported_media_type", str(error)).response()
    except InvalidInput as error:
        return from_invalid_input(error).response()
    except ConfigConflict as error:
        return conflict(str(error)).response()
    except web.HTTPRequestEntityTooLarge:
        return Invalid(["body"], "request body too large").response()
    except web.HTTPNotFound:
        return not_found().response()
    except web.HTTPMethodNotAllowed as error:
        return SvixError(405, "method_not_allowed", f"{error.method} is not allowed here").response()
    except web.HTTPException:
        raise
    except Exception as error:
        if (dependency := unavailable_dependency(error)) is not None:
            log.warning("svix api: %s unavailable: %s", dependency, error, extra={"path": request.path})
            detail = f"{dependency} is not answering; nothing was changed, retry shortly"
            return SvixError(503, "service_unavailable", detail, retry_after()).response()
        log.exception("svix api request failed", extra={"path": request.path})
        return SvixError(500, "internal_error", "internal error").response()
