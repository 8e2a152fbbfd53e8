"""Hostile input against the Svix dialect: every limit answers a 4xx naming it, and changes nothing.

Real broker and chDB, the API served over real HTTP on 127.0.0.1 (the
runner ``hookstream dev`` uses); raw httpx and raw sockets, so the exact
bytes sent are the test's, not an SDK's.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import MESSAGES, TopicNames
from hookstream.runtime.http_server import MAX_LINE_BYTES
from tests.support.svix_api import ServedApi, events_on_log

pytestmark = pytest.mark.integration

CAP = 2048
MAX_ENDPOINTS = 3


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(), api_max_payload_bytes=CAP, api_max_endpoints_per_app=MAX_ENDPOINTS
    )


@pytest.fixture
async def http(api: ServedApi) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {api.token}"}
    async with httpx.AsyncClient(base_url=api.url + "/api/v1", headers=headers, timeout=30) as client:
        yield client


async def _app(http: httpx.AsyncClient, name: str = "acme") -> str:
    response = await http.post("/app", json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _refused(response: httpx.Response, loc: list[Any], words: str) -> None:
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["loc"] == loc and words in detail["msg"], detail


async def _accepted(api: ServedApi, topics: TopicNames) -> list[str]:
    """Messages the API put on the log (listing reads ClickHouse, which no projector fills here)."""
    return [record["msg_id"] for name, record in await events_on_log(api.ctx.settings, topics(MESSAGES))]


def _payload_of_size(size: int) -> dict[str, str]:
    blob = {"blob": ""}
    blob["blob"] = "x" * (size - len(json.dumps(blob, separators=(",", ":"))))
    return blob


async def test_payload_cap_boundary_exact(api: ServedApi, http: httpx.AsyncClient, topics: TopicNames) -> None:
    app = await _app(http)
    at_cap = await http.post(f"/app/{app}/msg", json={"eventType": "big.one", "payload": _payload_of_size(CAP)})
    assert at_cap.status_code == 202, at_cap.text
    over = await http.post(f"/app/{app}/msg", json={"eventType": "big.one", "payload": _payload_of_size(CAP + 1)})
    _refused(over, ["body", "payload"], f"{CAP + 1} bytes serialized; the limit is {CAP}")
    assert len(await _accepted(api, topics)) == 1, "the refused one was not accepted"


async def _raw_exchange(url: str, head: bytes, body_chunks: int) -> bytes:
    """Send ``head`` then up to ``body_chunks`` 64 KiB chunks, stopping at the first sign of an answer."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(head)
        for _ in range(body_chunks):
            try:
                writer.write(b"x" * 65536)
                await writer.drain()
            except ConnectionError:
                break  # the server answered and closed before the body was done: what we want
            if reader.at_eof() or len(reader._buffer):  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0)
        async with asyncio.timeout(20):
            return await reader.read()
    finally:
        writer.close()


async def test_a_body_far_over_the_cap_is_refused_unread(
    api: ServedApi, http: httpx.AsyncClient, topics: TopicNames
) -> None:
    """100 MB announced, at most 4 MiB sent: the answer comes without the server waiting for the rest."""
    app = await _app(http)
    head = (f"POST /api/v1/app/{app}/msg HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api.token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n").encode()  # fmt: skip
    answer = await _raw_exchange(api.url, head, body_chunks=64)
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] in (b"413", b"422"), answer[:300]
    body = json.loads(rest.split(b"\r\n\r\n", 1)[1])
    assert body["detail"][0]["loc"] == ["body"] and "too large" in body["detail"][0]["msg"], body
    assert await _accepted(api, topics) == []


async def test_endpoints_per_application_are_capped(http: httpx.AsyncClient) -> None:
    app, other = await _app(http), await _app(http, "other")
    made = []
    for n in range(MAX_ENDPOINTS):
        response = await http.post(f"/app/{app}/endpoint", json={"url": f"https://example.com/{n}"})
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    over = await http.post(f"/app/{app}/endpoint", json={"url": "https://example.com/over"})
    _refused(over, ["path", "app_id"], f"most endpoints allowed ({MAX_ENDPOINTS}: api_max_endpoints_per_app)")
    upsert = await http.put(f"/app/{app}/endpoint/new-by-put", json={"url": "https://example.com/put"})
    _refused(upsert, ["path", "app_id"], "api_max_endpoints_per_app")
    replaced = await http.put(f"/app/{app}/endpoint/{made[0]}", json={"url": "https://example.com/replaced"})
    assert replaced.status_code == 200, "updating an existing endpoint is not a new one"
    listed = (await http.get(f"/app/{app}/endpoint")).json()["data"]
    assert sorted(e["id"] for e in listed) == sorted(made)
    assert (await http.post(f"/app/{other}/endpoint", json={"url": "https://example.com/o"})).status_code == 201
    assert (await http.delete(f"/app/{app}/endpoint/{made[1]}")).status_code == 204
    assert (await http.post(f"/app/{app}/endpoint", json={"url": "https://example.com/again"})).status_code == 201


