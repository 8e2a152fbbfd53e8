"""What an API dialect is given: the command producers, the config read model, ClickHouse, and settings."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from clickhouse_connect.driver import Client

from hookstream.api.commands import Commands
from hookstream.api.idempotency import IdempotencyStore
from hookstream.api.recent import RecentWrites
from hookstream.api.records import ConfigRecords
from hookstream.foundation.secrets import SecretBox
from hookstream.foundation.settings import Settings
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


API_CONTEXT = web.AppKey("api_context", ApiContext)
