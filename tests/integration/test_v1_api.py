"""The v1 dialect (seed 002) over the real broker, chDB and receivers, every response checked against /openapi.json.

One test runs the whole pipeline (a failing then succeeding receiver); the
others write attempts through the projector's own insert path, where
pipeline timing does not matter. The seed's attempt fields are parsed out of
the seed file itself, so a field missing or misnamed here fails a test.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry
from svix.api import ApplicationIn, EndpointIn, MessageIn

from hookstream.domain.access import app_token_key, issue_app_token
from hookstream.domain.ids import IdKind, generate_id, parse_id, to_svix
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.projector.expunge import apply_expunge
from hookstream.projector.rows import attempt_row, message_row
from hookstream.projector.store import write_rows
from hookstream.runtime.roles import ALL_ROLES, running_roles
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.openapi import OpenApiDocument
from tests.support.receivers import Received, Reply
from tests.support.svix_api import ServedApi, eventually, served_api

pytestmark = pytest.mark.integration
T = TypeVar("T")

# A copy of ../shared/seeds/002_* kept with the tests, so CI reads the same text.
SEED = Path(__file__).parents[1] / "support" / "seeds" / "002_e191c2cec953d6bf.txt"
ATTEMPTS = "/v1/messages/{id}/attempts"
MESSAGE = "/v1/messages/{id}"
BODY = "/v1/messages/{id}/attempts/{attempt_id}/body"
_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict}


@dataclass(frozen=True)
class SeedField:
    name: str
    kind: type
    required: bool
    nullable: bool
    fmt: str | None


def seed_fields(section_start: str, section_end: str) -> dict[str, SeedField]:
    """Fields as the seed lists them: a name line, then ``required`` or a blank, ..., a type line."""
    section = SEED.read_text().split(section_start, 1)[1].split(section_end, 1)[0]
    lines = section.splitlines()
    fields = {}
    for i, line in enumerate(lines[:-1]):
        if line != "required" and re.fullmatch(r"[a-z][a-z_]*", line) and lines[i + 1] in ("", "required"):
            rest = lines[i + 1 :]
            type_at = next(j for j, text in enumerate(rest) if re.match(r"^(string|integer|boolean|object)\b", text))
            kind, _, fmt = rest[type_at].partition(" format: ")
            nullable = "nullable" in rest[type_at : type_at + 2]
            fields[line] = SeedField(line, _TYPES[kind], rest[0] == "required", nullable, fmt or None)
    return fields


ATTEMPT_FIELDS = seed_fields("A single delivery attempt for a webhook message", "\nmeta\nrequired\n")
META_FIELDS = seed_fields("\nmeta\nrequired\nobject\n", "\nExample\n{")


def test_the_seed_parses_into_its_fields() -> None:
    """Guards the parser: if it silently found fewer fields, the field tests below would check less."""
    assert len(ATTEMPT_FIELDS) == 20
    assert {"dns_ms", "tcp_connect_ms", "tls_handshake_ms", "ttfb_ms", "transfer_ms"} <= set(ATTEMPT_FIELDS)
    assert [f for f in ATTEMPT_FIELDS.values() if f.required] == [
        ATTEMPT_FIELDS["id"], ATTEMPT_FIELDS["attempt_no"], ATTEMPT_FIELDS["created_at"]
    ]  # fmt: skip
    assert ATTEMPT_FIELDS["processing_ms"].nullable
    assert ATTEMPT_FIELDS["response_body_url"].fmt == "uri"
    assert set(META_FIELDS) == {"request_id", "has_more"}
    assert META_FIELDS["has_more"].required


def check_seed_shape(attempt: dict[str, Any]) -> None:
    """Every key is a seed field (or documented ``endpoint_id``), with the seed's type; required ones present."""
    for name, spec in ATTEMPT_FIELDS.items():
        if spec.required:
            assert name in attempt, f"required seed field {name} missing from {attempt}"
        if name not in attempt:
            continue
        value = attempt[name]
        if value is None:
            assert spec.nullable, f"{name} is null but the seed does not allow null"
            continue
        assert isinstance(value, spec.kind) and not (spec.kind is int and isinstance(value, bool)), (name, value)
        if spec.fmt == "uuid":
            assert uuid.UUID(value).version == 7 and str(uuid.UUID(value)) == value, (name, value)
        if spec.fmt == "date-time":
            assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None, (name, value)
        if spec.fmt == "uri":
            assert urlsplit(value).scheme in ("http", "https") and urlsplit(value).netloc, (name, value)
        if spec.kind is dict:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()), (name, value)
    assert set(attempt) <= set(ATTEMPT_FIELDS) | {"endpoint_id"}, set(attempt) - set(ATTEMPT_FIELDS)
    assert attempt.get("response_body_truncated", True) is True, "present only when true"