BAD_HEADERS = [
    ({"X-Evil": "a\r\nX-Injected: 1"}, "CR, LF or NUL"),
    ({"X-Evil": "a\nb"}, "CR, LF or NUL"),
    ({"X-Evil": "a\0b"}, "CR, LF or NUL"),
    ({"X-Evil\r\nX-Injected": "1"}, "RFC 7230 token"),
    ({"X Evil": "1"}, "RFC 7230 token"),
    ({"Host": "internal.example"}, "reserved"),
    ({"content-length": "0"}, "reserved"),
    ({"Transfer-Encoding": "chunked"}, "reserved"),
    ({"Connection": "close"}, "reserved"),
    ({"webhook-signature": "v1,forged"}, "reserved"),
    ({"svix-id": "msg_forged"}, "reserved"),
    ({f"X-{n}": "v" for n in range(51)}, "at most 50"),
]


async def test_header_injection_is_refused_on_every_route(http: httpx.AsyncClient) -> None:
    """One API for every case (a fresh one costs seconds); each refusal is checked to have changed nothing."""
    app = await _app(http)
    base = {"url": "https://example.com/hook", "headers": {"X-Good": "1"}}
    created = await http.post(f"/app/{app}/endpoint", json=base)
    assert created.status_code == 201, created.text
    ep = created.json()["id"]
    for headers, why in BAD_HEADERS:
        bad = {**base, "headers": headers}
        _refused(await http.post(f"/app/{app}/endpoint", json=bad), ["body", "headers"], why)
        _refused(await http.put(f"/app/{app}/endpoint/{ep}", json=bad), ["body", "headers"], why)
        _refused(await http.put(f"/app/{app}/endpoint/new-uid", json=bad), ["body", "headers"], why)
        for method in ("PUT", "PATCH"):
            answer = await http.request(method, f"/app/{app}/endpoint/{ep}/headers", json={"headers": headers})
            _refused(answer, ["body", "headers"], why)
        assert (await http.get(f"/app/{app}/endpoint/{ep}/headers")).json()["headers"] == {"X-Good": "1"}
        assert [e["id"] for e in (await http.get(f"/app/{app}/endpoint")).json()["data"]] == [ep]


async def test_merged_headers_are_counted_and_null_still_removes(http: httpx.AsyncClient) -> None:
    app = await _app(http)
    first = {f"X-{n}": "v" for n in range(30)}
    ep = (await http.post(f"/app/{app}/endpoint", json={"url": "https://example.com/h", "headers": first})).json()
    more = {f"X-More-{n}": "v" for n in range(30)}
    _refused(await http.patch(f"/app/{app}/endpoint/{ep['id']}/headers", json={"headers": more}), ["body", "headers"],
             "at most 50")  # fmt: skip
    patched = await http.patch(f"/app/{app}/endpoint/{ep['id']}/headers", json={"headers": {"X-0": None, "X-A": "b"}})
    assert patched.status_code == 204, patched.text
    got = (await http.get(f"/app/{app}/endpoint/{ep['id']}/headers")).json()["headers"]
    assert "X-0" not in got and got["X-A"] == "b" and len(got) == 30


@pytest.mark.parametrize("where", ["query", "header"])
async def test_over_long_lines_get_a_json_answer_naming_the_limit(
    api: ServedApi, http: httpx.AsyncClient, where: str
) -> None:
    """aiohttp refuses them before any route; the answer is still the dialect's JSON, not a text echo."""
    app = await _app(http)
    if where == "query":
        response = await http.get(f"/app/{app}/msg", params={"iterator": "a" * 10240})
    else:
        response = await http.get(f"/app/{app}/msg", headers={"X-Big": "b" * 102400})
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "line_too_long" and f"{MAX_LINE_BYTES} bytes" in body["detail"], body
    assert "aaaa" not in response.text and "bbbb" not in response.text, "the offending line is not echoed"


LONG = "a" * 257


async def test_over_long_query_values_are_refused_by_name(http: httpx.AsyncClient) -> None:
    app = await _app(http)
    cases = [({"channel": LONG}, "channel"), ({"tag": LONG}, "tag"), ({"event_types": f"ok,{LONG}"}, "event_types"),
             ({"iterator": "msg_" + "z" * 4000}, "iterator"), ({"limit": "9" * 400}, "limit")]  # fmt: skip
    for query, loc in cases:
        response = await http.get(f"/app/{app}/msg", params=query)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", loc]


