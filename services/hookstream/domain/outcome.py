"""The outcome header: what the status fold and the scheduler read of an attempt, without decoding it.

Every delivery writes one ``AttemptFinished`` (or ``DeliverySkipped``) to
``attempts``, and three consumers read each one. The projector needs the whole
record; the status fold needs its :class:`~hookstream.domain.status.AttemptFacts`
(a dozen fields of forty) and the scheduler only whether it asks for a retry,
which most attempts (successes) do not. Decoding the Avro value costs ~100 µs;
reading this header ~10 µs.

The header is derived from the record by the writer, in the same Kafka record,
so the log stays the one source of truth: a replay (``project --rebuild``, a
status rebuild) reads the same header beside the same value. It is an
optimisation, never a dependency: a record without it (older, or written by
anything else) or with a header that does not parse is read by decoding the
value, as before.

Layout: compact JSON, a list rather than an object (half the bytes, a third
less to parse), tagged with its kind and layout version:

* ``["a1", retry, <AttemptFacts fields in declaration order>]`` for an attempt,
  ``retry`` being :func:`~hookstream.domain.tiers.asks_for_retry` of the record;
* ``["s1", <SkipFacts fields in declaration order>]`` for a skipped task (never a retry).

A change of either facts class changes the layout: bump the tag, and readers
of the old tag fall back to decoding the value.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from hookstream.domain.status import AttemptFacts, SkipFacts
from hookstream.domain.tiers import asks_for_retry

OUTCOME_HEADER = "hookstream-outcome"
"""The Kafka header name (headers travel as ``(str, bytes)`` pairs)."""

ATTEMPT_TAG = "a1"
SKIP_TAG = "s1"

_ATTEMPT_FIELDS = tuple(f.name for f in fields(AttemptFacts))
_SKIP_FIELDS = tuple(f.name for f in fields(SkipFacts))
_attempt_values = operator.attrgetter(*_ATTEMPT_FIELDS)
_skip_values = operator.attrgetter(*_SKIP_FIELDS)
_compact = json.JSONEncoder(separators=(",", ":")).encode
"""``json.dumps`` with separators builds a new encoder per call; one per process writes the same bytes."""


def outcome_header(name: str, record: Mapping[str, Any]) -> bytes:
    """The header value of ``record``, an ``AttemptFinished`` or ``DeliverySkipped`` (``name``) as it is written."""
    items: list[Any]
    if name == "AttemptFinished":
        items = [ATTEMPT_TAG, asks_for_retry(record), *_attempt_values(AttemptFacts.of(record))]
    elif name == "DeliverySkipped":
        items = [SKIP_TAG, *_skip_values(SkipFacts.of(record))]
    else:
        raise ValueError(f"no outcome header for {name} records")
    return _compact(items).encode()


def outcome_headers(name: str, record: Mapping[str, Any]) -> list[tuple[str, bytes]]:
    """The record's Kafka headers, as a producer takes them."""
    return [(OUTCOME_HEADER, outcome_header(name, record))]


class MalformedOutcome(ValueError):
    """A header that is there but does not read as an outcome: the reader decodes the value instead."""


def facts_of_header(value: bytes) -> AttemptFacts | SkipFacts:
    """The facts a header carries; raises :class:`MalformedOutcome` for anything but a well-formed one.

    Every field's type is checked, as a fold fed a string for a number would
    fail later, far from the cause.
    """
    items = _items(value)
    tag = items[0]
    if tag == ATTEMPT_TAG and len(items) == len(_ATTEMPT_FIELDS) + 2:
        (_, retry, attempt_id, app_id, msg_id, endpoint_id, number, manual, success, response_status,
         started_us, finished_us, next_us, total_us, event_type, event_id, channels) = items  # fmt: skip
        _check(
            _strs(attempt_id, app_id, msg_id, endpoint_id, event_type)
            and _ints(number, response_status, started_us, finished_us, total_us)
            and type(retry) is type(manual) is type(success) is bool
            and (next_us is None or type(next_us) is int)
            and _optional_str(event_id) and _str_list(channels)
        )  # fmt: skip
        return AttemptFacts(
            attempt_id, app_id, msg_id, endpoint_id, number, manual, success, response_status,
            started_us, finished_us, next_us, total_us, event_type, event_id, tuple(channels),
        )  # fmt: skip
    if tag == SKIP_TAG and len(items) == len(_SKIP_FIELDS) + 1:
        (_, skip_id, app_id, msg_id, endpoint_id, number, manual, skipped_us, event_type, event_id, channels) = items
        _check(
            _strs(skip_id, app_id, msg_id, endpoint_id, event_type) and _ints(number, skipped_us)
            and type(manual) is bool and _optional_str(event_id) and _str_list(channels)
        )  # fmt: skip
        return SkipFacts(skip_id, app_id, msg_id, endpoint_id, number, manual, skipped_us, event_type, event_id,
                         tuple(channels))  # fmt: skip
    raise MalformedOutcome(f"not an outcome header layout: {repr(tag)[:40]} with {len(items) - 1} items")


def retry_of_header(value: bytes) -> bool:
    """Whether the attempt behind a header asks for a retry (a skip never does); raises :class:`MalformedOutcome`.

    True means "decode the value and plan the retry": the header does not carry
    what the next task needs (the payload, the retry type).
    """
    items = _items(value)
    if items[0] == SKIP_TAG and len(items) == len(_SKIP_FIELDS) + 1:
        return False
    if items[0] == ATTEMPT_TAG and len(items) == len(_ATTEMPT_FIELDS) + 2 and type(items[1]) is bool:
        return items[1]
    raise MalformedOutcome(f"not an outcome header layout: {repr(items[0])[:40]} with {len(items) - 1} items")


def _items(value: bytes) -> list[Any]:
    try:
        items = json.loads(value)
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise MalformedOutcome(f"outcome header is not JSON: {exc}") from None
    if type(items) is not list or not items:
        raise MalformedOutcome("outcome header is not a tagged list")
    return items


def _check(ok: bool) -> None:
    if not ok:
        raise MalformedOutcome("outcome header with a field of the wrong type")


def _strs(*values: Any) -> bool:
    return all(type(v) is str for v in values)


def _ints(*values: Any) -> bool:
    return all(type(v) is int for v in values)


def _optional_str(value: Any) -> bool:
    return value is None or type(value) is str


def _str_list(value: Any) -> bool:
    return type(value) is list and all(type(v) is str for v in value)
