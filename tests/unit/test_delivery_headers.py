"""The headers of a delivery: the endpoint's own, then ours, which the endpoint's cannot replace."""

from __future__ import annotations

import uuid

from hookstream.delivery.endpoints import request_headers
from hookstream.domain.directory import Endpoint
from hookstream.domain.signing import generate_secret, verify

SECRET = generate_secret(bytes(range(32)))
OLD = generate_secret(bytes(range(1, 33)))
BODY = b'{"ok":true}'


def _endpoint(headers: dict[str, str]) -> Endpoint:
    return Endpoint(uuid.uuid4(), uuid.uuid4(), "https://example.com/hook", 1, headers=headers)


def test_custom_headers_pass_but_cannot_replace_signature_or_framing() -> None:
    custom = {"X-Tenant": "acme", "Webhook-Signature": "v1,forged", "content-type": "text/plain",
              "Host": "evil.example", "SVIX-ID": "msg_forged", "Authorization": "Bearer t"}  # fmt: skip
    headers = request_headers(_endpoint(custom), "msg_1", 1_700_000_000, BODY, [SECRET], svix_names=False,
                              user_agent="hookstream/9")  # fmt: skip
    assert headers["X-Tenant"] == "acme"
    assert headers["Authorization"] == "Bearer t"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "hookstream/9"
    assert not {"Webhook-Signature", "content-type", "Host", "SVIX-ID"} & set(headers)
    assert headers["webhook-id"] == "msg_1"
    verify([SECRET], BODY, headers, now=1_700_000_000)


def test_every_secret_signs_and_svix_names_on_request() -> None:
    headers = request_headers(_endpoint({}), "msg_2", 1_700_000_000, BODY, [SECRET, OLD], svix_names=True,
                              user_agent="hookstream")  # fmt: skip
    assert {"svix-id", "svix-timestamp", "svix-signature"} <= set(headers)
    assert not any(name.startswith("webhook-") for name in headers)
    assert len(headers["svix-signature"].split()) == 2
    for secret in (SECRET, OLD):  # a receiver that knows either secret accepts the request
        verify([secret], BODY, headers, now=1_700_000_000)


def test_delivery_metadata_goes_as_outpost_headers_over_custom_ones_but_not_over_ours() -> None:
    endpoint = Endpoint(uuid.uuid4(), uuid.uuid4(), "https://example.com/hook", 1,
                        headers={"X-Outpost-Region": "custom", "X-Team": "a"},
                        delivery_metadata={"region": "eu", "app-id": "shop", "bad name": "x"})  # fmt: skip
    headers = request_headers(endpoint, "msg_3", 1_700_000_000, BODY, [SECRET], svix_names=False,
                              user_agent="hookstream")  # fmt: skip
    assert headers["x-outpost-region"] == "eu" and "X-Outpost-Region" not in headers
    assert headers["x-outpost-app-id"] == "shop" and headers["X-Team"] == "a"
    assert "x-outpost-bad name" not in headers, "a key that makes no header name is dropped"
    verify([SECRET], BODY, headers, now=1_700_000_000)