async def test_over_long_endpoint_fields_are_refused_by_name(http: httpx.AsyncClient) -> None:
    app = await _app(http)
    cases = [({"uid": LONG}, ["body", "uid"], "not a valid uid"),
             ({"description": "d" * 4097}, ["body", "description"], "at most 4096 characters"),
             ({"url": "https://example.com/" + "p" * 2100}, ["body", "url"], "at most 2048 characters"),
             ({"eventTypes": ["ok", LONG]}, ["body", "eventTypes"], "1-256"),
             ({"channels": [LONG]}, ["body", "channels"], "1-256"),
             ({"metadata": {f"k{n}": "v" for n in range(51)}}, ["body", "metadata"], "at most 50 entries"),
             ({"metadata": {"k": "v" * 1025}}, ["body", "metadata", "k"], "values 1024"),
             ({"metadata": {"k" * 257: "v"}}, ["body", "metadata", "k" * 64], "keys hold at most 256")]  # fmt: skip
    for body, loc, words in cases:
        _refused(await http.post(f"/app/{app}/endpoint", json={"url": "https://example.com/h", **body}), loc, words)
    assert (await http.get(f"/app/{app}/endpoint")).json()["data"] == []


async def test_over_long_message_fields_are_refused_by_name(
    api: ServedApi, http: httpx.AsyncClient, topics: TopicNames
) -> None:
    app = await _app(http)
    cases = [({"eventType": LONG}, "eventType"), ({"eventId": LONG}, "eventId"), ({"channels": [LONG]}, "channels"),
             ({"tags": ["t", LONG]}, "tags")]  # fmt: skip
    for body, loc in cases:
        answer = await http.post(f"/app/{app}/msg", json={"eventType": "a.b", "payload": {}, **body})
        _refused(answer, ["body", loc], "")
    assert await _accepted(api, topics) == []


async def test_message_channels_and_tags_follow_svix_bounds(
    api: ServedApi, http: httpx.AsyncClient, topics: TopicNames
) -> None:
    """Svix's OpenAPI: 1-10 unique channels of at most 128 of [a-zA-Z0-9-_.:+]; at most 5 unique tags of 128."""
    app = await _app(http)
    base = {"eventType": "a.b", "payload": {}}
    cases = [({"channels": [f"c{n}" for n in range(1000)]}, "holds at most 10 entries, got 1000"),
             ({"channels": [f"c{n}" for n in range(11)]}, "holds at most 10 entries, got 11"),
             ({"channels": []}, "should be non-empty"), ({"channels": ["eu", "eu"]}, "non-unique"),
             ({"channels": ["c" * 129]}, "at most 128 characters"), ({"channels": ["a b"]}, "not a valid channel"),
             ({"tags": [f"t{n}" for n in range(6)]}, "holds at most 5 entries"), ({"tags": ["t", "t"]}, "non-unique"),
             ({"tags": ["t" * 129]}, "at most 128 characters"), ({"tags": ["a:b"]}, "not a valid tag")]  # fmt: skip
    for extra, words in cases:
        answer = await http.post(f"/app/{app}/msg", json={**base, **extra})
        assert answer.status_code == 422, (extra, answer.text)
        (detail,) = answer.json()["detail"]
        assert detail["loc"] == ["body", next(iter(extra))] and words in detail["msg"], (extra, detail)
    assert await _accepted(api, topics) == []
    edge = {"channels": [f"c:{n}+x" for n in range(9)] + ["c" * 128], "tags": ["a/b", "c\\d", "#e", "f.g", "t" * 128]}
    accepted = await http.post(f"/app/{app}/msg", json={**base, **edge}, params={"with_content": "true"})
    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["channels"], accepted.json()["tags"]) == (edge["channels"], edge["tags"])
    for name, value in (("channel", "c:1+x"), ("tag", "c\\d")):
        assert (await http.get(f"/app/{app}/msg", params={name: value})).status_code == 200, "filterable as sent"
    document = (await http.get(f"{api.url}/openapi.json")).json()
    declared = document["paths"]["/api/v1/app/{app_id}/msg"]["post"]["requestBody"]["content"]["application/json"]
    channels = declared["schema"]["properties"]["channels"]
    assert (channels["minItems"], channels["maxItems"], channels["uniqueItems"]) == (1, 10, True)
    assert channels["items"]["maxLength"] == 128 and channels["items"]["pattern"] == r"^[a-zA-Z0-9\-_.:+]+$"
