"""/health and /metrics of the HTTP app over real dependencies: a broker and chDB, one of them down; a child's roles."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiokafka.admin import AIOKafkaAdminClient
from clickhouse_connect.driver import Client

from hookstream.api.app import build_app
from hookstream.foundation.settings import Settings
from hookstream.runtime.clickhouse import ping
from hookstream.runtime.role_process import STREAM_CHECKS, RoleProcess

pytestmark = pytest.mark.integration


@pytest.fixture
async def admin(kafka: str) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(bootstrap_servers=kafka, request_timeout_ms=2000)
    await client.start()
    yield client
    await client.close()


async def _serve(checks: dict[str, Callable[[], Awaitable[None]]]) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(build_app(checks), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


async def test_healthy_then_clickhouse_down_is_named(admin: AIOKafkaAdminClient, clickhouse: Client) -> None:
    down = {"up": True}

    async def clickhouse_check() -> None:
        if not down["up"]:
            raise ConnectionError("connection refused")
        ping(clickhouse)

    runner, base = await _serve({"kafka": admin.describe_cluster, "clickhouse": clickhouse_check})
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/health") as response:
                assert response.status == 200
                assert (await response.json())["checks"] == {"kafka": "ok", "clickhouse": "ok"}
            down["up"] = False
            async with session.get(f"{base}/health") as response:
                assert response.status == 503
                body = await response.json()
            assert body["failing"] == ["clickhouse"]
            assert body["checks"]["clickhouse"] == "ConnectionError: connection refused"
            assert body["checks"]["kafka"] == "ok"
            async with session.get(f"{base}/metrics") as response:
                text = await response.text()
            assert 'hookstream_dependency_up{dependency="clickhouse"} 0.0' in text
            assert 'hookstream_http_requests_total{route="/health",status="503"} 1.0' in text
    finally:
        await runner.cleanup()


async def test_unreachable_kafka_is_named() -> None:
    broken = AIOKafkaAdminClient(bootstrap_servers="127.0.0.1:1", request_timeout_ms=500)
    runner, base = await _serve({"kafka": broken.describe_cluster})
    try:
        async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as response:
            assert response.status == 503
            assert (await response.json())["failing"] == ["kafka"]
    finally:
        await runner.cleanup()
        await broken.close()


CHILD = """
import os, sys
from pathlib import Path
from aiohttp import web
from hookstream.api.app import build_app

broken = Path(sys.argv[1])

async def ok() -> None:
    pass

async def projector() -> None:
    if broken.exists():
        raise RuntimeError(broken.read_text())

web.run_app(build_app({"kafka": ok, "projector": projector, "recover": ok, "operational": ok}),
            host="127.0.0.1", port=int(os.environ["HOOKSTREAM_HTTP_PORT"]), print=None)
"""


class _StreamLike(RoleProcess):
    """A supervised child whose /health is the real one, with a projector check the test can break."""

    def __init__(self, settings: Settings, broken: Path) -> None:
        super().__init__(settings, (), "stream_process", stop_stage=1, surfaced=STREAM_CHECKS, start_timeout_s=30)
        self.broken = broken

    def _command(self) -> list[str]:
        return [sys.executable, "-c", CHILD, str(self.broken)]


async def test_a_failing_projector_in_a_child_is_named_by_the_parent(settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    child = await _StreamLike(settings, broken).start()
    runner, base = await _serve(child.checks())
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/health") as response:
                assert response.status == 200
                assert set((await response.json())["checks"]) == {"stream_process", *STREAM_CHECKS}
            broken.write_text("insert failed: Code: 241. MEMORY_LIMIT_EXCEEDED")
            async with session.get(f"{base}/health") as response:
                assert response.status == 503
                body = await response.json()
            assert body["failing"] == ["projector"], "the role by its name, not only the process that runs it"
            assert "MEMORY_LIMIT_EXCEEDED" in body["checks"]["projector"]
            broken.unlink()
            async with session.get(f"{base}/health") as response:
                assert response.status == 200
    finally:
        await runner.cleanup()
        await child.stop()
