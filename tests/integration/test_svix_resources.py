"""Applications, endpoints, messages and errors through the official svix SDK against the real API.

Real broker and chDB; no roles run, so every read here is a read of the
API's own writes (config view after catch_up, recent messages).
"""

from __future__ import annotations

import httpx
import pytest
from svix.api import (
    ApplicationIn,
    ApplicationListOptions,
    ApplicationPatch,
    EndpointHeadersIn,
    EndpointHeadersPatchIn,
    EndpointIn,
    EndpointPatch,
    EndpointSecretRotateIn,
    EndpointUpsertIn,
    MessageAttemptListByEndpointOptions,
    MessageGetOptions,
    MessageIn,
)
from svix.exceptions import HttpError, HTTPValidationError

from hookstream.domain.ids import IdKind, parse_id
from hookstream.domain.signing import decode_secret
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from tests.support.svix_api import ServedApi

pytestmark = pytest.mark.integration


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), api_max_payload_bytes=2048)


async def _status(call) -> int:  # type: ignore[no-untyped-def]
    try:
        await call
    except (HttpError, HTTPValidationError) as error:
        return error.status_code
    return 200


async def test_applications_crud_with_uid_and_get_if_exists(api: ServedApi) -> None:
    apps = api.svix.application
    created = await apps.create(ApplicationIn(name="Acme", uid="acme", metadata={"plan": "pro"}))
    assert created.id.startswith("app_") and created.uid == "acme" and created.metadata == {"plan": "pro"}
    assert (await apps.get(created.id)).name == "Acme"
    assert (await apps.get("acme")).id == created.id, "a uid works wherever an id does"
    assert (await apps.get_or_create(ApplicationIn(name="other", uid="acme"))).id == created.id
    with pytest.raises(HttpError) as conflict:
        await apps.create(ApplicationIn(name="dup", uid="acme"))
    assert conflict.value.status_code == 409 and conflict.value.code == "conflict"

    patched = await apps.patch("acme", ApplicationPatch(name="Acme Inc", throttle_rate=10))
    assert (patched.name, patched.throttle_rate, patched.uid) == ("Acme Inc", 10, "acme")
    replaced = await apps.upsert(created.id, ApplicationIn(name="Acme 2", uid="acme2"))
    assert (replaced.name, replaced.uid, replaced.throttle_rate) == ("Acme 2", "acme2", None)
    assert replaced.updated_at >= replaced.created_at == created.created_at
    made = await apps.upsert("brand-new", ApplicationIn(name="made by PUT"))
    assert made.uid == "brand-new"

    others = [await apps.create(ApplicationIn(name=f"app {n}")) for n in range(4)]
    listed = await apps.list(ApplicationListOptions(limit=2))
    seen = [app.id for app in listed.data]
    while not listed.done:
        listed = await apps.list(ApplicationListOptions(limit=2, iterator=listed.iterator))
        seen += [app.id for app in listed.data]
    assert seen == sorted([created.id, made.id, *(o.id for o in others)])

    await apps.delete(created.id)
    assert await _status(apps.get(created.id)) == 404
    assert await _status(apps.get("acme2")) == 404


async def test_endpoints_crud_secret_rotation_and_headers(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="eps"))
    endpoints = api.svix.endpoint
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ep = await endpoints.create(
        app.id,
        EndpointIn(url="https://example.com/hook", uid="main", event_types=["a.b"], channels=["eu"], secret=secret,
                   headers={"x-team": "core"}),
    )  # fmt: skip
    assert (ep.url, ep.uid, ep.event_types, ep.channels, ep.disabled) == (
        "https://example.com/hook", "main", ["a.b"], ["eu"], False,
    )  # fmt: skip
    assert (await endpoints.get_secret(app.id, "main")).key == secret
    assert (await endpoints.get_headers(app.id, ep.id)).headers == {"x-team": "core"}

    rotated = await endpoints.rotate_secret(app.id, ep.id, EndpointSecretRotateIn())
    assert rotated.key != secret and len(decode_secret(rotated.key)) == 24
    assert (await endpoints.get_secret(app.id, ep.id)).key == rotated.key
    signing = api.ctx.cache.view.endpoints[parse_id(ep.id, IdKind.ENDPOINT)].secrets
    assert len(signing) == 2 and signing[1].expires_at is not None, "the old secret signs during the grace period"

    patched = await endpoints.patch(app.id, ep.id, EndpointPatch(disabled=True, description="paused"))
    assert (patched.disabled, patched.description, patched.url) == (True, "paused", ep.url)
    await endpoints.patch_headers(app.id, ep.id, EndpointHeadersPatchIn(headers={"x-more": "1"}))
    assert (await endpoints.get_headers(app.id, ep.id)).headers == {"x-team": "core", "x-more": "1"}
    await endpoints.set_headers(app.id, ep.id, EndpointHeadersIn(headers={"x-only": "2"}))
    assert (await endpoints.get_headers(app.id, ep.id)).headers == {"x-only": "2"}
    upserted = await endpoints.upsert(app.id, ep.id, EndpointUpsertIn(url="https://example.org/new"))
    assert (upserted.url, upserted.uid, upserted.event_types) == ("https://example.org/new", None, None)
    assert (await endpoints.get_secret(app.id, ep.id)).key == rotated.key, "an update keeps the secrets"

    second = await endpoints.create(app.id, EndpointIn(url="https://example.com/2", uid="second"))
    with pytest.raises(HttpError) as conflict:
        await endpoints.create(app.id, EndpointIn(url="https://example.com/3", uid="second"))
    assert conflict.value.status_code == 409
    listed = await endpoints.list(app.id)
    assert [e.id for e in listed.data] == sorted([ep.id, second.id]) and listed.done

    await endpoints.delete(app.id, ep.id)
    assert await _status(endpoints.get(app.id, ep.id)) == 404