@dataclass
class Answer:
    status: int
    body: Any
    headers: Any


class V1:
    """Plain HTTP against /v1; every JSON answer is checked against the served OpenAPI document."""

    def __init__(self, api: ServedApi, session: aiohttp.ClientSession, doc: OpenApiDocument) -> None:
        self.api, self.session, self.doc = api, session, doc

    async def get(
        self, template: str, path: str, *, token: str | None = "operator", headers: dict[str, str] | None = None
    ) -> Answer:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {self.api.token if token == 'operator' else token}"
        async with self.session.get(self.api.url + path, headers=sent) as response:
            raw = await response.read()
            body: Any = raw
            if response.content_type == "application/json":
                body = json.loads(raw)
            self.doc.check(template, "GET", response.status, body)
            return Answer(response.status, body, response.headers)

    async def attempts(self, msg_id: str | uuid.UUID, **kwargs: Any) -> Answer:
        return await self.get(ATTEMPTS, f"/v1/messages/{msg_id}/attempts", **kwargs)

    async def message(self, msg_id: str | uuid.UUID, **kwargs: Any) -> Answer:
        return await self.get(MESSAGE, f"/v1/messages/{msg_id}", **kwargs)

    async def body(self, url: str) -> Answer:
        async with self.session.get(url) as response:  # no bearer token: the link is the credential
            raw = await response.read()
            body = json.loads(raw) if response.content_type == "application/json" and response.status >= 400 else raw
            self.doc.check(BODY, "GET", response.status, body)
            return Answer(response.status, body, response.headers)


@pytest.fixture
async def v1(api: ServedApi) -> AsyncIterator[V1]:
    async with aiohttp.ClientSession() as session:
        yield V1(api, session, await OpenApiDocument.fetch(session, api.url))


def full_attempt(msg: dict[str, Any], endpoint_id: str, n: int, at: datetime, **changes: Any) -> dict[str, Any]:
    """An AttemptFinished record with every optional field filled (so every seed field is shown)."""
    record = builders.attempt(msg, endpoint_id, attempt_number=n, status=500)
    record.update(tls_handshake_us=45_400, started_at=at, finished_at=at, retry_type="slow", retry_after_seconds=1800)
    record.update(changes)
    return record


def insert(clickhouse: Client, messages: list[dict[str, Any]], attempts: list[dict[str, Any]]) -> None:
    write_rows(clickhouse, {"messages": [message_row(m).values for m in messages],
                            "attempts": [attempt_row(a).values for a in attempts]})  # fmt: skip


def app_token(api: ServedApi, app_id: str) -> str:
    return issue_app_token(app_token_key(api.token), uuid.UUID(app_id), int(time.time()) + 3600)


