"""The whole pipeline: config and messages on the log, router, delivery worker, projector, real receivers,
and the attempt history read back from ClickHouse field by field.

The unresolvable-name case lives in tests/integration/netns_delivery_guard.py: resolving a `.invalid`
name here would send a DNS query to the machine's nameserver, which is not on loopback.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from clickhouse_connect.driver import Client
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook

from hookstream.domain.ids import IdKind, attempt_id, to_svix
from hookstream.domain.signing import generate_secret
from hookstream.foundation.secrets import SecretBox, new_key_text, parse_keys
from hookstream.foundation.settings import Settings
from hookstream.log.producer import EventProducer
from hookstream.log.topics import CONFIG, MESSAGES, TopicNames
from hookstream.runtime.local_kafka import free_port
from hookstream.runtime.roles import ALL_ROLES, running_roles
from tests.conftest import ReceiverFactory
from tests.support import builders
from tests.support.log import send_all
from tests.support.receivers import ReceiverCA, Reply

pytestmark = pytest.mark.e2e

TIMEOUT_S = 1.5
BIG = 5 * 1024 * 1024


@pytest.fixture
def pipeline_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(),
        # Loopback 127.0.0.1 only: a receiver on 127.0.0.2 stands for a private address the guard must refuse.
        delivery_allowed_networks="127.0.0.1/32",
        delivery_timeout_s=TIMEOUT_S,
        projector_batch_s=0.2,
        retry_schedule="0s",  # one attempt each: these check the first attempt's record (retries: test_retries.py)
    )


async def _attempt_rows(clickhouse: Client, count: int, timeout_s: float = 60) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while True:
        result = clickhouse.query(
            "SELECT * FROM attempts ORDER BY url LIMIT 1 BY attempt_id", column_formats={"response_body": "bytes"}
        )
        rows = list(result.named_results())
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.25)


async def test_every_outcome_lands_in_clickhouse_field_by_field(
    pipeline_settings: Settings,
    topics: TopicNames,
    producer: EventProducer,
    clickhouse: Client,
    receivers: ReceiverFactory,
    test_ca: ReceiverCA,
) -> None:
    ok = await receivers.plain(lambda _: Reply(200, b'{"received":true}', {"content-type": "application/json"}))
    failing = await receivers.plain(lambda _: Reply(500, b"boom"))
    hanging = await receivers.plain(lambda _: Reply(200, delay_s=TIMEOUT_S + 2))
    big = await receivers.plain(lambda _: Reply(200, b"x" * BIG))
    private = await receivers.plain(host="127.0.0.2")
    trusted_tls = await receivers.tls()
    untrusted_tls = await receivers.tls(ca=ReceiverCA())
    closed_url = f"http://127.0.0.1:{free_port()}/hook"

    box = SecretBox(parse_keys(pipeline_settings.secret_keys))
    secret = generate_secret(uuid.uuid4().bytes + uuid.uuid4().bytes)
    app = builders.application()
    urls = {
        "ok": ok.url, "failing": failing.url, "hanging": hanging.url, "big": big.url, "private": private.url,
        "trusted_tls": trusted_tls.url, "untrusted_tls": untrusted_tls.url, "closed": closed_url,
    }  # fmt: skip
    endpoints = {name: builders.endpoint(app["app_id"], url, box=box, secrets=[secret]) for name, url in urls.items()}
    by_url = {url: name for name, url in urls.items()}
    message = builders.message(app["app_id"], "invoice.paid", payload={"amount": 42}, event_id="inv-42")

    async with running_roles(pipeline_settings, ALL_ROLES, CollectorRegistry(), delivery_ssl=test_ca.client_context()):
        await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
        await send_all(producer, topics(CONFIG), "EndpointUpserted", list(endpoints.values()), "endpoint_id")
        await send_all(producer, topics(MESSAGES), "MessageAccepted", [message], "app_id")
        rows = await _attempt_rows(clickhouse, len(endpoints))

    assert len(rows) == len(endpoints)
    row = {by_url[r["url"]]: r for r in rows}
    msg_id = uuid.UUID(message["msg_id"])
    for name, r in row.items():
        endpoint_id = uuid.UUID(endpoints[name]["endpoint_id"])
        assert r["attempt_id"] == attempt_id(msg_id, endpoint_id, 1, 0), name
        assert (r["app_id"], r["msg_id"], r["endpoint_id"]) == (uuid.UUID(app["app_id"]), msg_id, endpoint_id)
        assert (r["event_type"], r["event_id"], r["attempt_number"], r["trigger"]) == (
            "invoice.paid", "inv-42", 1, "scheduled",
        )  # fmt: skip
        assert r["request_headers"]["webhook-id"] == to_svix(IdKind.MESSAGE, msg_id)
        assert r["started_at"] <= r["finished_at"] and r["total_us"] > 0 and r["processing_us"] >= r["total_us"]

    assert row["ok"]["status"] == "success" and row["ok"]["response_status"] == 200
    assert row["ok"]["status_code_class"] == 200 and row["ok"]["error_class"] is None
    assert row["ok"]["response_body"] == b'{"received":true}'
    assert row["ok"]["response_headers"]["Content-Type"] == "application/json"
    assert row["ok"]["resolved_ip"] == "127.0.0.1" and row["ok"]["tcp_connect_us"] > 0
    assert row["ok"]["ttfb_us"] > 0 and row["ok"]["tls_handshake_us"] is None

    assert row["failing"]["status"] == "failed" and row["failing"]["response_status"] == 500
    assert (row["failing"]["status_code_class"], row["failing"]["error_class"]) == (500, "http_status")
    assert row["failing"]["error_text"] == "HTTP 500 Internal Server Error"
    assert row["failing"]["response_body"] == b"boom"

    assert (row["hanging"]["status"], row["hanging"]["error_class"]) == ("failed", "timeout")
    assert row["hanging"]["response_status"] == 0 and row["hanging"]["status_code_class"] == 0
    assert TIMEOUT_S * 1e6 <= row["hanging"]["total_us"] < (TIMEOUT_S + 1.5) * 1e6

    assert (row["closed"]["error_class"], row["closed"]["response_status"]) == ("connect", 0)

    assert row["big"]["status"] == "success" and row["big"]["response_body_truncated"] is True
    assert len(row["big"]["response_body"]) == pipeline_settings.delivery_max_response_bytes

    assert (row["private"]["status"], row["private"]["error_class"]) == ("failed", "ssrf_blocked")
    assert private.received == [], "the guard must refuse before a packet is sent"

    assert row["trusted_tls"]["status"] == "success", row["trusted_tls"]["error_text"]
    assert row["trusted_tls"]["tls_handshake_us"] > 0
    assert (row["untrusted_tls"]["status"], row["untrusted_tls"]["error_class"]) == ("failed", "tls")
    assert untrusted_tls.received == []

    for receiver in (ok, failing, big, trusted_tls):
        [request] = receiver.received
        assert request.body == message["payload"]
        Webhook(secret).verify(request.body, request.headers)  # raises if the signature is wrong


async def test_fan_out_matching_and_duplicate_event_id_through_the_pipeline(
    pipeline_settings: Settings,
    topics: TopicNames,
    producer: EventProducer,
    clickhouse: Client,
    receivers: ReceiverFactory,
) -> None:
    box = SecretBox(parse_keys(pipeline_settings.secret_keys))
    secret = generate_secret(bytes(range(32)))
    app = builders.application()
    orders = await receivers.plain()
    eu = await receivers.plain()
    ep_orders = builders.endpoint(app["app_id"], orders.url, box=box, secrets=[secret],
                                  event_types=["order.created", "order.paid"])  # fmt: skip
    ep_eu = builders.endpoint(app["app_id"], eu.url, box=box, secrets=[secret], channels=["eu"])
    messages = [
        builders.message(app["app_id"], event_type, channels=channels, event_id=f"{event_type}/{'-'.join(channels)}")
        for event_type in ("order.created", "order.paid", "order.refunded")
        for channels in ([], ["eu"], ["us"])
    ]
    duplicate = builders.message(app["app_id"], "order.paid", event_id=messages[3]["event_id"])
    expected = {(m["msg_id"], ep_orders["endpoint_id"]) for m in messages if m["event_type"] != "order.refunded"}
    expected |= {(m["msg_id"], ep_eu["endpoint_id"]) for m in messages if "eu" in m["channels"]}

    def key(m: dict) -> bytes:
        return f"{m['app_id']}:{m['event_id']}".encode()

    async with running_roles(pipeline_settings, ALL_ROLES, CollectorRegistry()):
        await send_all(producer, topics(CONFIG), "ApplicationUpserted", [app], "app_id")
        await send_all(producer, topics(CONFIG), "EndpointUpserted", [ep_orders, ep_eu], "endpoint_id")
        for m in [*messages, duplicate]:
            await (await producer.send(topics(MESSAGES), "MessageAccepted", m, key(m)))
        rows = await _attempt_rows(clickhouse, len(expected))
        await asyncio.sleep(1.0)  # let a wrongly routed duplicate arrive, if there is one
        rows = await _attempt_rows(clickhouse, len(expected))

    assert sorted((str(r["msg_id"]), str(r["endpoint_id"])) for r in rows) == sorted(expected)
    assert duplicate["msg_id"] not in {str(r["msg_id"]) for r in rows}, "a repeated eventId is routed once"
    assert len(orders.received) == 6 and len(eu.received) == 3
    assert all(r["status"] == "success" for r in rows)