async def test_messages_read_back_at_once_by_id_and_event_id(api: ServedApi) -> None:
    app = await api.svix.application.create(ApplicationIn(name="msgs", uid="msgs"))
    sent = await api.svix.message.create(
        "msgs", MessageIn(event_type="invoice.paid", event_id="inv-1", payload={"amount": 42}, channels=["eu"])
    )
    assert sent.id.startswith("msg_") and sent.event_id == "inv-1" and sent.payload == {}  # SDK: with_content=false
    got = await api.svix.message.get(app.id, sent.id, MessageGetOptions(with_content=True))
    assert (got.id, got.payload, got.channels, got.event_type) == (sent.id, {"amount": 42}, ["eu"], "invoice.paid")
    assert (await api.svix.message.get(app.id, "inv-1", MessageGetOptions(with_content=True))).id == sent.id
    with pytest.raises(HttpError) as conflict:
        await api.svix.message.create(app.id, MessageIn(event_type="invoice.paid", event_id="inv-1", payload={}))
    assert conflict.value.status_code == 409


async def test_errors_are_shaped_as_svix_shapes_them(api: ServedApi, settings: Settings) -> None:
    app = await api.svix.application.create(ApplicationIn(name="errs"))
    other = await api.svix.application.create(ApplicationIn(name="other"))
    ep = await api.svix.endpoint.create(app.id, EndpointIn(url="https://example.com/hook"))

    for token in ("wrong", api.token + "x"):
        with pytest.raises(HttpError) as denied:
            await api.client(token).application.get(app.id)
        assert denied.value.status_code == 401 and denied.value.code == "authentication_failed"
    async with httpx.AsyncClient() as raw:
        assert (await raw.get(f"{api.url}/api/v1/app/{app.id}/")).status_code == 401
        assert (await raw.get(f"{api.url}/api/v1/health/")).status_code == 204
    await api.svix.health.get()

    assert await _status(api.svix.application.get("app_2vY3kFTIv7hNa0QAVbiVd2")) == 404
    assert await _status(api.svix.endpoint.get(other.id, ep.id)) == 404, "another app's endpoint is not found"
    assert await _status(api.svix.message_attempt.list_by_endpoint(other.id, ep.id)) == 404
    assert await _status(api.svix.message.get(app.id, "msg_2vY3kFTIv7hNa0QAVbiVd2")) == 404

    async def invalid(call) -> list[str]:  # type: ignore[no-untyped-def]
        with pytest.raises(HTTPValidationError) as error:
            await call
        assert error.value.status_code == 422
        return error.value.detail[0].loc

    assert await invalid(api.svix.endpoint.create(app.id, EndpointIn(url="ftp://nowhere"))) == ["body", "url"]
    assert await invalid(api.svix.application.create(ApplicationIn(name=""))) == ["body", "name"]
    big = MessageIn(event_type="big.one", payload={"blob": "x" * 4096})
    assert await invalid(api.svix.message.create(app.id, big)) == ["body", "payload"]
    for options, field in (
        (MessageAttemptListByEndpointOptions(limit=0), "limit"),
        (MessageAttemptListByEndpointOptions(limit=251), "limit"),
        (MessageAttemptListByEndpointOptions(iterator="atmpt_nonsense"), "iterator"),
    ):
        assert await invalid(api.svix.message_attempt.list_by_endpoint(app.id, ep.id, options)) == ["query", field]
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {api.token}"}) as raw:
        base = f"{api.url}/api/v1/app/{app.id}/attempt/endpoint/{ep.id}/"
        for query, field in (("status=9", "status"), ("status_code_class=250", "status_code_class"),
                             ("before=yesterday", "before")):  # fmt: skip
            answer = await raw.get(f"{base}?{query}")
            assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["query", field], answer.text
        answer = await raw.get(f"{api.url}/api/v1/app/{app.id}/msg/msg_x/attempt/atmpt_bad/")
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["path", "attempt_id"]
    assert (await api.svix.message.list(app.id)).data == [], "nothing was written by the rejected message"
