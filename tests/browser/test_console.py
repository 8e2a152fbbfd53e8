"""The web console in a real headless Chromium against the whole pipeline: real broker, chDB, router, delivery
worker, projector and a local receiver that fails some deliveries.

The operator signs in, filters an endpoint's attempts to failures and sees exactly the failed ones, opens one
and reads its waterfall equal to the v1 API's figures, resends it and sees the manual attempt appear. The
consumer portal opened with an application token shows that application only: another application's ids typed
into the address answer not-found. Every main page passes axe-core (WCAG 2 A/AA) and is saved as a screenshot
under ``.artifacts/console/``; ``HOOKSTREAM_DOC_SCREENSHOTS=1`` also refreshes the README's two in ``docs/images/``.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from svix.api import ApplicationIn, EndpointIn, MessageIn

from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.receivers import Received, Reply
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
FAILING = 2
MESSAGES = 6


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # No retry inside the test's span, so the failed attempts listed stay exactly the ones made (the topics
    # fixture creates the retry tier's topic from these settings).
    return settings.replace(retry_schedule="0s,1h")


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32",
                            projector_batch_s=0.1)  # fmt: skip


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def _reply(request: Received) -> Reply:
    if b'"fail": true' in request.body or b'"fail":true' in request.body:
        return Reply(503, b"temporarily unavailable", {"content-type": "text/plain", "x-receiver": "down"})
    return Reply(200, b'{"received":true}', {"content-type": "application/json"})


async def _axe(page: Any, axe_source: str, name: str) -> None:
    """No WCAG 2 A/AA violation (labels, contrast, names, landmarks) on the page as it stands."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.evaluate(axe_source)  # through the debugger protocol: the page's CSP forbids inline script
    result = await page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    problems = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
    assert not problems, f"{name}: {problems}"


async def _shot(page: Any, artifacts: Path, name: str, docs: bool = False) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    if docs and os.environ.get("HOOKSTREAM_DOC_SCREENSHOTS"):
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(DOCS_IMAGES / f"console-{name}.png"), full_page=False)


async def _keyboard_reaches(page: Any, selector: str, presses: int = 60) -> None:
    """Tab from the top of the page until ``selector`` has the focus."""
    await page.locator("body").focus()
    for _ in range(presses):
        await page.keyboard.press("Tab")
        if await page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached with Tab")


