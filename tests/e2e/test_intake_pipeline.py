"""A CloudEvent written to the intake topic is delivered, signed, to a receiver on 127.0.0.1, and its message and
attempt are read back through the API like any message sent over HTTP."""

from __future__ import annotations

import json

import pytest
from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook
from svix.api import ApplicationIn, EndpointIn, MessageOut
from svix.exceptions import HttpError

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import INTAKE, TopicNames
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.receivers import Reply
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


async def test_a_cloudevent_on_intake_is_delivered_signed_and_its_attempt_is_listed(
    api: ServedApi, receivers: ReceiverFactory, settings: Settings, topics: TopicNames
) -> None:
    ok = await receivers.plain(lambda _: Reply(200, b"ok"))
    svix = api.svix
    app = await svix.application.create(ApplicationIn(name="Shop", uid="shop"))
    endpoint = await svix.endpoint.create(app.id, EndpointIn(url=ok.url, channels=["eu"]))
    event = {"specversion": "1.0", "id": "ce-42", "source": "/orders", "type": "order.created", "subject": "eu",
             "hookstreamapp": "shop", "data": {"order": 42}}  # fmt: skip
    upstream = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await upstream.start()
    try:
        await upstream.send_and_wait(topics(INTAKE), json.dumps(event).encode(), key=b"order-42",
                                     headers=[("content-type", b"application/cloudevents+json")])  # fmt: skip
    finally:
        await upstream.stop()

    [request] = await ok.wait_for(1)
    secret = (await svix.endpoint.get_secret(app.id, endpoint.id)).key
    Webhook(secret).verify(request.body, request.headers)
    assert json.loads(request.body) == {"order": 42}

    async def projected() -> MessageOut | None:
        try:
            return await svix.message.get(app.id, "ce-42")
        except HttpError:  # 404 until the projector has written it: intake bypasses the API's recent writes
            return None

    message = await eventually(projected, lambda m: m is not None)
    assert message is not None
    assert request.headers["webhook-id"] == message.id
    assert (message.event_type, message.channels) == ("order.created", ["eu"])
    page = await eventually(lambda: svix.message_attempt.list_by_msg(app.id, message.id), lambda p: len(p.data) == 1)
    [attempt] = page.data
    assert (attempt.endpoint_id, attempt.response_status_code, attempt.status) == (endpoint.id, 200, 0)
