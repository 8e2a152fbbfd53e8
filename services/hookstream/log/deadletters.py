"""``hookstream deadletters``: list the dead-letter topic, and put a letter's record back where it came from.

A dead letter holds its record whole (key, value, headers) with where it was
read and why it was refused, so after a fix (the application created, the
producer corrected, the cap raised) the operator re-submits it: the original
bytes go back to the original topic, as a new record the consumer reads
again. The dead-letter topic keeps the letter; nothing here deletes one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.topics import DEAD_LETTER, TopicNames, dead_letter_max_bytes


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """Which letters to list; None matches any. ``consumer`` matches the group with or without the namespace."""

    consumer: str | None = None
    error_class: str | None = None
    since: datetime | None = None

    def matches(self, letter: dict[str, Any], namespace: str) -> bool:
        if self.error_class is not None and letter["error_class"] != self.error_class:
            return False
        if self.consumer is not None and letter.get("consumer") not in (self.consumer, namespace + self.consumer):
            return False
        return self.since is None or letter["failed_at"] >= self.since


@dataclass(frozen=True, slots=True)
class Letter:
    offset: int
    """The letter's own offset on the dead-letter topic: what ``resubmit --offset`` names."""
    record: dict[str, Any]


def format_letter(letter: Letter) -> str:
    """One line: when, the letter's offset, where the record was (topic/partition/offset), who refused it, why."""
    r = letter.record
    when = r["failed_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    reason = " ".join(str(r["reason"]).split())
    return (f"{when}  #{letter.offset}  {r['topic']}/{r['partition']}/{r['offset']}  {r.get('consumer') or '-'}  "
            f"{r['error_class']}  {reason}")  # fmt: skip


async def read_letters(settings: Settings, codec: AvroCodec) -> list[Letter]:
    """Every letter on the dead-letter topic, up to its end when called, oldest first."""
    topic = TopicNames.from_settings(settings)(DEAD_LETTER)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                              max_partition_fetch_bytes=dead_letter_max_bytes(settings))  # fmt: skip
    await reader.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        if not partitions:
            await reader.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(reader.partitions_for_topic(topic) or ())]
        if not partitions:
            raise LookupError(f"no topic {topic} (run `hookstream topics create`)")
        reader.assign(partitions)
        ends = await reader.end_offsets(partitions)
        await reader.seek_to_beginning(*partitions)
        letters: list[Letter] = []
        while [tp for tp, end in ends.items() if await reader.position(tp) < end]:
            fetched = await reader.getmany(timeout_ms=1000)
            for tp, records in fetched.items():
                letters.extend(_decoded(codec, records, ends[tp]))
        return sorted(letters, key=lambda letter: letter.offset)
    finally:
        await reader.stop()


def _decoded(codec: AvroCodec, records: list[Any], end: int) -> Iterator[Letter]:
    for record in records:
        if record.offset >= end or record.value is None:
            continue
        try:
            _, letter = codec.decode(record.value, "DeadLetter")
        except UndecodableRecord:
            continue  # not a letter: nothing to list or re-submit
        yield Letter(record.offset, letter)


def select(letters: list[Letter], letter_filter: LetterFilter, namespace: str, limit: int | None) -> list[Letter]:
    """The matching letters, the newest ``limit`` of them (oldest first)."""
    chosen = [letter for letter in letters if letter_filter.matches(letter.record, namespace)]
    return chosen[-limit:] if limit else chosen


async def resubmit(settings: Settings, letter: Letter) -> tuple[str, int, int]:
    """Write the letter's record (key, value, headers, untouched) back to its topic and partition; its new offset."""
    r = letter.record
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all",
                                enable_idempotence=True, max_request_size=dead_letter_max_bytes(settings))  # fmt: skip
    await producer.start()
    try:
        headers = [(h["key"], h["value"] if h["value"] is not None else b"") for h in r["headers"]]
        sent = await producer.send_and_wait(r["topic"], r["value"], key=r["key"], headers=headers,
                                            partition=r["partition"])  # fmt: skip
    finally:
        await producer.stop()
    return sent.topic, sent.partition, sent.offset
