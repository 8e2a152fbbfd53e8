"""Endpoint recover as a Svix background task, through the whole pipeline and the svix SDK.

Messages fail at an endpoint (one attempt each), the endpoint comes back, a
recover resends them: its ``qtask_`` id, answered at once, ends ``finished``
with the counts (``background_task.get``), and the list's filters and paging
find it (``background_task.list``). Real broker, real ClickHouse, every role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from svix.api import ApplicationIn, BackgroundTaskListOptions, EndpointIn, MessageIn, RecoverIn
from svix.models import BackgroundTaskStatus, BackgroundTaskType, Ordering

from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.log.topics import TopicNames
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.receivers import Received, Reply
from tests.support.svix_api import ServedApi, eventually

pytestmark = pytest.mark.e2e

FAILED = 4


@pytest.fixture
def api_settings(settings: Settings, topics: TopicNames) -> Settings:
    return settings.replace(secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32",
                            projector_batch_s=0.1, retry_schedule="0s", recover_progress_interval_s=0.0)  # fmt: skip


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


async def test_a_recover_ends_finished_with_its_counts_and_the_list_finds_it(
    api: ServedApi, receivers: ReceiverFactory
) -> None:
    up = False
    receiver = await receivers.plain(lambda _: Reply(200) if up else Reply(500, b"down"))
    svix = api.svix
    app = await svix.application.create(ApplicationIn(name="recover"))
    endpoint = await svix.endpoint.create(app.id, EndpointIn(url=receiver.url))
    for n in range(FAILED):
        await svix.message.create(app.id, MessageIn(event_type="invoice.paid", payload={"n": n}))
    await eventually(lambda: svix.endpoint.get_stats(app.id, endpoint.id), lambda s: s.fail == FAILED)

    up = True
    since = datetime.now(UTC) - timedelta(hours=1)
    started = await svix.endpoint.recover(app.id, endpoint.id, RecoverIn(since=since))
    assert started.id.startswith("qtask_") and started.task == BackgroundTaskType.ENDPOINT_RECOVER
    assert (await svix.background_task.get(started.id)).status in (BackgroundTaskStatus.RUNNING,
                                                                   BackgroundTaskStatus.FINISHED)  # fmt: skip
    done = await eventually(lambda: svix.background_task.get(started.id),
                            lambda t: t.status == BackgroundTaskStatus.FINISHED)  # fmt: skip
    assert done.data == {"messagesFound": FAILED, "messagesSent": FAILED, "messagesSkipped": 0}
    resent: list[Received] = await receiver.wait_for(2 * FAILED)
    assert len(resent) == 2 * FAILED

    # A second recover of a window without failures: nothing found, finished too.
    empty = await svix.endpoint.recover(app.id, endpoint.id, RecoverIn(since=datetime.now(UTC)))
    nothing = await eventually(lambda: svix.background_task.get(empty.id),
                               lambda t: t.status == BackgroundTaskStatus.FINISHED)  # fmt: skip
    assert nothing.data == {"messagesFound": 0, "messagesSent": 0, "messagesSkipped": 0}

    finished = BackgroundTaskListOptions(status=BackgroundTaskStatus.FINISHED,
                                         task=BackgroundTaskType.ENDPOINT_RECOVER)  # fmt: skip
    assert [t.id for t in (await svix.background_task.list(finished)).data] == [started.id, empty.id]
    assert (await svix.background_task.list(BackgroundTaskListOptions(status=BackgroundTaskStatus.RUNNING))).data == []
    other = BackgroundTaskListOptions(task=BackgroundTaskType.ENDPOINT_REPLAY)
    assert (await svix.background_task.list(other)).data == []
    newest = await svix.background_task.list(BackgroundTaskListOptions(limit=1, order=Ordering.DESCENDING))
    assert ([t.id for t in newest.data], newest.done) == ([empty.id], False)
    rest = await svix.background_task.list(
        BackgroundTaskListOptions(limit=1, order=Ordering.DESCENDING, iterator=newest.iterator)
    )
    assert ([t.id for t in rest.data], rest.done) == ([started.id], True)
