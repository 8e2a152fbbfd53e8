"""Background task states: their records, the moves of a recover, the list filters, the Svix shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hookstream.api.svix.background_tasks import background_task_out
from hookstream.domain.background import (
    FAILED,
    FAILED_MESSAGES,
    FINISHED,
    MISSING_MESSAGES,
    RECOVER,
    REPLAY,
    RUNNING,
    from_record,
    matching,
    recover_counts,
    recover_started,
    task_svix_id,
    to_record,
)
from hookstream.domain.ids import IdKind, new_id, parse_id
from hookstream.domain.matching import EndpointRule
from hookstream.domain.routing import replay_wanted
from hookstream.log.codec import AvroCodec

T0 = datetime(2026, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
APP, ENDPOINT = new_id(1_700_000_000_000, b"a" * 10), new_id(1_700_000_000_001, b"e" * 10)


def _task(ms: int = 1_700_000_000_500):
    return recover_started(new_id(ms, b"t" * 10), APP, ENDPOINT, T0)


def test_a_recover_starts_running_and_moves_with_its_counts():
    task = _task()
    assert (task.task, task.status, dict(task.data)) == (RECOVER, RUNNING, {})
    later = task.moved(RUNNING, T0 + timedelta(seconds=5), **recover_counts(10, 4, 1))
    done = later.moved(FINISHED, T0 + timedelta(seconds=9), messagesSent=9)
    assert dict(done.data) == {"messagesFound": 10, "messagesSent": 9, "messagesSkipped": 1}
    assert (done.status, done.updated_at, task.status) == (FINISHED, T0 + timedelta(seconds=9), RUNNING)


def test_a_state_survives_its_avro_record():
    codec = AvroCodec()
    task = _task().moved(FINISHED, T0, **recover_counts(3, 2, 1))
    _, record = codec.decode(codec.encode("BackgroundTaskState", to_record(task)), expected="BackgroundTaskState")
    assert from_record(record) == task


def test_the_id_is_a_qtask_id_of_the_request():
    task = _task()
    shown = task_svix_id(task.task_id)
    assert shown.startswith("qtask_") and parse_id(shown, IdKind.BACKGROUND_TASK) == task.task_id


def test_the_list_filters_by_status_and_type():
    running, finished, failed = _task(1), _task(2).moved(FINISHED, T0), _task(3).moved(FAILED, T0)
    tasks = [running, finished, failed]
    assert matching(tasks, None, None) == tasks
    assert matching(tasks, FINISHED, None) == [finished]
    assert matching(tasks, None, RECOVER) == tasks
    assert matching(tasks, RUNNING, "endpoint.replay") == []


def test_the_svix_shape_is_background_task_out():
    task = _task().moved(FINISHED, T0, **recover_counts(2, 2, 0))
    assert background_task_out(task) == {
        "id": task_svix_id(task.task_id), "status": "finished", "task": "endpoint.recover",
        "data": {"messagesFound": 2, "messagesSent": 2, "messagesSkipped": 0},
        "updatedAt": "2026-03-14T15:09:26.535897Z",
    }  # fmt: skip


def test_a_replay_missing_is_the_same_task_with_the_other_selection():
    replay = recover_started(new_id(1_700_000_000_600, b"r" * 10), APP, ENDPOINT, T0, MISSING_MESSAGES)
    assert (replay.task, replay.status) == (REPLAY, RUNNING)
    assert _task().task == recover_started(replay.task_id, APP, ENDPOINT, T0, FAILED_MESSAGES).task == RECOVER


def test_a_replay_takes_what_the_endpoint_filters_take_now_even_while_disabled():
    row = {"msg_id": ENDPOINT, "app_id": APP, "event_type": "invoice.paid", "channels": ["eu"],
           "payload": b'{"amount": 5}', "accepted_at": T0}  # fmt: skip
    typed = EndpointRule(ENDPOINT, frozenset({"invoice.paid"}), disabled=True)
    assert replay_wanted(row, typed)
    assert not replay_wanted({**row, "event_type": "user.signup"}, typed)
    assert not replay_wanted(row, EndpointRule(ENDPOINT, channels=frozenset({"us"})))
    assert not replay_wanted(row, EndpointRule(ENDPOINT, payload_filter={"data": {"amount": 6}}))
    assert replay_wanted({**row, "payload": None}, typed), "no payload any more: matched on type and channels"
