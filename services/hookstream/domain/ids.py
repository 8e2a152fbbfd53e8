"""Entity ids: one UUIDv7 per entity, rendered in whichever form a dialect wants.

Every entity gets a 128-bit UUIDv7 (RFC 9562): 48 bits of unix milliseconds,
then random bits. Because the time comes first, "newest first" and
before/after bounds are plain id ranges, in ClickHouse and in Kafka keys alike.

The Svix dialect shows the same 128 bits as a prefix and fixed-length base62
(``msg_`` + 22 characters). The alphabet is in ASCII order and the length is
fixed, so comparing two such strings compares the numbers, which compares the
times. The v1 dialect and the Avro events use the canonical UUID text, which
sorts the same way when lower-case.

Everything here is pure: the clock and the random bytes are arguments. The one
exception is :func:`generate_id`, the impure edge, at the bottom of the file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import time
import uuid
from enum import StrEnum

RANDOM_BYTES = 10
"""Random bytes a new id consumes; 74 of their 80 bits end up in the id."""

BASE62_LENGTH = 22
"""Digits of a base62-rendered id: 62**22 > 2**128 > 62**21."""

MAX_TIMESTAMP_MS = (1 << 48) - 1

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIGIT = {char: value for value, char in enumerate(_ALPHABET)}
_RAND_BITS = 74  # 12 bits of rand_a + 62 bits of rand_b
_RAND_MASK = (1 << _RAND_BITS) - 1
_RAND_B_MASK = (1 << 62) - 1
_HEX = frozenset("0123456789abcdefABCDEF")
_HYPHENS = (8, 13, 18, 23)
_ATTEMPT_TAG = b"hookstream/attempt-id/v1\x00"
_MESSAGE_ENDPOINT_TAG = b"hookstream/message-endpoint-id/v1\x00"
_INTAKE_MESSAGE_TAG = b"hookstream/intake-message-id/v1\x00"


class IdKind(StrEnum):
    """What an id names; the value is its Svix prefix without the underscore."""

    APPLICATION = "app"
    ENDPOINT = "ep"
    MESSAGE = "msg"
    ATTEMPT = "atmpt"
    MESSAGE_ENDPOINT = "msgep"

    @property
    def prefix(self) -> str:
        return f"{self.value}_"


class InvalidId(ValueError):
    """Text that is not an id of the expected kind; the message says exactly why."""


# --- building ids -----------------------------------------------------------


def new_id(now_ms: int, rand: bytes) -> uuid.UUID:
    """A UUIDv7 for ``now_ms`` whose random bits are the leading 74 bits of ``rand`` (10 bytes)."""
    _check_timestamp(now_ms)
    if len(rand) != RANDOM_BYTES:
        raise ValueError(f"need exactly {RANDOM_BYTES} random bytes, got {len(rand)}")
    return _assemble(now_ms, int.from_bytes(rand, "big") >> (8 * RANDOM_BYTES - _RAND_BITS))


def next_id(previous: uuid.UUID | None, now_ms: int, rand: bytes) -> uuid.UUID:
    """A new id guaranteed to sort after ``previous``, even within one millisecond.

    Ids made by one process in one millisecond would otherwise sort by their
    random bits, not by creation order, and a clock stepping back would make a
    later id sort first. Following RFC 9562 6.2 method 2, when ``now_ms`` is not
    past the previous id's time the previous id's random field is stepped
    forward by a random amount (so ids stay unguessable); if that overflows,
    the id moves to the next millisecond.
    """
    fresh = new_id(now_ms, rand)
    if previous is None:
        return fresh
    previous_ms = timestamp_ms(previous)
    if now_ms > previous_ms:
        return fresh
    stepped = _random_field(previous) + 1 + int.from_bytes(rand[:4], "big")
    if stepped <= _RAND_MASK:
        return _assemble(previous_ms, stepped)
    if previous_ms == MAX_TIMESTAMP_MS:
        raise ValueError("no UUIDv7 sorts after the largest one of the last millisecond of 10889")
    return _assemble(previous_ms + 1, _random_field(fresh))


def attempt_id(msg_id: uuid.UUID, endpoint_id: uuid.UUID, attempt_number: int, trigger_seq: int) -> uuid.UUID:
    """The id of one delivery attempt, the same every time for the same inputs.

    At-least-once delivery means a task can be replayed and an attempt event
    projected twice; a derived id turns the duplicate into an overwrite. The
    time part is the message's, so attempts sort with their message; the
    random part is a SHA-256 of the four inputs, so it is still a valid,
    well-spread UUIDv7. Among one message's attempts the order is arbitrary
    but stable (sort by the attempt's own time for chronology).
    """
    if not 1 <= attempt_number < 1 << 31:
        raise ValueError(f"attempt_number counts from 1 and fits an Avro int, got {attempt_number}")
    if not 0 <= trigger_seq < 1 << 31:
        raise ValueError(f"trigger_seq counts from 0 and fits an Avro int, got {trigger_seq}")
    extra = attempt_number.to_bytes(4, "big") + trigger_seq.to_bytes(4, "big")
    return _derived(_ATTEMPT_TAG, msg_id, endpoint_id, extra)


def message_endpoint_id(msg_id: uuid.UUID, endpoint_id: uuid.UUID) -> uuid.UUID:
    """The id of a message x endpoint pair (Svix ``msgep_``), derived like :func:`attempt_id`."""
    return _derived(_MESSAGE_ENDPOINT_TAG, msg_id, endpoint_id, b"")


def intake_message_id(topic: str, partition: int, offset: int, timestamp_ms: int) -> uuid.UUID:
    """The id of the message read from one intake record, the same every time that record is read.

    A role that crashes before committing reads the record again; deriving the
    id from where the record sits (and its timestamp, for the time part) makes
    the replayed message the same message, so the router and everything after
    it absorb it. The random part is a SHA-256 of the position, as for attempts.
    """
    position = topic.encode() + b"\x00" + partition.to_bytes(4, "big") + offset.to_bytes(8, "big")
    return new_id(timestamp_ms, hashlib.sha256(_INTAKE_MESSAGE_TAG + position).digest()[:RANDOM_BYTES])


def id_floor(ms: int) -> uuid.UUID:
    """The smallest UUIDv7 of millisecond ``ms``: ``id >= id_floor(t)`` means "made at or after t"."""
    _check_timestamp(ms)
    return _assemble(ms, 0)


def id_ceiling(ms: int) -> uuid.UUID:
    """The largest UUIDv7 of millisecond ``ms``: ``id <= id_ceiling(t)`` means "made at or before t"."""
    _check_timestamp(ms)
    return _assemble(ms, _RAND_MASK)


def timestamp_ms(value: uuid.UUID) -> int:
    """The unix milliseconds a UUIDv7 was made at."""
    _require_v7(value)
    return value.int >> 80


# --- rendering and parsing --------------------------------------------------


def as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    """``value`` as a UUID; a row's id column already is one, and parsing it again costs ~2 us an id."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def to_svix(kind: IdKind, value: uuid.UUID) -> str:
    """``<prefix>_`` + 22 base62 digits, e.g. ``msg_02usyDNX9I74nhYGV3TNYW``.

    Every id of every listed row goes through here (three per attempt), so
    the digits come two at a time from a table, unrolled, and the UUIDv7
    check reads the bits directly: about a third of the digit-by-digit time.
    """
    number = value.int if isinstance(value, uuid.UUID) else 0
    if number & _V7_MASK != _V7_BITS:
        _require_v7(value)  # raises, saying why
    high, low = divmod(number, _HALF)  # 11 digits each: a single digit, then 5 pairs
    high, a = divmod(high, _PAIR)
    high, b = divmod(high, _PAIR)
    high, c = divmod(high, _PAIR)
    high, d = divmod(high, _PAIR)
    high, e = divmod(high, _PAIR)
    low, f = divmod(low, _PAIR)
    low, g = divmod(low, _PAIR)
    low, h = divmod(low, _PAIR)
    low, i = divmod(low, _PAIR)
    low, j = divmod(low, _PAIR)
    p = _PAIRS
    return "".join((_PREFIXES[kind], _ALPHABET[high], p[e], p[d], p[c], p[b], p[a],
                    _ALPHABET[low], p[j], p[i], p[h], p[g], p[f]))  # fmt: skip


_PAIR = 62 * 62
_HALF = 62**11
_PAIRS = tuple(first + second for first in _ALPHABET for second in _ALPHABET)
_PREFIXES = {kind: kind.prefix for kind in IdKind}
_V7_MASK = (0xF << 76) | (0x3 << 62)  # version nibble, variant bits
_V7_BITS = (0x7 << 76) | (0x2 << 62)


def parse_id(text: str, kind: IdKind) -> uuid.UUID:
    """Read an id of ``kind`` written either the Svix way or as a canonical UUID.

    Raises :class:`InvalidId` naming the problem (wrong prefix, wrong length,
    bad character and where, out of range, not a UUIDv7), because the API
    passes that message on to the caller.
    """
    if not isinstance(text, str):
        raise InvalidId(f"{kind.name.lower()} id must be text, got {type(text).__name__}")
    return _parse_text(text, kind)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str, kind: IdKind) -> uuid.UUID:
    """Cached: every request names its application by id, and reading base62 digit by digit costs ~5-10 us."""
    if not text:
        raise InvalidId(f"empty {kind.name.lower()} id")
    if "_" in text:
        value = _parse_prefixed(text, kind)
    elif len(text) == 36:
        value = _parse_canonical(text)
    else:
        raise InvalidId(
            f"{text!r} is not a valid {kind.name.lower()} id: expected {kind.prefix!r} and "
            f"{BASE62_LENGTH} base62 characters, or a canonical UUID (36 characters, 8-4-4-4-12 hex)"
        )
    _require_v7(value)
    return value