async def test_every_seed_field_by_name_and_type(v1: V1, clickhouse: Client) -> None:
    app_id, endpoint_id = str(generate_id()), str(generate_id())
    msg = builders.message(app_id)
    base = datetime.now(UTC).replace(microsecond=0)
    first = full_attempt(msg, endpoint_id, 1, base, response_body_truncated=True)
    second = full_attempt(msg, endpoint_id, 2, base + timedelta(seconds=2), status="success", response_status=200,
                          status_code_class=200, error_class=None, error_text=None, retry_type=None,
                          retry_after_seconds=None, dns_us=None, tcp_connect_us=None, tls_handshake_us=None,
                          conn_reused=True, response_body=b"", response_body_size=0)  # fmt: skip
    insert(clickhouse, [msg], [second, first])

    answer = await v1.attempts(msg["msg_id"])
    assert answer.status == 200
    assert set(answer.body) == {"data", "meta"}
    assert set(answer.body["meta"]) == set(META_FIELDS)
    assert answer.body["meta"] == {"request_id": answer.headers["X-Request-Id"], "has_more": False}
    one, two = answer.body["data"]
    for attempt in (one, two):
        check_seed_shape(attempt)
    assert set(one) == set(ATTEMPT_FIELDS) | {"endpoint_id"}, "the first attempt has every field filled"
    assert one == {
        "id": first["attempt_id"], "endpoint_id": endpoint_id, "attempt_no": 1, "response_status": 500,
        "response_latency_ms": 3, "processing_ms": 3, "error_text": "HTTP 500",
        "response_headers": {"content-type": "text/plain"},
        "request_headers": {"webhook-id": "msg_x", "content-type": "application/json"},
        "retry_type": "slow", "retry_after_seconds": 1800, "resolved_ip": "127.0.0.1",
        "dns_ms": 0, "tcp_connect_ms": 0, "tls_handshake_ms": 45, "ttfb_ms": 2, "transfer_ms": 0,
        "conn_reused": False, "response_body_url": one["response_body_url"], "response_body_truncated": True,
        "created_at": base.isoformat().replace("+00:00", "Z"),
    }  # fmt: skip
    # Oldest first; no error, retry or body on the success; a reused connection spent 0 ms on dns/tcp/tls.
    assert (two["attempt_no"], two["response_status"], two["conn_reused"]) == (2, 200, True)
    assert not {"error_text", "retry_type", "retry_after_seconds", "response_body_url"} & set(two)
    assert "response_body_truncated" not in two, "absent when the body was not truncated"
    assert (two["dns_ms"], two["tcp_connect_ms"], two["tls_handshake_ms"]) == (0, 0, 0)

    message = await v1.message(msg["msg_id"])
    assert message.status == 200
    assert message.body["data"] == {
        "id": msg["msg_id"], "project_id": app_id, "event_type": "invoice.paid", "channels": [], "tags": [],
        "payload": {"ok": True}, "created_at": message.body["data"]["created_at"],
    }  # fmt: skip
    assert message.body["meta"] == {"request_id": message.headers["X-Request-Id"]}


