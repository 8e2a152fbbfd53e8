"""A producer whose idempotent sequence broke (as a broker restart can leave it) is renewed for every caller.

The break is made for real: the producer's next sequence number is moved
past the broker's, the state a batch lost with a stopped broker leaves, and
the broker itself answers ``OutOfOrderSequenceNumber``. Before the renewal
was automatic, only the delivery worker's publish retry renewed the
producer; every other component (router, delay tiers, relay, API) retried
into the same error forever.
"""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError, OutOfOrderSequenceNumber

from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer
from hookstream.log.topics import MESSAGES, TopicNames

pytestmark = pytest.mark.integration


async def _establish_every_partition(producer: EventProducer, topic: str) -> set[int]:
    """Acked records on each of the topic's partitions, so the broker knows the producer's sequence there."""
    partitions: set[int] = set()
    for n in range(200):
        meta = await (await producer.send_raw(topic, b"warm-up", f"k{n}".encode()))
        partitions.add(meta.partition)
        if len(partitions) == 3:
            return partitions
    raise AssertionError(f"keys reached only partitions {partitions}")


def _break_sequences(producer: EventProducer, topic: str, partitions: set[int]) -> None:
    manager = producer._producer._txn_manager  # the real client's sequence bookkeeping, nothing stubbed
    for partition in partitions:
        manager.increment_sequence_number(TopicPartition(topic, partition), 7)


async def _send_retrying(producer: EventProducer, topic: str, value: bytes) -> list[str]:
    """What every caller does: send, and on a Kafka error send again after a pause (bounded here)."""
    errors: list[str] = []
    for _ in range(30):
        try:
            await (await producer.send_raw(topic, value, b"the-key"))
            return errors
        except KafkaError as exc:
            errors.append(type(exc).__name__)
            await asyncio.sleep(0.2)
    raise AssertionError(f"never acknowledged after {len(errors)} tries: {sorted(set(errors))}")


async def test_a_plain_retry_gets_through_after_out_of_order_sequence(kafka: str, topics: TopicNames) -> None:
    topic = topics(MESSAGES)
    async with EventProducer(kafka, AvroCodec()) as producer:
        _break_sequences(producer, topic, await _establish_every_partition(producer, topic))
        errors = await _send_retrying(producer, topic, b"after-the-break")
        assert errors and errors[0] == OutOfOrderSequenceNumber.__name__, errors
        assert producer.renewals == 1
        later = await _send_retrying(producer, topic, b"and-the-next")
        assert later == []

    reader = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False)
    await reader.start()
    try:
        values: list[bytes] = []
        while b"and-the-next" not in values:
            batch = await asyncio.wait_for(reader.getmany(timeout_ms=500), 30)
            values += [m.value for records in batch.values() for m in records]
    finally:
        await reader.stop()
    assert values.count(b"after-the-break") == 1


async def test_recover_waits_for_the_renewal_and_ignores_other_errors(kafka: str, topics: TopicNames) -> None:
    topic = topics(MESSAGES)
    async with EventProducer(kafka, AvroCodec()) as producer:
        assert await producer.recover(KafkaError("not a sequence problem")) is False
        _break_sequences(producer, topic, await _establish_every_partition(producer, topic))
        with pytest.raises(OutOfOrderSequenceNumber) as failed:
            await (await producer.send_raw(topic, b"x", b"the-key"))
        assert await producer.recover(failed.value) is True
        assert producer.renewals == 1  # done by the time recover returns: the retry goes to the new producer
        await (await producer.send_raw(topic, b"y", b"the-key"))
