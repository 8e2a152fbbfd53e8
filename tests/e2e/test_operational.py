"""Operational webhooks, endpoint recover and skipped deliveries, through the svix SDK over the whole pipeline.

Compressed schedule (0 s, 2 s, 2 s). A tenant endpoint that always fails is
exhausted: the operator's operational endpoint receives a signed
``message.attempt.exhausted`` (verified with the Standard Webhooks verifier),
another operator endpoint that itself fails never feeds events about itself
back (no loop), and a recover resends the exhausted message exactly once.
A retry due after its endpoint was disabled is dropped, and the pair becomes
final (fail) instead of staying "sending".
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from clickhouse_connect.driver import Client
from standardwebhooks import Webhook
from svix.api import (
    ApplicationIn,
    EndpointIn,
    EndpointPatch,
    MessageIn,
    MessageStatus,
    OperationalWebhookEndpointIn,
    RecoverIn,
)

from hookstream.domain.ids import IdKind, parse_id, to_svix
from hookstream.domain.operational import OPERATIONAL_APP_ID
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.receivers import Received, Reply
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", delivery_timeout_s=2.0,
        projector_batch_s=0.1, retry_schedule="0s,2s,2s", retry_jitter=0.2, endpoint_disable_after="1h",
    )  # fmt: skip


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def switchable(state: dict[str, int]) -> Callable[[Received], Reply]:
    return lambda _: Reply(state["status"])


async def test_exhausted_message_reaches_the_operator_signed_without_loops_and_recover_resends_it_once(
    api: ServedApi, receivers: ReceiverFactory
) -> None:
    svix = api.svix
    operator = await receivers.plain(lambda _: Reply(200))
    broken_operator = await receivers.plain(lambda _: Reply(500))
    tenant_state = {"status": 500}
    tenant = await receivers.plain(switchable(tenant_state))

    subscribed = await svix.operational_webhook.endpoint.create(
        OperationalWebhookEndpointIn(url=operator.url, event_types=["message.attempt.exhausted"])
    )
    await svix.operational_webhook.endpoint.create(OperationalWebhookEndpointIn(url=broken_operator.url))
    listed = await svix.operational_webhook.endpoint.list()
    assert {e.url for e in listed.data} == {operator.url, broken_operator.url}
    apps = await svix.application.list()
    assert to_svix(IdKind.APPLICATION, OPERATIONAL_APP_ID) not in {a.id for a in apps.data}, "no tenant"

    app = await svix.application.create(ApplicationIn(name="shop"))
    endpoint = await svix.endpoint.create(app.id, EndpointIn(url=tenant.url))
    message = await svix.message.create(app.id, MessageIn(event_type="order.paid", payload={"order": 7}))
    await tenant.wait_for(3, 20)

    [delivered] = await operator.wait_for(1, 30)
    secret = (await svix.operational_webhook.endpoint.get_secret(subscribed.id)).key
    Webhook(secret).verify(delivered.body, delivered.headers)
    body = json.loads(delivered.body)
    assert body["type"] == "message.attempt.exhausted"
    assert (body["data"]["appId"], body["data"]["msgId"], body["data"]["endpointId"]) == (
        app.id, message.id, endpoint.id,
    )  # fmt: skip
    assert body["data"]["lastAttempt"]["responseStatusCode"] == 500

    # The broken operator endpoint got failing/exhausted events about the tenant and exhausts itself too;
    # its own exhaustion must not come back as an operational webhook to anyone.
    await broken_operator.wait_for(3, 30)
    await asyncio.sleep(4)
    assert len(operator.received) == 1, "only the tenant's exhaustion, nothing about operator endpoints"
    assert len(broken_operator.received) == 3, "one event (the tenant's exhaustion), three attempts"
    assert {json.loads(r.body)["data"]["appId"] for r in broken_operator.received} == {app.id}
    assert len({r.headers["webhook-id"] for r in broken_operator.received}) == 1

    destinations = await svix.message_attempt.list_attempted_destinations(app.id, message.id)
    assert [(d.id, d.status) for d in destinations.data] == [(endpoint.id, MessageStatus.FAIL)]

    tenant_state["status"] = 200
    since = datetime.now(UTC) - timedelta(hours=1)
    recovering = await svix.endpoint.recover(app.id, endpoint.id, RecoverIn(since=since))
    assert recovering.id.startswith("qtask_") and recovering.task.value == "endpoint.recover"
    await tenant.wait_for(4, 30)
    await eventually(
        lambda: svix.message_attempt.list_attempted_destinations(app.id, message.id),
        lambda page: [d.status for d in page.data] == [MessageStatus.SUCCESS],
    )
    await asyncio.sleep(2)
    assert len(tenant.received) == 4, "recovered once, not retried, not repeated"
    assert tenant.received[-1].headers["webhook-id"] == message.id


async def test_a_retry_due_after_its_endpoint_is_disabled_leaves_the_pair_failed(
    api: ServedApi, receivers: ReceiverFactory, clickhouse: Client
) -> None:
    svix = api.svix
    slow_fail = await receivers.plain(lambda _: Reply(500))
    app = await svix.application.create(ApplicationIn(name="shop"))
    endpoint = await svix.endpoint.create(app.id, EndpointIn(url=slow_fail.url))
    message = await svix.message.create(app.id, MessageIn(event_type="order.paid", payload={"order": 8}))
    await slow_fail.wait_for(1, 20)
    await svix.endpoint.patch(app.id, endpoint.id, EndpointPatch(disabled=True))
    sending = await eventually(
        lambda: svix.message_attempt.list_attempted_destinations(app.id, message.id),
        lambda page: bool(page.data) and page.data[0].status in (MessageStatus.SENDING, MessageStatus.FAIL),
    )
    if sending.data[0].status is MessageStatus.SENDING:
        assert sending.data[0].next_attempt is not None, "a pending retry shows when it is due"
    await eventually(
        lambda: svix.message_attempt.list_attempted_destinations(app.id, message.id),
        lambda page: page.data[0].status is MessageStatus.FAIL and page.data[0].next_attempt is None,
    )
    assert len(slow_fail.received) == 1, "the retry was dropped, not sent"
    ep_uuid = parse_id(endpoint.id, IdKind.ENDPOINT)
    rows = clickhouse.query(
        "SELECT status, attempt_count FROM message_endpoint_status WHERE endpoint_id = {e:UUID} "
        "ORDER BY version DESC LIMIT 1",
        parameters={"e": ep_uuid},
    ).result_rows
    assert rows == [("fail", 1)], "one attempt made, the dropped retry made the pair final"