def _parse_prefixed(text: str, kind: IdKind) -> uuid.UUID:
    prefix, _, digits = text.partition("_")
    if prefix != kind.value:
        raise InvalidId(f"wrong prefix {prefix + '_'!r}: {kind.name.lower()} ids start with {kind.prefix!r}")
    if len(digits) != BASE62_LENGTH:
        raise InvalidId(
            f"wrong length: expected {BASE62_LENGTH} base62 characters after {kind.prefix!r}, got {len(digits)}"
        )
    number = 0
    for position, char in enumerate(digits, start=len(kind.prefix)):
        digit = _DIGIT.get(char)
        if digit is None:
            raise InvalidId(f"bad character {char!r} at position {position}: only 0-9, A-Z and a-z are allowed")
        number = number * 62 + digit
    if number >> 128:
        raise InvalidId(f"out of range: {text!r} encodes a number larger than 128 bits")
    return uuid.UUID(int=number)


def _parse_canonical(text: str) -> uuid.UUID:
    for position, char in enumerate(text):
        if position in _HYPHENS:
            if char != "-":
                raise InvalidId(f"bad character {char!r} at position {position}: a UUID has '-' there (8-4-4-4-12)")
        elif char not in _HEX:
            raise InvalidId(f"bad character {char!r} at position {position}: a UUID has only hex digits there")
    return uuid.UUID(text)


