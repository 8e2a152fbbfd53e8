"""Per-token rate limiting of the Svix routes (``domain.ratelimit`` buckets, one per bearer token).

It runs after authentication, so only tokens that authenticated get a
bucket and the number of buckets is bounded by the tokens in use (and by
the limiter's own cap). Buckets are keyed by a digest of the token, never
the token itself. Each application token has its own bucket: one flooding
client slows only itself. The operator token has a limiter of its own,
off by default: it is the deployment's own client (ingest, scripts, the
dashboard), and a user sending their own load must not meet a wall the
application tokens need. Health checks are exempt. The limit is per API
process; N processes allow N times the rate.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

from aiohttp import web

from hookstream.api.auth import bearer, scope_of
from hookstream.api.svix.auth import OPEN_PATHS
from hookstream.api.svix.errors import Handler, rate_limited
from hookstream.domain.ratelimit import RateLimiter
from hookstream.foundation.settings import Settings


@dataclass(frozen=True)
class TokenLimits:
    """The operator token's limiter and the application tokens' one."""

    operator: RateLimiter
    application: RateLimiter


RATE_LIMITER = web.AppKey("svix_rate_limiter", TokenLimits)


def limiter_for(settings: Settings) -> TokenLimits:
    return TokenLimits(
        operator=RateLimiter(settings.api_operator_rate_limit_per_s, settings.api_operator_rate_limit_burst),
        application=RateLimiter(settings.api_rate_limit_per_s, settings.api_rate_limit_burst),
    )


@web.middleware
async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = bearer(request)
    if request.path in OPEN_PATHS or token is None:
        return await handler(request)
    limits = request.app[RATE_LIMITER]
    limiter = limits.operator if scope_of(request).is_operator else limits.application
    if limiter.enabled:
        key = hashlib.sha256(token.encode()).hexdigest()
        decision = limiter.take(key, time.monotonic())
        if not decision.allowed:
            raise rate_limited(decision.retry_after_s)
    return await handler(request)
