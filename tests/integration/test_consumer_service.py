"""The consuming service base, against a real broker: commit after acknowledgement, rewind on failure, dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from aiokafka import TopicPartition

from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec
from hookstream.log.consumer import ConsumerStalled, Event, EventConsumer, Outputs
from hookstream.log.producer import EventProducer
from hookstream.log.service import ConsumerService
from hookstream.log.topics import DEAD_LETTER, MESSAGES, TopicNames
from tests.support import builders

pytestmark = pytest.mark.integration


@pytest.fixture
async def producer(kafka: str) -> AsyncIterator[EventProducer]:
    async with EventProducer(kafka, AvroCodec()) as producer:
        yield producer


class Recording(ConsumerService):
    """Hands every batch to the test: the outputs it answers with, or the failures it raises."""

    def __init__(self, settings: Settings, producer: EventProducer) -> None:
        super().__init__(settings, producer, f"base-{uuid.uuid4().hex[:6]}", [MESSAGES])
        self.batches: list[list[Event]] = []
        self.outputs: list[asyncio.Future[object]] = []
        self.failures = 0

    async def handle(self, batch: list[Event]) -> Outputs:
        self.batches.append(batch)
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the handler failed (injected)")
        output: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.outputs.append(output)
        return [output]


async def _send(producer: EventProducer, topic: str, count: int) -> list[str]:
    app_id = builders.application()["app_id"]
    messages = [builders.message(app_id, event_id=f"e-{n}") for n in range(count)]
    for message in messages:
        await (await producer.send(topic, "MessageAccepted", message, app_id.encode()))
    return [message["msg_id"] for message in messages]


async def _committed(service: ConsumerService, topics: TopicNames) -> int:
    kafka = service.consumer.kafka
    total = 0
    for partition in kafka.partitions_for_topic(topics(MESSAGES)) or ():
        total += await kafka.committed(TopicPartition(topics(MESSAGES), partition)) or 0
    return total


async def _until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    for _ in range(int(timeout_s / 0.05)):  # bounded
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_a_batch_is_committed_only_once_its_outputs_are_acknowledged(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    sent = await _send(producer, topics(MESSAGES), 5)
    async with Recording(settings, producer) as service:
        await _until(lambda: sum(len(b) for b in service.batches) >= len(sent))
        await asyncio.sleep(1.0)  # time enough for a commit that did not wait
        assert await _committed(service, topics) == 0
        for output in service.outputs:
            output.set_result(None)
        for _ in range(100):
            if await _committed(service, topics) == len(sent):
                break
            await asyncio.sleep(0.1)
        assert await _committed(service, topics) == len(sent)
        await service.check()
    assert sorted(e.record["msg_id"] for b in service.batches for e in b) == sorted(sent)


async def test_a_failed_batch_is_rewound_and_read_again_and_health_says_so_meanwhile(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    sent = await _send(producer, topics(MESSAGES), 4)
    service = Recording(settings, producer)
    service.failures = 2
    async with service:
        await _until(lambda: len(service.batches) >= 2)
        with pytest.raises(ConsumerStalled, match="handler failed"):
            await service.check()
        await _until(lambda: bool(service.outputs))
        service.outputs[0].set_result(None)
        await _until(lambda: service.failure is None)
        await service.check()
    first, second, third = ([e.record["msg_id"] for e in batch] for batch in service.batches[:3])
    assert first == second == third  # the failed batch, read again twice, then handled
    assert sorted({m for b in service.batches for m in (e.record["msg_id"] for e in b)}) == sorted(sent)


async def test_a_dead_loop_is_named_by_the_health_check(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    class Dying(Recording):
        async def loop(self) -> None:
            raise RuntimeError("the loop broke (injected)")

    service = await Dying(settings, producer).start()
    try:
        await asyncio.sleep(0)
        with pytest.raises(ConsumerStalled, match=f"the {service.name} loop stopped"):
            await service.check()
    finally:
        with pytest.raises(RuntimeError, match="loop broke"):
            await service.stop()


async def test_a_poison_record_is_dead_lettered_and_the_batch_goes_on(
    settings: Settings, topics: TopicNames, producer: EventProducer
) -> None:
    app_id = builders.application()["app_id"]
    good = [builders.message(app_id, event_id=f"e-{n}") for n in range(2)]
    await (await producer.send(topics(MESSAGES), "MessageAccepted", good[0], b"k"))
    await (await producer.send_raw(topics(MESSAGES), b"\x00poison", b"k"))
    await (await producer.send(topics(MESSAGES), "MessageAccepted", good[1], b"k"))
    async with Recording(settings, producer) as service:
        await _until(lambda: sum(len(b) for b in service.batches) >= 2)
        for output in service.outputs:
            output.set_result(None)
    assert [e.record["msg_id"] for b in service.batches for e in b] == [m["msg_id"] for m in good]
    letters = EventConsumer(settings, producer, [topics(DEAD_LETTER)], f"letters-{uuid.uuid4().hex}")
    await letters.start()
    try:
        async with asyncio.timeout(30):
            async for batch in letters.batches(timeout_ms=200):
                dead = batch
                break
    finally:
        await letters.stop()
    assert len(dead) == 1
    assert dead[0].record["value"] == b"\x00poison"
    assert dead[0].record["consumer"] == service.consumer.group_id == settings.topic_namespace + service.name