async def test_operator_console_and_portal(
    api: ServedApi, receivers: ReceiverFactory, browser: Any, axe_source: str, artifacts: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        await _operator_and_portal(api, receivers, browser, context, axe_source, artifacts)
    except BaseException:
        for n, page in enumerate(context.pages):  # what the page showed, for the test's artefacts
            await page.screenshot(path=str(artifacts / f"failure-{n}.png"), full_page=True)
            (artifacts / f"failure-{n}.txt").write_text(f"{page.url}\n{await page.locator('body').inner_text()}")
        raise
    finally:
        await context.close()


async def _operator_and_portal(
    api: ServedApi, receivers: ReceiverFactory, browser: Any, context: Any, axe_source: str, artifacts: Path
) -> None:
    receiver = await receivers.plain(_reply)
    other_receiver = await receivers.plain()
    svix = api.svix
    shop = await svix.application.create(ApplicationIn(name="Shop", uid="shop"))
    other = await svix.application.create(ApplicationIn(name="Other tenant", uid="other-tenant"))
    endpoint = await svix.endpoint.create(shop.id, EndpointIn(url=receiver.url, channels=["eu"]))
    other_endpoint = await svix.endpoint.create(other.id, EndpointIn(url=other_receiver.url + "/other"))
    for i in range(MESSAGES):
        await svix.message.create(shop.id, MessageIn(event_type="order.created", channels=["eu"],
                                                     payload={"order": i, "fail": i < FAILING}))  # fmt: skip
    other_message = await svix.message.create(other.id, MessageIn(event_type="secret.thing", payload={"x": 1}))
    headers = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=10) as http:
        attempts_path = f"/api/v1/app/{shop.id}/attempt/endpoint/{endpoint.id}"

        async def listed(query: str = "") -> list[dict[str, Any]]:
            return (await http.get(f"{attempts_path}?limit=250{query}")).json()["data"]

        await eventually(listed, lambda rows: len(rows) == MESSAGES)
        await eventually(lambda: http.get(f"/api/v1/app/{other.id}/attempt/endpoint/{other_endpoint.id}"),
                         lambda r: len(r.json()["data"]) == 1)  # fmt: skip
        failed = await listed("&status=2")
        assert len(failed) == FAILING

        served = await http.get("/console/")
        csp = served.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'self'" in csp

        page = await context.new_page()
        csp_errors: list[str] = []
        page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
        page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))

        # Sign in with the operator token (a form; the token stays in session storage, never in the address).
        await page.goto(f"{api.url}/console/")
        await page.get_by_label("Operator token").fill(api.token)
        await page.get_by_role("button", name="Sign in").click()
        await page.locator("#apps").get_by_role("link", name="Shop").wait_for()
        await _axe(page, axe_source, "applications")
        await _shot(page, artifacts, "applications")
        await page.locator("#apps").get_by_role("link", name="Shop").click()
        await page.locator(f"#endpoints tr[data-endpoint-id='{endpoint.id}']").wait_for()
        await _axe(page, axe_source, "endpoints")
        await _shot(page, artifacts, "endpoints", docs=True)

        # Filter to failures: exactly the failed attempts.
        await page.goto(f"{api.url}/console/#/apps/{shop.id}/endpoints/{endpoint.id}/attempts")
        await page.locator("#attempts tbody tr").first.wait_for()
        assert await page.locator("#attempts tbody tr").count() == MESSAGES
        await page.get_by_label("Status", exact=True).select_option("2")
        await page.get_by_role("button", name="Apply filters").click()
        await page.wait_for_function("() => location.hash.includes('status=2')")
        await page.locator("#attempts tbody tr[data-status='fail']").first.wait_for()
        shown = await page.locator("#attempts tbody tr").evaluate_all("rows => rows.map(r => r.dataset.attemptId)")
        assert sorted(shown) == sorted(a["id"] for a in failed)
        await _axe(page, axe_source, "attempts")
        await _shot(page, artifacts, "attempts")

        # The live tail: a new failure appears at the top without reloading.
        await page.get_by_label("Live tail (every 2 s)").check()
        await svix.message.create(
            shop.id, MessageIn(event_type="order.created", channels=["eu"], payload={"order": 99, "fail": True})
        )
        await page.locator("#attempts tbody tr.new[data-status='fail']").wait_for(timeout=30000)
        assert await page.locator("#attempts tbody tr").count() == FAILING + 1

        # One failed attempt: the waterfall's figures are the v1 API's.
        target = failed[0]
        await page.locator(f"tr[data-attempt-id='{target['id']}'] a").first.click()
        await page.locator("#timing").wait_for()
        v1 = (await http.get(f"/v1/messages/{_uuid(target['msgId'])}/attempts")).json()["data"]
        [detail] = [a for a in v1 if a["id"] == _uuid(target["id"])]
        expected = {"dns": detail["dns_ms"], "tcp": detail["tcp_connect_ms"], "tls": detail["tls_handshake_ms"],
                    "ttfb": detail["ttfb_ms"], "transfer": detail["transfer_ms"],
                    "total": detail["response_latency_ms"]}  # fmt: skip
        for phase, value in expected.items():
            assert await page.locator(f"#timing tr[data-phase='{phase}'] td").nth(1).text_content() == str(value)
        assert await page.locator("#resolved-ip").text_content() == detail["resolved_ip"]
        assert await page.locator("#retry-type").text_content() == detail["retry_type"]
        await page.locator("#response-body").wait_for()
        assert await page.locator("#response-body").text_content() == "temporarily unavailable"
        assert await page.locator("#response-headers").get_by_text("down", exact=True).count() == 1
        await _axe(page, axe_source, "attempt")
        await _shot(page, artifacts, "attempt", docs=True)

        # Resend (the confirmation is accepted): the manual attempt appears on the page.
        await page.get_by_role("button", name="Resend").click()
        manual = page.locator("#message-attempts tbody tr", has_text="manual")
        await manual.first.wait_for(timeout=30000)
        assert await manual.count() == 1
        by_msg = (await http.get(f"/api/v1/app/{shop.id}/attempt/msg/{target['msgId']}")).json()["data"]
        assert await manual.get_attribute("data-attempt-id") in {a["id"] for a in by_msg if a["triggerType"] == 1}

        # The endpoint page: latency by phase per hour, status-code classes, slowest signal, recovery.
        await page.goto(f"{api.url}/console/#/apps/{shop.id}/endpoints/{endpoint.id}")
        await page.locator("figure.chart svg circle[data-series='total']").first.wait_for()
        assert await page.locator("#classes").get_by_text("5xx").count() == 1
        await page.locator("#slowest").wait_for()
        await _axe(page, axe_source, "endpoint")
        await _shot(page, artifacts, "endpoint")
        await _keyboard_reaches(page, "button[type=submit]")
        assert not csp_errors, csp_errors

        # The consumer portal: an application token in the fragment, then nothing of another application.
        access = (await http.post(f"/api/v1/auth/app-portal-access/{shop.id}", json={})).json()
        assert access["url"].startswith(f"{api.url}/console/portal#key=")
        portal = await context.new_page()  # a new tab, its own session storage

        await portal.goto(access["url"])
        await portal.locator("#endpoints").wait_for()
        assert "key=" not in portal.url and access["token"] not in portal.url
        assert await portal.locator("#brand").text_content() == "Webhooks portal"
        await _axe(portal, axe_source, "portal")
        await _shot(portal, artifacts, "portal")
        for path in ("", "/messages"):
            await portal.goto(f"{api.url}/console/portal#/apps/{shop.id}{path}")
            await portal.locator("main h1").wait_for()
            await portal.wait_for_function("() => !document.getElementById('main').hasAttribute('aria-busy')")
            text = await portal.locator("body").inner_text()
            for trace in (other.id, other.name, other_endpoint.id, "/other", other_message.id, "secret.thing"):
                assert trace not in text
        for foreign in (f"/apps/{other.id}", "/apps/other-tenant/messages", f"/apps/{shop.id}/endpoints/"
                        f"{other_endpoint.id}", f"/apps/{other.id}/messages/{other_message.id}",
                        f"/apps/{shop.id}/messages/{other_message.id}"):  # fmt: skip
            await portal.goto(f"{api.url}/console/portal#{foreign}")
            await portal.get_by_role("heading", name="Not found").wait_for()
            assert other.name not in await portal.locator("body").inner_text()


def _uuid(svix_id: str) -> str:
    return str(parse_id(svix_id, IdKind(svix_id.partition("_")[0])))
