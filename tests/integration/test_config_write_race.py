"""Two writers of one endpoint: the API and the status processor's disable, against the real broker.

Both write ``EndpointUpserted`` with the version they read plus one, and the
config fold keeps the first event of a version. The API's update operation
checks that the view holds its own record after catching up; when the
disable took the version first it applies its change again on top, so the
end state holds both changes (or the API answers an explicit 409), never a
silently dropped write.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from clickhouse_connect.driver import Client
from svix.api import ApplicationIn, EndpointIn, EndpointPatch
from svix.exceptions import HttpError

from hookstream.api.commands import ENDPOINT
from hookstream.domain.directory import endpoint_from_record, endpoint_record
from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import CONFIG, TopicNames
from tests.support.svix_api import ServedApi, served_api

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(settings: Settings, topics: TopicNames, clickhouse: Client) -> AsyncIterator[ServedApi]:
    async with served_api(settings.replace(secret_keys=new_key_text())) as served:
        yield served


async def _endpoint(api: ServedApi) -> tuple[str, str, uuid.UUID]:
    app = await api.svix.application.create(ApplicationIn(name="race"))
    endpoint = await api.svix.endpoint.create(app.id, EndpointIn(url="https://example.com/hook", description="first"))
    return app.id, endpoint.id, parse_id(endpoint.id, IdKind.ENDPOINT)


async def _disable(api: ServedApi, topics: TopicNames, record: dict[str, Any]) -> None:
    """What the status processor writes: the endpoint as it read it, disabled, version + 1, outside the API."""
    endpoint = endpoint_from_record(record)
    disabled = endpoint_record(endpoint, updated_at=datetime.now(UTC), disabled=True, version=endpoint.version + 1)
    ack = await api.ctx.commands.producer.send(
        topics(CONFIG), "EndpointUpserted", disabled, record["endpoint_id"].encode()
    )
    await ack


async def test_an_api_change_that_lost_its_version_to_a_disable_is_applied_again_on_top(
    api: ServedApi, topics: TopicNames
) -> None:
    ctx = api.ctx
    app_id, endpoint_ref, endpoint_id = await _endpoint(api)
    stale = endpoint_record(ctx.cache.view.endpoints[endpoint_id])
    await _disable(api, topics, stale)  # takes version 2 before the API writes
    reads = [stale]  # the API's first read is a moment behind the topic: it still sees version 1

    async def read() -> dict[str, Any]:
        return reads.pop() if reads else endpoint_record(ctx.cache.view.endpoints[endpoint_id])

    written = await ctx.commands.upsert(ENDPOINT, read, lambda _: {"description": "second"})
    assert written.record["version"] == stale["version"] + 2, "version 2 was taken: the change went in again as 3"
    got = await api.svix.endpoint.get(app_id, endpoint_ref)
    assert (got.description, got.disabled) == ("second", True), "both the disable and the API's change hold"


async def test_concurrent_patches_and_disables_never_silently_lose_the_api_change(
    api: ServedApi, topics: TopicNames
) -> None:
    for round_ in range(8):
        app_id, endpoint_ref, endpoint_id = await _endpoint(api)
        current = endpoint_record(api.ctx.cache.view.endpoints[endpoint_id])
        patched, _ = await asyncio.gather(
            api.svix.endpoint.patch(app_id, endpoint_ref, EndpointPatch(description=f"round {round_}")),
            _disable(api, topics, current),
            return_exceptions=True,
        )
        if isinstance(patched, HttpError):
            assert patched.status_code == 409, patched  # an explicit answer: the caller knows to try again
            continue
        assert not isinstance(patched, BaseException), patched
        got = await api.svix.endpoint.get(app_id, endpoint_ref)
        assert got.description == f"round {round_}", "the API answered 200: its change must be what the view holds"
