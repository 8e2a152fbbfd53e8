"""faust-streaming apps for hookstream's stream processors, built by a factory (no module-level app).

Every processor gets its own faust app, named under the topic namespace
(``<namespace>status``): the app id is the consumer group and the prefix of
the changelog topics faust creates for its tables, so deployments sharing a
cluster never share either. Tables live in memory and are rebuilt from their
changelog at start. Values travel as our Avro single-object bytes (raw
serializers); the processors decode with :class:`~hookstream.log.codec.AvroCodec`.

At-least-once comes from faust itself: what an agent sends goes through the
app's producer, which faust flushes before it commits the offsets of the
events that caused it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import faust
from aiokafka import ConsumerRecord

from hookstream.foundation.settings import Settings
from hookstream.log.codec import AvroCodec, UndecodableRecord
from hookstream.log.consumer import dead_letter_record

log = logging.getLogger("hookstream.streams")


def faust_broker(bootstrap: str) -> str:
    """``host:9092,host2:9092`` as faust's broker URL list."""
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap.split(",") if server.strip())


def faust_app(settings: Settings, name: str, *, partitions: int | None = None) -> faust.App:
    """A faust app for processor ``name``; start it with ``await app.start()``, stop with ``app.stop()``.

    ``partitions`` (default: the deployment's) sizes the tables' changelogs and
    repartition topics; it must equal the partitions of the topic feeding them.
    """
    app_id = f"{settings.topic_namespace}{name}"
    datadir = settings.data_dir / "faust" / app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return faust.App(
        app_id,
        broker=faust_broker(settings.kafka_bootstrap_servers),
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
        web_enabled=False,
        topic_partitions=partitions or settings.topic_partitions,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=True,  # changelogs and repartition topics only: ours come from the catalogue
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        # aiokafka's default, not faust's 60 s: a crashed member's partitions move on after 10 s.
        broker_session_timeout=10.0,
        stream_buffer_maxsize=4096,
        producer_acks=-1,
        producer_linger_ms=5,
    )


def raw_topic(app: faust.App, name: str, *, internal: bool = False, partitions: int | None = None) -> faust.TopicT:
    """A topic of Avro bytes: faust neither encodes nor decodes."""
    return app.topic(
        name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
        internal=internal, partitions=partitions,
    )  # fmt: skip


def decode_event(codec: AvroCodec, event: faust.EventT) -> tuple[str, dict[str, Any]]:
    """Decode the event's Avro value; raises :class:`UndecodableRecord` (tombstones included)."""
    value = event.message.value
    if value is None:
        raise UndecodableRecord("a tombstone where an event was expected")
    return codec.decode(value)


def message_headers(message: faust.types.Message) -> Iterable[tuple[str, bytes]]:
    """A faust message's headers as ``(name, value)`` pairs: faust hands over a mapping or a sequence of pairs."""
    headers = message.headers
    return headers.items() if isinstance(headers, Mapping) else (headers or ())


def event_header(event: faust.EventT, name: str) -> bytes | None:
    """The value of the event's header ``name`` (the first, if repeated), or None."""
    return next((value for key, value in message_headers(event.message) if key == name), None)


def dead_letter_of(event: faust.EventT, error: UndecodableRecord, consumer: str) -> dict[str, Any]:
    """The DeadLetter record of a faust event, as :func:`~hookstream.log.consumer.dead_letter_record` makes it."""
    message = event.message
    headers = message_headers(message)
    record = ConsumerRecord(
        topic=message.topic, partition=message.partition, offset=message.offset,
        timestamp=int(message.timestamp * 1000), timestamp_type=message.timestamp_type, key=message.key,
        value=message.value, checksum=None, serialized_key_size=message.serialized_key_size,
        serialized_value_size=message.serialized_value_size, headers=tuple(headers),
    )  # fmt: skip
    return dead_letter_record(record, error, consumer)


STOP_TIMEOUT_S = 30.0


async def stop_app(app: faust.App) -> None:
    """Stop a faust app and release what it holds; a failure is logged, not raised, so the other roles stop too.

    Bounded: faust's stop can wait forever on a consumer that lost its broker or group, and a process
    must be able to stop (its uncommitted work is read again by the next owner of the partitions).
    """
    try:
        await asyncio.wait_for(app.stop(), STOP_TIMEOUT_S)
    except TimeoutError:
        log.error("stopping faust app %s took longer than %.0f s; going on", app.conf.id, STOP_TIMEOUT_S)
    except Exception:
        log.exception("stopping faust app %s failed", app.conf.id)


def now() -> datetime:
    return datetime.now(UTC)
