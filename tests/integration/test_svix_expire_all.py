"""Svix ``POST /api/v1/auth/app/{app_id}/expire-all`` against real Kafka: the application's tokens issued before
stop working at once in the process that answered, in another API process as soon as its view of ``config`` has
the write, and after a restart; requests racing the call get 200 or 401, never anything else."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.support.svix_api import TOKEN, ServedApi, eventually, served_api

pytestmark = pytest.mark.integration
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


async def _app_token(http: httpx.AsyncClient, api: ServedApi, app_id: str) -> str:
    answer = await http.post(f"{api.url}/api/v1/auth/app-portal-access/{app_id}", headers=OPERATOR, json={})
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


async def _status(http: httpx.AsyncClient, api: ServedApi, app_id: str, token: str) -> int:
    answer = await http.get(f"{api.url}/api/v1/app/{app_id}/endpoint", headers={"Authorization": f"Bearer {token}"})
    return answer.status_code


async def test_expire_all_revokes_old_tokens_everywhere_even_racing_their_use(api: ServedApi) -> None:
    async with httpx.AsyncClient(timeout=30) as http, served_api(api.ctx.settings) as twin:
        made = await http.post(f"{api.url}/api/v1/app", headers=OPERATOR, json={"name": "expiring", "uid": "exp"})
        app_id = made.json()["id"]
        other = (await http.post(f"{api.url}/api/v1/app", headers=OPERATOR, json={"name": "kept"})).json()["id"]
        old, kept = await _app_token(http, api, app_id), await _app_token(http, api, other)
        await eventually(lambda: _status(http, twin, app_id, old), lambda s: s == 200)

        uses: list[tuple[float, float, int]] = []  # started, finished, status
        done = asyncio.Event()

        async def use() -> None:
            while not done.is_set():
                started = time.monotonic()
                status = await _status(http, api, app_id, old)
                uses.append((started, time.monotonic(), status))

        users = [asyncio.create_task(use()) for _ in range(4)]
        await asyncio.sleep(0.2)
        called = time.monotonic()
        expired = await http.post(f"{api.url}/api/v1/auth/app/exp/expire-all", headers=OPERATOR, json={})
        answered = time.monotonic()
        assert expired.status_code == 204, expired.text
        await asyncio.sleep(0.2)
        done.set()
        await asyncio.gather(*users)
        assert {status for _, _, status in uses} == {200, 401}
        assert all(status == 200 for _, finished, status in uses if finished < called)
        late = [status for started, _, status in uses if started > answered]
        assert late and set(late) == {401}, "a request sent after expire-all answered used the old token"
        print(f"\nexpire-all: {len(uses)} racing requests, {len(late)} after the answer, all 401")

        await eventually(lambda: _status(http, twin, app_id, old), lambda s: s == 401, timeout_s=10)
        new = await _app_token(http, api, app_id)
        assert await _status(http, api, app_id, new) == 200
        await eventually(lambda: _status(http, twin, app_id, new), lambda s: s == 200, timeout_s=10)
        assert await _status(http, api, other, kept) == 200, "another application's tokens are untouched"
        # Svix's expiry: the tokens just before keep working that long; session ids are not supported.
        grace = await http.post(f"{api.url}/api/v1/auth/app/{app_id}/expire-all", headers=OPERATOR,
                                json={"expiry": 60})  # fmt: skip
        assert grace.status_code == 204
        assert await _status(http, api, app_id, new) == 200
        sessions = await http.post(f"{api.url}/api/v1/auth/app/{app_id}/expire-all", headers=OPERATOR,
                                   json={"sessionIds": ["s1"]})  # fmt: skip
        assert (sessions.status_code, sessions.json()["detail"][0]["loc"]) == (422, ["body", "sessionIds"])
        by_app = await http.post(f"{api.url}/api/v1/auth/app/{app_id}/expire-all",
                                 headers={"Authorization": f"Bearer {new}"}, json={})  # fmt: skip
        assert by_app.status_code == 403
        missing = await http.post(f"{api.url}/api/v1/auth/app/app_none/expire-all", headers=OPERATOR, json={})
        assert missing.status_code == 404
    async with httpx.AsyncClient(timeout=30) as http, served_api(api.ctx.settings) as restarted:
        assert await _status(http, restarted, app_id, old) == 401, "the revocation survives a restart"
        assert await _status(http, restarted, app_id, new) == 200
