"""Endpoints as the delivery worker needs them: looked up without losing a race, secrets opened once.

A task names an endpoint the router saw in its own config cache. This
worker's cache may not have read that record yet, so "not found" is only
believed after reading the config topic up to now; the answer is then
remembered until the endpoint reappears, so a backlog of tasks for a deleted
endpoint costs one catch-up, not one per task.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiokafka.errors import KafkaError

from hookstream.domain.custom_headers import deliverable, metadata_headers
from hookstream.domain.directory import Endpoint
from hookstream.domain.signing import webhook_headers
from hookstream.foundation.secrets import SecretBox
from hookstream.foundation.tasks import cancel_and_wait
from hookstream.log.config_follower import ConfigFollower

log = logging.getLogger("hookstream.delivery")


def user_agent() -> str:
    try:
        return f"hookstream/{version('hookstream')}"
    except PackageNotFoundError:
        return "hookstream"


def request_headers(
    endpoint: Endpoint,
    webhook_id: str,
    timestamp: int,
    body: bytes,
    secrets: Sequence[str],
    *,
    svix_names: bool,
    user_agent: str,
) -> dict[str, str]:
    """The endpoint's custom headers, its delivery metadata (which overrides them, as in Outpost), then ours,
    which neither can replace."""
    metadata = metadata_headers(endpoint.delivery_metadata)
    headers = {k: v for k, v in deliverable(endpoint.headers).items() if k.lower() not in metadata} | metadata
    headers |= {"Content-Type": "application/json", "User-Agent": user_agent}
    return headers | webhook_headers(webhook_id, timestamp, body, secrets, svix_names=svix_names)


class EndpointDirectory:
    """Reads through a started :class:`ConfigFollower`; the cache's lifecycle stays with its owner."""

    def __init__(self, cache: ConfigFollower, box: SecretBox) -> None:
        self._cache = cache
        self._box = box
        self._opened: dict[bytes, str] = {}  # sealed -> clear; a ciphertext always opens to the same secret
        self._missing: set[uuid.UUID] = set()
        self._catching_up: asyncio.Task[None] | None = None
        cache.subscribe(self._on_config)

    async def get(self, endpoint_id: uuid.UUID) -> Endpoint | None:
        """The endpoint, or None once the config topic, read up to now, says it does not exist."""
        endpoint = self._cache.view.endpoints.get(endpoint_id)
        if endpoint is not None or endpoint_id in self._missing:
            return endpoint
        if self._catching_up is None or self._catching_up.done():
            self._catching_up = asyncio.create_task(self._catch_up(), name="delivery-config-catch-up")
        await asyncio.shield(self._catching_up)  # shared by every task waiting on it
        endpoint = self._cache.view.endpoints.get(endpoint_id)
        if endpoint is None:
            self._missing.add(endpoint_id)
        return endpoint

    def secrets(self, endpoint: Endpoint, now: datetime) -> list[str]:
        """Clear text of every secret that signs now; raises ``SecretKeyError`` if one does not open."""
        opened = []
        for sealed in endpoint.signing_secrets(now):
            clear = self._opened.get(sealed.ciphertext)
            if clear is None:
                clear = self._opened[sealed.ciphertext] = self._box.open(sealed.ciphertext, sealed.key_id)
            opened.append(clear)
        return opened

    async def close(self) -> None:
        await cancel_and_wait(self._catching_up)

    async def _catch_up(self) -> None:
        while True:
            try:
                await self._cache.catch_up()
                return
            except (TimeoutError, KafkaError) as exc:  # the broker is away; the task waits, it is not dropped
                log.warning("delivery: config topic catch-up failed, retrying: %r", exc)
                await asyncio.sleep(1)

    def _on_config(self, name: str, record: dict[str, Any]) -> None:
        if name == "EndpointUpserted":
            self._missing.discard(uuid.UUID(record["endpoint_id"]))
