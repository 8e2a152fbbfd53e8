"""The Svix dialect through the official SDK, over the whole pipeline: real broker, chDB, router,
delivery worker, projector and real receivers. Create an application, endpoints and a message; the
receivers get it; every MessageAttempt operation of seed 001 reads it back; resend and expunge act.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from clickhouse_connect.driver import Client
from standardwebhooks import Webhook
from svix.api import (
    ApplicationIn,
    EndpointIn,
    MessageAttemptListByEndpointOptions,
    MessageAttemptListByMsgOptions,
    MessageIn,
    MessageStatus,
)

from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.topics import COMMANDS, TopicNames
from hookstream.projector.expunge import apply_expunge
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.openapi import OpenApiDocument
from tests.support.receivers import Reply
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


async def commands_on_log(settings: Settings, topics: TopicNames) -> list[tuple[str, dict[str, Any]]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topics(COMMANDS), p) for p in range(settings.topic_partitions)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        found = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                found += [AvroCodec().decode(record.value) for record in records]
        return found
    finally:
        await consumer.stop()


async def test_create_deliver_list_resend_and_expunge_through_the_sdk(
    api: ServedApi, receivers: ReceiverFactory, settings: Settings, topics: TopicNames, clickhouse: Client
) -> None:
    ok = await receivers.plain(lambda _: Reply(200, b'{"received":true}', {"content-type": "application/json"}))
    failing = await receivers.plain(lambda _: Reply(500, b"boom"))
    svix = api.svix
    app = await svix.application.create(ApplicationIn(name="Acme", uid="acme"))
    good = await svix.endpoint.create(app.id, EndpointIn(url=ok.url, uid="good"))
    bad = await svix.endpoint.create(app.id, EndpointIn(url=failing.url, channels=["eu"]))
    message = await svix.message.create(
        "acme", MessageIn(event_type="invoice.paid", event_id="inv-42", payload={"amount": 42}, channels=["eu"])
    )

    [request] = await ok.wait_for(1)
    secret = (await svix.endpoint.get_secret(app.id, good.id)).key
    Webhook(secret).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == message.id
    await failing.wait_for(1)

    by_endpoint = await eventually(
        lambda: svix.message_attempt.list_by_endpoint(app.id, good.id, MessageAttemptListByEndpointOptions(
            with_content=True)), lambda page: len(page.data) == 1,
    )  # fmt: skip
    [attempt] = by_endpoint.data
    assert (attempt.msg_id, attempt.endpoint_id, attempt.url) == (message.id, good.id, ok.url)
    assert (attempt.status, attempt.status_text, attempt.trigger_type) == (0, "success", 0)
    assert (attempt.response_status_code, attempt.response) == (200, '{"received":true}')
    assert attempt.timestamp >= message.timestamp and by_endpoint.done and attempt.id.startswith("atmpt_")

    by_msg = await eventually(lambda: svix.message_attempt.list_by_msg(app.id, "inv-42"), lambda p: len(p.data) >= 2)
    assert {(a.endpoint_id, a.status) for a in by_msg.data} == {(good.id, MessageStatus.SUCCESS),
                                                                (bad.id, MessageStatus.FAIL)}  # fmt: skip
    failed = await svix.message_attempt.list_by_msg(
        app.id, message.id, MessageAttemptListByMsgOptions(endpoint_id=bad.id, with_content=True)
    )
    assert failed.data[0].response_status_code == 500 and failed.data[0].response == "boom"
    fetched = await svix.message_attempt.get(app.id, "inv-42", attempt.id)
    assert fetched.id == attempt.id and fetched.response == '{"received":true}'

    # Statuses are derived by the status processor from the attempts (then projected): they follow the
    # attempts, and the failing endpoint's pair is "fail" only once its retries (0s, 1s, 2s) are exhausted.
    expected = {(good.id, 0, ok.url), (bad.id, 2, failing.url)}
    await eventually(
        lambda: svix.message_attempt.list_attempted_destinations(app.id, message.id),
        lambda page: {(d.id, d.status, d.url) for d in page.data} == expected,
    )
    attempted = await eventually(
        lambda: svix.message_attempt.list_attempted_messages(app.id, good.id), lambda page: len(page.data) == 1
    )
    assert [(m.id, m.status, m.event_id) for m in attempted.data] == [(message.id, 0, "inv-42")]

    async with httpx.AsyncClient(base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}) as raw:
        for path in (  # the seed's generated client: trailing slashes, and the two deprecated forms
            f"/api/v1/app/{app.id}/attempt/endpoint/{good.id}/",
            f"/api/v1/app/{app.id}/msg/{message.id}/attempt/?endpoint_id={good.id}",
            f"/api/v1/app/{app.id}/msg/{message.id}/endpoint/{good.id}/attempt/",
        ):
            answer = await raw.get(path)
            assert answer.status_code == 200, (path, answer.text)
            assert [a["id"] for a in answer.json()["data"]] == [attempt.id], path
        assert answer.json()["data"][0]["endpoint"]["id"] == good.id

    await svix.message_attempt.resend(app.id, message.id, good.id)
    second = (await ok.wait_for(2))[1]
    assert second.headers["webhook-id"] == message.id and second.body == request.body
    resent = await eventually(
        lambda: svix.message_attempt.list_by_endpoint(app.id, good.id), lambda page: len(page.data) == 2
    )
    assert [a.trigger_type for a in resent.data] == [1, 0], "the manual attempt is the newest"
    assert resent.data[0].id != attempt.id

    await svix.message_attempt.expunge_content(app.id, message.id, attempt.id)
    assert (await svix.message_attempt.get(app.id, message.id, attempt.id)).response == ""
    [(_, record)] = [c for c in await commands_on_log(settings, topics) if c[0] == "ContentExpunged"]
    assert record["attempt_id"] == str(parse_id(attempt.id, IdKind.ATTEMPT))
    # The projector applies the command from the log: the newest row of the attempt loses its body.
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        body = clickhouse.query(
            "SELECT response_body, expunged FROM attempts WHERE attempt_id = {a:UUID} ORDER BY version DESC LIMIT 1",
            parameters={"a": record["attempt_id"]},
        ).result_rows
        if body == [(None, 1)] or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    assert body == [(None, 1)]
    assert apply_expunge(clickhouse, record) == 0, "a replayed command writes nothing"

    async with aiohttp.ClientSession() as session:
        doc = await OpenApiDocument.fetch(session, api.url)
    assert api.check_responses(doc) >= 20, "every answer the SDK got matches /openapi.json"
