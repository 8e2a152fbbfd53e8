"""Per-token rate limiting of the Svix routes (``domain.ratelimit`` buckets, one per bearer token).

It runs after authentication, so only tokens that authenticated get a
bucket and the number of buckets is bounded by the tokens in use (and by
the limiter's own cap). Buckets are keyed by a digest of the token, never
the token itself. The operator token and each application token have their
own bucket: one flooding client slows only itself. Health checks are exempt.
The limit is per API process; N processes allow N times the rate.
"""

from __future__ import annotations

import hashlib
import time

from aiohttp import web

from hookstream.api.auth import bearer
from hookstream.api.svix.auth import OPEN_PATHS
from hookstream.api.svix.errors import Handler, rate_limited
from hookstream.domain.ratelimit import RateLimiter
from hookstream.foundation.settings import Settings

RATE_LIMITER = web.AppKey("svix_rate_limiter", RateLimiter)


def limiter_for(settings: Settings) -> RateLimiter:
    return RateLimiter(settings.api_rate_limit_per_s, settings.api_rate_limit_burst)


@web.middleware
async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = bearer(request)
    if request.path in OPEN_PATHS or token is None:
        return await handler(request)
    key = hashlib.sha256(token.encode()).hexdigest()
    decision = request.app[RATE_LIMITER].take(key, time.monotonic())
    if not decision.allowed:
        raise rate_limited(decision.retry_after_s)
    return await handler(request)