async def test_at_most_200_attempts_and_has_more(v1: V1, clickhouse: Client) -> None:
    app_id = str(generate_id())
    endpoints = [str(generate_id()) for _ in range(3)]
    msg = builders.message(app_id)
    base = datetime.now(UTC) - timedelta(hours=1)
    attempts = [full_attempt(msg, endpoints[i % 3], i // 3 + 1, base + timedelta(seconds=i)) for i in range(201)]
    insert(clickhouse, [msg], attempts[:200])
    answer = await v1.attempts(msg["msg_id"])
    assert len(answer.body["data"]) == 200 and answer.body["meta"]["has_more"] is False

    insert(clickhouse, [], attempts[200:] + attempts[:5])  # one more, and re-projected duplicates
    answer = await v1.attempts(msg["msg_id"])
    assert answer.body["meta"]["has_more"] is True
    assert [a["id"] for a in answer.body["data"]] == [a["attempt_id"] for a in attempts[:200]], (
        "first 200, oldest first"
    )


async def test_unknown_and_foreign_ids_are_empty_lists_never_404(v1: V1, api: ServedApi, clickhouse: Client) -> None:
    mine, theirs = str(generate_id()), str(generate_id())
    msg = builders.message(theirs)
    insert(clickhouse, [msg], [full_attempt(msg, str(generate_id()), 1, datetime.now(UTC))])
    token = app_token(api, mine)

    for answer in (await v1.attempts(msg["msg_id"], token=token), await v1.attempts(generate_id())):
        assert answer.status == 200
        assert answer.body == {"data": [], "meta": {"request_id": answer.headers["X-Request-Id"], "has_more": False}}
    assert len((await v1.attempts(msg["msg_id"], token=app_token(api, theirs))).body["data"]) == 1
    assert len((await v1.attempts(msg["msg_id"])).body["data"]) == 1, "the operator sees every project"

    for answer in (await v1.message(msg["msg_id"], token=token), await v1.message(generate_id())):
        assert answer.status == 404
        assert answer.body["error"] == {"code": "MESSAGE_NOT_FOUND", "message": "message not found"}
    assert (await v1.message(msg["msg_id"], token=app_token(api, theirs))).status == 200


async def test_a_malformed_id_is_400_in_the_envelope(v1: V1) -> None:
    canonical = "0190f3a4-0000-7000-8000-00000000000a"
    for bad in ("not-a-uuid", canonical.replace("-", ""), "{" + canonical + "}", canonical + "0", "%20"):
        for answer in (await v1.attempts(bad), await v1.message(bad)):
            assert answer.status == 400, bad
            assert answer.body == {
                "error": {"code": "INVALID_REQUEST", "message": "path id: is not a valid uuid"},
                "meta": {"request_id": answer.headers["X-Request-Id"]},
            }


async def test_missing_or_wrong_token_is_401_in_the_envelope(v1: V1, api: ServedApi) -> None:
    expired = issue_app_token(app_token_key(api.token), generate_id(), int(time.time()) - 1)
    for token in (None, "wrong", expired, issue_app_token(app_token_key("another operator"), generate_id(), 2**40)):
        answer = await v1.attempts(generate_id(), token=token)
        assert answer.status == 401
        assert answer.body["error"] == {"code": "UNAUTHORIZED", "message": "Invalid or missing API key"}
        assert answer.body["meta"]["request_id"] == answer.headers["X-Request-Id"]


async def test_request_ids_in_header_body_and_logs(
    v1: V1, clickhouse: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    kept = await v1.attempts(generate_id(), headers={"X-Request-Id": "trace-abc.123"})
    assert kept.headers["X-Request-Id"] == "trace-abc.123" == kept.body["meta"]["request_id"]
    replaced = await v1.attempts(generate_id(), headers={"X-Request-Id": "bad id\twith spaces"})
    fresh = replaced.headers["X-Request-Id"]
    assert fresh.startswith("req_") and fresh == replaced.body["meta"]["request_id"]
    other = await v1.attempts(generate_id())
    assert other.headers["X-Request-Id"] not in (fresh, "trace-abc.123"), "a new id per request"

    clickhouse.command("DROP TABLE attempts_by_msg")  # the next list query fails inside ClickHouse
    broken = await v1.attempts(generate_id(), token=app_token(v1.api, str(generate_id())))
    assert broken.status == 500
    failed_id = broken.headers["X-Request-Id"]
    assert broken.body == {"error": {"code": "INTERNAL_ERROR", "message": "An internal error occurred"},
                           "meta": {"request_id": failed_id}}  # fmt: skip

    by_id: dict[str, list[logging.LogRecord]] = {}
    for record in caplog.records:
        by_id.setdefault(getattr(record, "request_id", ""), []).append(record)
    assert [r.status for r in by_id["trace-abc.123"] if r.name == "hookstream.api.request"] == [200]
    failure_lines = by_id[failed_id]
    assert any(r.levelno == logging.ERROR and r.exc_info for r in failure_lines), "the traceback carries the id"
    assert [r.status for r in failure_lines if r.name == "hookstream.api.request"] == [500]


def link_parts(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


def relink(url: str, path: str | None = None, **query: str) -> str:
    old_path, old_query = link_parts(url)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{path or old_path}?{urlencode({**old_query, **query})}"


async def test_body_link_works_and_refuses_tampering(v1: V1, clickhouse: Client) -> None:
    app_id, endpoint_id = str(generate_id()), str(generate_id())
    msg = builders.message(app_id)
    at = datetime.now(UTC)
    json_body = full_attempt(msg, endpoint_id, 1, at, response_body=b'{"error":"boom"}',
                             response_content_type="application/json; charset=utf-8")  # fmt: skip
    text_body = full_attempt(msg, endpoint_id, 2, at + timedelta(seconds=1), response_body=b"second")
    insert(clickhouse, [msg], [json_body, text_body])
    first, second = (await v1.attempts(msg["msg_id"])).body["data"]
    url = first["response_body_url"]
    assert url.startswith(v1.api.url + f"/v1/messages/{msg['msg_id']}/attempts/{first['id']}/body?")

    served = await v1.body(url)
    assert (served.status, served.body) == (200, b'{"error":"boom"}')
    assert served.headers["Content-Type"] == "application/json; charset=utf-8"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served.headers["Content-Security-Policy"]
    assert (await v1.body(second["response_body_url"])).body == b"second"

    _, query = link_parts(url)
    other_path, other_query = link_parts(second["response_body_url"])
    tampered = [
        relink(url, path=other_path),  # this signature for the other attempt
        relink(url, project=str(generate_id())),
        relink(url, expires=str(int(query["expires"]) + 3600)),
        relink(url, signature=other_query["signature"]),
        relink(url, signature=query["signature"][:-2] + ("AA" if query["signature"][-2:] != "AA" else "BB")),
    ]
    for link in tampered:
        refused = await v1.body(link)
        assert refused.status == 403, link
        assert refused.body["error"]["code"] == "LINK_INVALID"
        assert refused.body["meta"]["request_id"] == refused.headers["X-Request-Id"]
    assert (await v1.body(relink(url, expires="soon"))).status == 400, "a malformed link names its bad field"

    record = {"msg_id": msg["msg_id"], "app_id": app_id, "attempt_id": first["id"], "reason": "test",
              "requested_by": "operator", "expunged_at": datetime.now(UTC)}  # fmt: skip
    apply_expunge(clickhouse, record)  # the projector's own expunge path
    gone = await v1.body(url)
    assert (gone.status, gone.body["error"]["code"]) == (404, "RESPONSE_BODY_NOT_FOUND")
    relisted = (await v1.attempts(msg["msg_id"])).body["data"]
    assert "response_body_url" not in relisted[0] and "response_body_url" in relisted[1]


async def test_body_link_expires(settings: Settings, topics: TopicNames, clickhouse: Client) -> None:
    short_lived = settings.replace(secret_keys=new_key_text(), api_body_url_ttl="1s")
    async with served_api(short_lived) as api, aiohttp.ClientSession() as session:
        v1 = V1(api, session, await OpenApiDocument.fetch(session, api.url))
        msg = builders.message(str(generate_id()))
        insert(clickhouse, [msg], [full_attempt(msg, str(generate_id()), 1, datetime.now(UTC))])
        url = (await v1.attempts(msg["msg_id"])).body["data"][0]["response_body_url"]
        expires = int(link_parts(url)[1]["expires"])
        assert expires - time.time() <= 2
        assert (await v1.body(url)).status == 200
        await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
        expired = await v1.body(url)
        assert (expired.status, expired.body["error"]["code"]) == (403, "LINK_EXPIRED")


async def test_openapi_document_lists_the_v1_dialect(v1: V1) -> None:
    paths = v1.doc.doc["paths"]
    assert {ATTEMPTS, MESSAGE, BODY} <= set(paths)
    declared = v1.doc.declared_statuses(ATTEMPTS, "get")
    assert declared == {200, 400, 401, 500, 503}, "404 is never an answer of this route"
    attempt = v1.doc.doc["components"]["schemas"]["V1Attempt"]
    assert set(attempt["properties"]) == set(ATTEMPT_FIELDS) | {"endpoint_id"}
    assert set(attempt["required"]) == {n for n, f in ATTEMPT_FIELDS.items() if f.required}
    assert paths[BODY]["get"]["security"] == [], "the body link needs no bearer token"


async def test_through_the_pipeline(
    settings: Settings, topics: TopicNames, clickhouse: Client, receivers: ReceiverFactory
) -> None:
    """A receiver fails once with a JSON body, then accepts: both attempts, in order, with a working body link."""
    settings = settings.replace(
        secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1
    )

    def behaviour(seen: Received) -> Reply:
        if len(receiver.received) == 1:
            return Reply(500, b'{"error":"not yet"}', {"content-type": "application/json"})
        return Reply(200, b"thanks", {"content-type": "text/plain"})

    receiver = await receivers.plain(behaviour)
    async with (
        running_roles(settings, ALL_ROLES, CollectorRegistry()),
        served_api(settings) as api,
        aiohttp.ClientSession() as session,
    ):
        v1 = V1(api, session, await OpenApiDocument.fetch(session, api.url))
        app = await api.svix.application.create(ApplicationIn(name="v1"))
        await api.svix.endpoint.create(app.id, EndpointIn(url=receiver.url))
        sent = await api.svix.message.create(app.id, MessageIn(event_type="order.paid", payload={"n": 1}))
        msg_id = parse_id(sent.id, IdKind.MESSAGE)

        listed = await eventually(lambda: v1.attempts(msg_id), lambda a: len(a.body["data"]) >= 2)
        failed, ok = listed.body["data"]
        for attempt in (failed, ok):
            check_seed_shape(attempt)
        assert (failed["attempt_no"], failed["response_status"], ok["attempt_no"], ok["response_status"]) == (
                1, 500, 2, 200
            )  # fmt: skip
        assert failed["error_text"] and failed["retry_type"] and failed["retry_after_seconds"] >= 0
        assert failed["resolved_ip"] == "127.0.0.1"
        assert failed["request_headers"]["webhook-id"] == to_svix(IdKind.MESSAGE, msg_id)
        assert failed["response_headers"]["Content-Type"] == "application/json"
        assert failed["created_at"] < ok["created_at"]
        body = await v1.body(failed["response_body_url"])
        assert (body.status, body.body, body.headers["Content-Type"]) == (200, b'{"error":"not yet"}',
                                                                              "application/json")  # fmt: skip
        message = await v1.message(msg_id)
        assert message.body["data"]["payload"] == {"n": 1}
