"""What an API dialect is given: the command producers, the config read model, ClickHouse, the background
tasks' states, and settings."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass

from aiohttp import web
from clickhouse_connect.driver import Client

from hookstream.api.commands import Commands
from hookstream.api.idempotency import IdempotencyStore
from hookstream.api.recent import RecentWrites
from hookstream.api.records import ConfigRecords
from hookstream.domain.access import (
    ALL_CAPABILITIES,
    NONCE_BYTES,
    Generation,
    Scope,
    app_token_key,
    authenticate,
    issue_app_token,
)
from hookstream.foundation.secrets import SecretBox
from hookstream.foundation.settings import Settings
from hookstream.log.background_tasks import BackgroundTasks
from hookstream.log.config_follower import ConfigFollower


@dataclass
class ApiContext:
    settings: Settings
    operator_token: str
    commands: Commands
    cache: ConfigFollower
    records: ConfigRecords
    clickhouse: Client
    recent: RecentWrites
    box: SecretBox
    idempotency: IdempotencyStore
    background: BackgroundTasks

    def token_generation(self, app_id: uuid.UUID) -> Generation:
        """The application's token generation as this process's view of ``config`` holds it."""
        app = self.records.view.applications.get(app_id)
        if app is None or app.token_generation == 0:
            return Generation()
        until = app.previous_tokens_until.timestamp() if app.previous_tokens_until is not None else None
        return Generation(app.token_generation, until)

    def authenticate(self, token: str, now: float) -> Scope | None:
        """The scope a bearer token grants in every dialect (None: 401)."""
        return authenticate(self.operator_token, token, now, self.token_generation, self.background.revoked.revoked)

    def issue_app_token(
        self, app_id: uuid.UUID, expires_at: int, capabilities: frozenset[str] = ALL_CAPABILITIES
    ) -> str:
        generation = self.token_generation(app_id).current
        key = app_token_key(self.operator_token)
        return issue_app_token(key, app_id, expires_at, generation, capabilities, os.urandom(NONCE_BYTES))


API_CONTEXT = web.AppKey("api_context", ApiContext)