# --- bits -------------------------------------------------------------------


def _assemble(ms: int, random_field: int) -> uuid.UUID:
    rand_a = random_field >> 62
    rand_b = random_field & _RAND_B_MASK
    return uuid.UUID(int=ms << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)


def _random_field(value: uuid.UUID) -> int:
    return ((value.int >> 64) & 0xFFF) << 62 | value.int & _RAND_B_MASK


def _derived(tag: bytes, msg_id: uuid.UUID, endpoint_id: uuid.UUID, extra: bytes) -> uuid.UUID:
    ms = timestamp_ms(msg_id)
    if not isinstance(endpoint_id, uuid.UUID):
        raise TypeError(f"endpoint_id must be a uuid.UUID, got {type(endpoint_id).__name__}")
    digest = hashlib.sha256(tag + msg_id.bytes + endpoint_id.bytes + extra).digest()
    return new_id(ms, digest[:RANDOM_BYTES])


def _check_timestamp(ms: int) -> None:
    if isinstance(ms, bool) or not isinstance(ms, int):
        raise TypeError(f"a timestamp is whole unix milliseconds, got {type(ms).__name__}")
    if not 0 <= ms <= MAX_TIMESTAMP_MS:
        raise ValueError(f"timestamp {ms} ms is outside the 48-bit range of a UUIDv7")


def _require_v7(value: uuid.UUID) -> None:
    if not isinstance(value, uuid.UUID):
        raise TypeError(f"expected a uuid.UUID, got {type(value).__name__}")
    if value.variant != uuid.RFC_4122:
        raise InvalidId(f"not a UUIDv7: {value} does not have the RFC 9562 variant bits (10)")
    if value.version != 7:
        raise InvalidId(f"not a UUIDv7: {value} is version {value.version}")


# --- the impure edge --------------------------------------------------------
# Reads the wall clock and the OS random source. Everything above stays pure;
# code that must be testable takes ids (or now_ms and rand) as arguments.

_last_generated: uuid.UUID | None = None
_generate_lock = threading.Lock()


def generate_id() -> uuid.UUID:
    """IMPURE: a fresh UUIDv7 from the system clock and ``os.urandom``.

    Monotonic within this process (ids from one process always sort in the
    order they were made), which keeps keyset pagination stable for bursts.
    """
    global _last_generated
    with _generate_lock:
        _last_generated = next_id(_last_generated, time.time_ns() // 1_000_000, os.urandom(RANDOM_BYTES))
        return _last_generated
