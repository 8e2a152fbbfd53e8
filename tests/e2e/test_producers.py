"""The producer examples of docs/producers.md, run as a user runs them: Java (kafka-clients), Go (franz-go),
Node (kafkajs) and Python (aiokafka, confluent-kafka) each write a CloudEvent and a plain-JSON MessageIn to the
intake topic of a real broker; the intake role turns them into messages, the receiver gets both signed, and the
attempts are listed through the API.

Each example is built once per session by its own toolchain (tests/support/producers.py), so `make test`
bootstraps them; docs/producers.md quotes the same files (tests/unit/test_producer_docs.py keeps them equal).
"""

from __future__ import annotations

import json

import pytest
from standardwebhooks import Webhook
from svix.api import ApplicationIn, EndpointIn, MessageAttemptListByEndpointOptions, MessageListOptions

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import INTAKE, TopicNames
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.producers import LANGUAGES, ExampleProducer, build
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e

# What every example sends: one CloudEvent (binary or structured mode) and one plain-JSON MessageIn.
SENT = {
    "invoice.paid": {"invoiceId": "inv_1001", "amountCents": 4200},
    "invoice.voided": {"invoiceId": "inv_1002"},
}


@pytest.fixture(scope="session", params=LANGUAGES)
def example(request: pytest.FixtureRequest) -> ExampleProducer:
    """One example, built once for the session (the first build fetches its client library into the cache)."""
    return build(request.param)


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1)


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


async def test_example_producer_is_delivered_signed_and_its_attempts_are_listed(
    example: ExampleProducer, api: ServedApi, receivers: ReceiverFactory, settings: Settings, topics: TopicNames
) -> None:
    receiver = await receivers.plain()
    svix = api.svix
    app = await svix.application.create(ApplicationIn(name="Billing", uid="billing"))
    endpoint = await svix.endpoint.create(app.id, EndpointIn(url=receiver.url))

    await example.produce(settings.kafka_bootstrap_servers, topics(INTAKE), "billing")

    requests = await receiver.wait_for(2, timeout_s=60)
    secret = (await svix.endpoint.get_secret(app.id, endpoint.id)).key
    for request in requests:
        Webhook(secret).verify(request.body, request.headers)
    delivered = {request.headers["webhook-id"]: json.loads(request.body) for request in requests}
    assert sorted(delivered.values(), key=json.dumps) == sorted(SENT.values(), key=json.dumps)

    messages = await eventually(
        lambda: svix.message.list(app.id, MessageListOptions(with_content=True)), lambda page: len(page.data) == 2
    )
    assert {m.id for m in messages.data} == set(delivered)
    assert sorted((m.event_type, m.payload) for m in messages.data) == sorted(SENT.items())
    attempts = await eventually(
        lambda: svix.message_attempt.list_by_endpoint(
            app.id, endpoint.id, MessageAttemptListByEndpointOptions(with_content=True)
        ),
        lambda page: len(page.data) == 2,
    )
    assert {(a.msg_id, a.status, a.response_status_code) for a in attempts.data} == {
        (msg_id, 0, 200) for msg_id in delivered
    }
