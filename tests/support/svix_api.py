"""The API served in-process on 127.0.0.1:0, and the official svix SDK pointed at it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from svix.api import SvixAsync, SvixOptions

from hookstream.api.app import build_app
from hookstream.api.context import ApiContext
from hookstream.runtime.api import running_api
from hookstream.runtime.ops import Metrics
from hookstream.runtime.settings import Settings

TOKEN = "hs_op_test-operator-token"


@dataclass
class ServedApi:
    url: str
    token: str
    ctx: ApiContext
    svix: SvixAsync
    others: list[SvixAsync] = field(default_factory=list)

    def client(self, token: str) -> SvixAsync:
        """Another SDK client (e.g. with a wrong token); closed with the API."""
        client = SvixAsync(token, SvixOptions(server_url=self.url, retry_schedule=[]))
        self.others.append(client)
        return client


@contextlib.asynccontextmanager
async def served_api(settings: Settings, token: str = TOKEN) -> AsyncIterator[ServedApi]:
    """``running_api`` behind a real HTTP server; the SDK does not retry, so every status is seen as sent."""
    async with running_api(settings, token) as ctx:

        async def healthy() -> None:
            return None

        runner = web.AppRunner(build_app({"kafka": healthy}, Metrics(), ctx), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            client = SvixAsync(token, SvixOptions(server_url=url, retry_schedule=[]))
            served = ServedApi(url, token, ctx, client)
            try:
                yield served
            finally:
                for sdk in (client, *served.others):
                    await sdk._httpx_client.aclose()
        finally:
            await runner.cleanup()
