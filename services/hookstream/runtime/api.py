"""The API's own components: a producer, a config cache with its read model, and a ClickHouse client.

Kept apart from the roles so the HTTP API runs wherever it is mounted
(``hookstream dev`` today; an ``api`` role later) without sharing clients
with other components: chDB clients serialize their own calls, so the API
gets its own (runtime/clickhouse.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from hookstream.api.commands import Commands
from hookstream.api.context import ApiContext
from hookstream.api.idempotency import IdempotencyStore
from hookstream.api.recent import RecentWrites
from hookstream.api.records import ConfigRecords
from hookstream.domain.schedule import parse_duration
from hookstream.foundation.secrets import SecretBox, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.background_tasks import BackgroundTasks
from hookstream.log.codec import AvroCodec
from hookstream.log.config_follower import ConfigFollower
from hookstream.log.producer import EventProducer
from hookstream.log.topics import BACKGROUND_TASKS, CONFIG, IDEMPOTENCY, TopicNames
from hookstream.runtime.clickhouse import connect


@contextlib.asynccontextmanager
async def running_api(settings: Settings, operator_token: str) -> AsyncIterator[ApiContext]:
    """Start what the API needs; stop it in reverse order whatever happens."""
    codec = AvroCodec()
    names = TopicNames.from_settings(settings)
    async with contextlib.AsyncExitStack() as stack:
        box = SecretBox(parse_keys(settings.secret_keys))
        producer = EventProducer(settings.kafka_bootstrap_servers, codec, linger_ms=0, client_id="hookstream-api")
        await producer.start()
        stack.push_async_callback(producer.stop)
        cache = ConfigFollower(settings.kafka_bootstrap_servers, names(CONFIG), codec)
        await cache.start()
        stack.push_async_callback(cache.stop)
        idempotency = IdempotencyStore(
            settings.kafka_bootstrap_servers, names(IDEMPOTENCY), codec, producer,
            parse_duration(settings.api_idempotency_window),
        )  # fmt: skip
        await idempotency.start()
        stack.push_async_callback(idempotency.stop)
        background = BackgroundTasks(settings.kafka_bootstrap_servers, names(BACKGROUND_TASKS), codec, producer)
        await background.start()
        stack.push_async_callback(background.stop)
        clickhouse = await asyncio.to_thread(connect, settings.resolved_clickhouse_url, settings.clickhouse_database)
        stack.callback(clickhouse.close)
        yield ApiContext(
            settings=settings,
            operator_token=operator_token,
            commands=Commands(producer, cache, names),
            cache=cache,
            records=ConfigRecords(cache.view),
            clickhouse=clickhouse,
            recent=RecentWrites(settings.api_recent_writes_s),
            box=box,
            idempotency=idempotency,
            background=background,
        )
