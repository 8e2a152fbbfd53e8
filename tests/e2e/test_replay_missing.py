"""Endpoint replay-missing as a Svix background task, through the whole pipeline and the svix SDK.

Messages are sent while only one endpoint exists; a second endpoint, added
later and subscribed to one event type, asks for what it missed. It gets
exactly the messages of its type sent before it existed, once each (not the
one it already received, not those of another type), and a second replay
finds nothing left to send. Real broker, real ClickHouse, every role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from svix.api import ApplicationIn, BackgroundTaskListOptions, EndpointIn, MessageIn, ReplayIn
from svix.models import BackgroundTaskStatus, BackgroundTaskType

from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.query.messages import MessageFilter, list_messages
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e

EARLY = 3  # invoice.paid messages sent before the second endpoint exists


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32",
                            projector_batch_s=0.1, recover_progress_interval_s=0.0)  # fmt: skip


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


async def test_an_endpoint_added_later_gets_exactly_the_messages_it_missed_once(
    api: ServedApi, receivers: ReceiverFactory
) -> None:
    svix = api.svix
    first, late = await receivers.plain(), await receivers.plain()
    app = await svix.application.create(ApplicationIn(name="replay"))
    await svix.endpoint.create(app.id, EndpointIn(url=first.url))
    early = [await svix.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"n": n}))
             for n in range(EARLY)]  # fmt: skip
    await svix.message.create(app.id, MessageIn(event_type="user.signup", payload={"other": True}))
    await first.wait_for(EARLY + 1)
    added = await svix.endpoint.create(app.id, EndpointIn(url=late.url, event_types=["invoice.paid"]))
    live = await svix.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"n": "live"}))
    await late.wait_for(1)
    # The replay reads what is projected: every message, and the late endpoint's attempt of the live one.
    app_uuid = parse_id(app.id, IdKind.APPLICATION)
    await eventually(lambda: list_messages(api.ctx.clickhouse, MessageFilter(app_uuid), 50, None),
                     lambda page: len(page.items) == EARLY + 2)  # fmt: skip
    await eventually(lambda: svix.endpoint.get_stats(app.id, added.id), lambda s: s.success == 1)

    since = datetime.now(UTC) - timedelta(hours=1)
    started = await svix.endpoint.replay_missing(app.id, added.id, ReplayIn(since=since))
    assert started.id.startswith("qtask_") and started.task == BackgroundTaskType.ENDPOINT_REPLAY
    assert started.status in (BackgroundTaskStatus.RUNNING, BackgroundTaskStatus.FINISHED)
    done = await eventually(lambda: svix.background_task.get(started.id),
                            lambda t: t.status == BackgroundTaskStatus.FINISHED)  # fmt: skip
    assert done.task == BackgroundTaskType.ENDPOINT_REPLAY
    received = await late.wait_for(1 + EARLY)
    ids = [r.headers["webhook-id"] for r in received]
    assert sorted(ids) == sorted([m.id for m in early] + [live.id]), "the missed messages of its type, once each"
    assert done.data == {"messagesFound": EARLY, "messagesSent": EARLY, "messagesSkipped": 0}

    # Once the replayed attempts are recorded, nothing is missing any more.
    await eventually(lambda: svix.endpoint.get_stats(app.id, added.id), lambda s: s.success == 1 + EARLY)
    again = await svix.endpoint.replay_missing(app.id, added.id, ReplayIn(since=since))
    nothing = await eventually(lambda: svix.background_task.get(again.id),
                               lambda t: t.status == BackgroundTaskStatus.FINISHED)  # fmt: skip
    assert nothing.data == {"messagesFound": 0, "messagesSent": 0, "messagesSkipped": 0}
    listed = await svix.background_task.list(BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_REPLAY))
    assert [t.id for t in listed.data] == [started.id, again.id]
    assert len(late.received) == 1 + EARLY, "the second replay sent nothing"
    assert len(first.received) == EARLY + 2, "the other endpoint got nothing replayed"
