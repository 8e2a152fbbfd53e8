"""``/console/``: served by the API process with its security headers; the portal link opens it."""

from __future__ import annotations

import httpx
import pytest
from svix.api import ApplicationIn, AppPortalAccessIn

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from tests.support.svix_api import ServedApi


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), console_frame_ancestors="'self' https://embed.example.com")


async def test_console_files_headers_and_portal_link(api: ServedApi) -> None:
    async with httpx.AsyncClient(base_url=api.url) as http:
        index = await http.get("/console/")
        assert index.status_code == 200 and '<script type="module" src="main.js">' in index.text
        csp = index.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert csp.endswith("frame-ancestors 'self' https://embed.example.com")
        assert index.headers["X-Content-Type-Options"] == "nosniff"
        assert (await http.get("/console")).headers["Location"] == "/console/"
        script = await http.get("/console/main.js")
        assert script.headers["Content-Type"].startswith("text/javascript") and "import" in script.text
        assert (await http.get("/console/portal")).text == index.text
        for missing in ("/console/nope.js", "/console/..%2Fapi%2Fconsole.py", "/console/index.py"):
            assert (await http.get(missing)).status_code == 404
    app = await api.svix.application.create(ApplicationIn(name="Embedded"))
    access = await api.svix.authentication.app_portal_access(app.id, AppPortalAccessIn())
    assert access.url == f"{api.url}/console/portal#key={access.token}"


async def test_outpost_tenant_portal_url_opens_the_console_portal(api: ServedApi) -> None:
    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as http:
        assert (await http.put("/api/v1/tenants/acme")).status_code == 201
        answer = await http.get("/api/v1/tenants/acme/portal", params={"theme": "dark"})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["tenant_id"] == "acme" and body["redirect_url"].startswith(f"{api.url}/console/portal#key=hs_app_")
        tenant_token = body["redirect_url"].partition("#key=")[2]
        mine = await http.get("/api/v1/tenants/acme", headers={"Authorization": f"Bearer {tenant_token}"})
        assert mine.status_code == 200
        assert (await http.get("/api/v1/tenants/nobody/portal")).status_code == 404
