"""Svix ``POST /api/v1/auth/logout`` against real Kafka: the logged-out token answers 401 at once in the process
that answered, in another API process as soon as it has followed the log to the revocation, and after a restart;
the application's other tokens keep working; the operator token cannot log out; the log holds a digest, never
the token."""

from __future__ import annotations

import time

import pytest
from svix.api import ApplicationIn, AppPortalAccessIn
from svix.exceptions import HttpError

from hookstream.log.topics import BACKGROUND_TASKS, TopicNames
from tests.support.svix_api import ServedApi, events_on_log, eventually, served_api, status_of

pytestmark = pytest.mark.integration


async def _read(api: ServedApi, app_id: str, token: str) -> int:
    return await status_of(api.client(token).endpoint.list(app_id))


async def test_logout_revokes_that_token_everywhere_and_only_it(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="Acme", uid="acme"))
    access = api.svix.authentication.app_portal_access
    gone = (await access(app.id, AppPortalAccessIn())).token
    kept = (await access(app.id, AppPortalAccessIn(expiry=3600))).token  # another expiry: another token
    assert gone != kept
    async with served_api(api.ctx.settings) as twin:
        await eventually(lambda: _read(twin, app.id, gone), lambda s: s == 200)
        called = time.monotonic()
        assert await api.client(gone).authentication.logout() is None
        assert await _read(api, app.id, gone) == 401, "the next request after the answer is refused"
        await eventually(lambda: _read(twin, app.id, gone), lambda s: s == 401, timeout_s=10)
        print(f"\nlogout: refused by another API process {time.monotonic() - called:.2f}s after the call")
        assert await _read(api, app.id, kept) == 200, "the application's other tokens keep working"
        assert await _read(twin, app.id, kept) == 200

        with pytest.raises(HttpError) as again:
            await api.client(gone).authentication.logout()
        assert again.value.status_code == 401, "a logged-out token is no longer a token"
        with pytest.raises(HttpError) as operator:
            await api.svix.authentication.logout()
        assert operator.value.status_code == 403
    async with served_api(api.ctx.settings) as restarted:
        assert await _read(restarted, app.id, gone) == 401, "the revocation survives a restart"
        assert await _read(restarted, app.id, kept) == 200

    logged = await events_on_log(api.ctx.settings, TopicNames.from_settings(api.ctx.settings)(BACKGROUND_TASKS))
    revocations = [record for name, record in logged if name == "TokenRevoked"]
    held = api.ctx.records.application_by_uid("acme")
    assert held is not None and [r["app_id"] for r in revocations] == [held["app_id"]]
    assert all(gone.removeprefix("hs_app_")[:20] not in str(record) for record in revocations), "no token on the log"
