"""ClickHouse away: every dialect answers 503 with ``Retry-After`` (not a 500 and a stack trace) and writes nothing.

The API reaches the session store through a TCP relay the test cuts and
restores, as a store restart or a network partition would look to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import MESSAGES, TopicNames
from tests.support.svix_api import ServedApi, events_on_log

pytestmark = pytest.mark.integration


class Relay:
    """Forwards 127.0.0.1:port to the store until ``cut``; ``restore`` listens on the same port again."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> Relay:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def restore(self) -> None:
        await self.start()


@pytest.fixture
async def relay(settings: Settings) -> AsyncIterator[Relay]:
    relay = await Relay(urlsplit(settings.resolved_clickhouse_url).port or 0).start()
    yield relay
    with contextlib.suppress(Exception):
        await relay.cut()


@pytest.fixture
def api_settings(settings: Settings, relay: Relay) -> Settings:
    url = urlsplit(settings.resolved_clickhouse_url)
    netloc = url.netloc.rsplit(":", 1)[0] + f":{relay.port}"
    return settings.replace(secret_keys=new_key_text(), clickhouse_url=urlunsplit(url._replace(netloc=netloc)))


@pytest.fixture
async def http(api: ServedApi) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=30) as client:
        yield client


async def test_each_dialect_answers_503_while_clickhouse_is_away_and_writes_nothing(
    http: httpx.AsyncClient, relay: Relay, api_settings: Settings, topics: TopicNames
) -> None:
    app = (await http.post("/api/v1/app", json={"name": "away"})).json()["id"]
    tenant = await http.put("/api/v1/tenants/away", json={})
    assert tenant.status_code in (200, 201), tenant.text
    msg = {"eventType": "order.created", "eventId": "evt-away", "payload": {"n": 1}}
    reads = [
        f"/api/v1/app/{app}/msg",  # svix list
        "/api/v1/attempts?tenant_id=away",  # outpost list
        f"/v1/messages/{uuid.uuid4()}/attempts",  # v1
    ]
    before = {path: (await http.get(path)).status_code for path in reads}
    assert 503 not in before.values() and 500 not in before.values(), before

    await relay.cut()
    sent = await http.post(f"/api/v1/app/{app}/msg", json=msg)  # the eventId's dedupe look-up needs ClickHouse
    assert sent.status_code == 503, sent.text
    assert sent.headers["Retry-After"] == "5"
    assert sent.json()["code"] == "service_unavailable" and "ClickHouse" in sent.json()["detail"]
    published = await http.post(
        "/api/v1/publish", json={"tenant_id": "away", "id": "evt-away", "topic": "t", "data": {}}
    )
    assert published.status_code == 503 and published.headers["Retry-After"] == "5", published.text
    assert published.json()["status"] == 503
    for path in reads:
        answer = await http.get(path)
        assert answer.status_code == 503, (path, answer.text)
        assert answer.headers["Retry-After"] == "5"
    v1 = await http.get(reads[2])
    assert v1.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert [r for _, r in await events_on_log(api_settings, topics(MESSAGES))] == []  # nothing accepted

    await relay.restore()
    again = await http.post(f"/api/v1/app/{app}/msg", json=msg)
    assert again.status_code == 202, again.text
    assert {path: (await http.get(path)).status_code for path in reads} == before
