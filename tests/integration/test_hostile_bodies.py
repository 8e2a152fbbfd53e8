"""A corpus of hostile request bodies against every operation of ``/openapi.json`` that takes one.

The operations come from the served document, so an operation added later is
covered without an edit here. Each gets every case of the corpus (nesting
thousands deep, NaN and Infinity, a double overflow, a lone surrogate,
invalid UTF-8, a repeated key, a BOM, trailing garbage, an empty body, a
wrong content type, 100,000 keys, an array past its limit), sent as raw
bytes by httpx to the API served on 127.0.0.1 over the real broker and chDB.
Every answer is the reader's 4xx in the dialect's JSON (never a 5xx, nor a
404 that would mean the body was never read); no topic of the
deployment grows (the end offsets are compared); ``/health`` answers 200
after every operation's cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from svix.api import EventTypeIn, MessageIn

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.admin import describe_topics
from tests.support.routes import fill
from tests.support.svix_api import ServedApi

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}
# What the reader answers, in every dialect: 422 (or Outpost's 400), 415 for the content type, 413 past the size cap.
REFUSALS = {400, 413, 415, 422}
EVENT_TYPE = "invoice.paid"
# Every path parameter of a body-taking operation, named so that it resolves to a seeded entity.
PATH_VALUES = {
    "app_id": "hostile", "tenant_id": "hostile", "endpoint_id": "hostile-dest", "destination_id": "hostile-dest",
    "msg_id": "hostile-evt", "event_id": "hostile-evt", "event_type_name": EVENT_TYPE,
}  # fmt: skip


def _in_object(value: bytes) -> bytes:
    return b'{"payload":{"x":' + value + b'},"data":{"x":' + value + b"}}"


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))
    needs_required_body: bool = False  # only where the document says the body is required


def corpus(settings: Settings) -> list[Case]:
    keys = settings.api_json_max_object_keys
    many_keys = b"{" + b",".join(b'"k%d":0' % n for n in range(max(100_000, keys + 1))) + b"}"
    items = settings.api_json_max_array_items
    return [
        Case("nested 3,000 deep", _in_object(b"[" * 3000 + b"]" * 3000)),
        Case("nested 5,000 deep", b"[" * 5000 + b"]" * 5000),
        Case("nested 5,000 deep, unclosed", b'{"a":' * 5000),
        Case("NaN", _in_object(b"NaN")),
        Case("Infinity", _in_object(b"Infinity")),
        Case("-Infinity", _in_object(b"-Infinity")),
        Case("1e400", _in_object(b"1e400")),
        Case("lone surrogate", _in_object(b'"\\ud800"')),
        Case("lone surrogate as a key", b'{"payload":{"\\udc00":1}}'),
        Case("invalid UTF-8", _in_object(b'"\xff\xfe"')),
        Case("UTF-8-encoded surrogate", _in_object(b'"\xed\xa0\x80"')),
        Case("duplicate keys", b'{"payload":{},"payload":{}}'),
        Case("byte order mark", b"\xef\xbb\xbf{}"),
        Case("trailing garbage", b"{} trailing"),
        Case("two values", b"{}{}"),
        Case("empty body", b"", needs_required_body=True),
        Case("whitespace only", b" \r\n"),
        Case("text/plain", b"{}", {"Content-Type": "text/plain"}),
        Case("form-encoded", b"a=1", {"Content-Type": "application/x-www-form-urlencoded"}),
        Case("JSON in latin-1", b"{}", {"Content-Type": "application/json; charset=latin-1"}),
        Case("100k keys", many_keys),
        Case("array over its limit", b'{"payload":{"x":[' + b",".join([b"0"] * (items + 1)) + b"]}}"),
    ]


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), api_rate_limit_per_s=0.0)


async def _seed(api: ServedApi, http: httpx.AsyncClient) -> None:
    """A tenant (the Svix application ``hostile``), a destination (its endpoint), an event type, a message and an
    operational webhook endpoint: every path of the document then names something, so each case meets the reader."""
    assert (await http.put("/api/v1/tenants/hostile", json={})).status_code == 201
    destination = {"type": "webhook", "id": "hostile-dest", "topics": "*", "config": {"url": "https://example.com/h"}}
    assert (await http.post("/api/v1/tenants/hostile/destinations", json=destination)).status_code == 201
    await api.svix.event_type.create(EventTypeIn(name=EVENT_TYPE, description="An invoice was paid"))
    await api.svix.message.create("hostile", MessageIn(event_type=EVENT_TYPE, event_id="hostile-evt", payload={}))
    operational = {"url": "https://example.com/op", "uid": "hostile-dest"}
    assert (await http.post("/api/v1/operational-webhook/endpoint", json=operational)).status_code == 201


async def _end_offsets(settings: Settings) -> dict[str, tuple[int, ...]]:
    return {t.name: t.end_offsets for t in await describe_topics(settings.kafka_bootstrap_servers,
                                                                  settings.topic_namespace)}  # fmt: skip


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method.upper(), op) for path, ops in doc["paths"].items() for method, op in ops.items()
            if "requestBody" in op]  # fmt: skip


async def test_every_body_operation_refuses_every_hostile_body(api: ServedApi) -> None:
    settings = api.ctx.settings
    cases = corpus(settings)
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}, timeout=60
    ) as http:
        await _seed(api, http)
        operations = _operations((await http.get("/openapi.json")).json())
        assert operations, "the document lists operations that take a body"
        before = await _end_offsets(settings)
        problems: list[str] = []
        statuses: dict[int, int] = {}
        ran = 0
        for path, method, op in operations:
            url = fill(path, PATH_VALUES)
            for case in cases:
                if case.needs_required_body and not op["requestBody"]["required"]:
                    continue
                answer = await http.request(method, url, content=case.body, headers=case.headers)
                ran += 1
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                where = f"{method} {path} [{case.name}]: {answer.status_code} {answer.text[:200]}"
                if answer.status_code not in REFUSALS:
                    problems.append(where)
                elif not answer.headers.get("content-type", "").startswith("application/json"):
                    problems.append(f"{where} -- not the dialect's JSON")
            health = await http.get("/health")
            if health.status_code != 200:
                problems.append(f"/health answered {health.status_code} after {method} {path}: {health.text[:200]}")
        assert not problems, f"{len(problems)} of {ran} answers wrong:\n" + "\n".join(problems)
        assert await _end_offsets(settings) == before, "a refused body wrote to the log"
    assert ran > 0
    print(f"\nhostile bodies: {len(operations)} operations x {len(cases)} cases = {ran} requests, "
          f"statuses {dict(sorted(statuses.items()))}")  # fmt: skip


async def test_the_message_intakes_refuse_each_case_in_their_own_words(api: ServedApi) -> None:
    """Where a body matters most, the refusal is the reader's (not a lookup's 404), naming rule and place."""
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}, timeout=60
    ) as http:
        await _seed(api, http)
        svix = await http.post("/api/v1/app/hostile/msg", content=b'{"eventType":"a.b","payload":{"x":[NaN]}}',
                               headers=JSON)  # fmt: skip
        assert svix.status_code == 422, svix.text
        assert svix.json()["detail"] == [
            {
                "loc": ["body", "payload", "x"],
                "type": "value_error",
                "msg": "payload.x[0]: NaN is not JSON (RFC 8259 has no NaN or Infinity)",
            }
        ]
        deep = b'{"tenant_id":"hostile","topic":"a","data":{"x":' + b"[" * 5000 + b"]" * 5000 + b"}}"
        outpost = await http.post("/api/v1/publish", content=deep, headers=JSON)
        assert outpost.status_code == 422, outpost.text
        (problem,) = outpost.json()["data"]
        assert problem.startswith("data.x.0.0") and "nests deeper than 128 levels" in problem, problem
        wrong = await http.post("/api/v1/publish", content=b"{}", headers={"Content-Type": "text/plain"})
        assert wrong.status_code == 415 and "application/json" in wrong.json()["message"], wrong.text
        svix_wrong = await http.post("/api/v1/app/hostile/msg", content=b"{}", headers={"Content-Type": "text/csv"})
        assert svix_wrong.status_code == 415 and svix_wrong.json()["code"] == "unsupported_media_type"
        empty = await http.post("/api/v1/app/hostile/msg", content=b"", headers=JSON)
        assert empty.status_code == 422 and "is empty" in empty.json()["detail"][0]["msg"], empty.text
        no_type = await http.post("/api/v1/app/hostile/msg", content=b'{"eventType":"a.b","payload":{}}')
        assert no_type.status_code == 202, "a body without a Content-Type is still read as JSON"
