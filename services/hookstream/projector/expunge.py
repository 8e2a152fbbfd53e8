"""ContentExpunged -> ClickHouse: rewrite the affected rows with their content blanked.

The projector applies it when a ``ContentExpunged`` event arrives on
``commands``, after writing the rows batched so far (the expunge must see them).

A ReplacingMergeTree row cannot be edited, only superseded: the new row
keeps the sort key (app, endpoint or msg, started_at / accepted_at, id) and
carries a higher version, so ``LIMIT 1 BY id`` readers (and merges) keep it
and the old content disappears from every read at once and from disk at the
next merge. Rows already blanked are skipped, so replaying the command
writes nothing.

A whole-message expunge can overtake its message: MessageAccepted is on
``messages``, the command on ``commands``, and nothing orders two topics.
Until the message row exists (``awaits_message``) the projector puts the
command back on ``commands`` rather than apply it to nothing; for at most
``MESSAGE_WAIT_S``, so a message that never arrives does not loop forever.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from clickhouse_connect.driver import Client

from hookstream.projector.rows import ATTEMPT_COLUMNS, MESSAGE_COLUMNS, micros
from hookstream.projector.store import write_rows

MESSAGE_WAIT_S = 600.0


def awaits_message(client: Client, record: Mapping[str, Any], now: float) -> bool:
    """A whole-message expunge whose message row is not projected yet, and young enough to wait for it."""
    if record.get("attempt_id") or now - record["expunged_at"].timestamp() > MESSAGE_WAIT_S:
        return False
    found = client.query(
        "SELECT count() FROM messages WHERE app_id = {app_id:UUID} AND msg_id = {msg_id:UUID}",
        parameters={"app_id": uuid.UUID(record["app_id"]), "msg_id": uuid.UUID(record["msg_id"])},
    ).result_rows[0][0]
    return found == 0


def _superseding(row: Mapping[str, Any], version: int) -> int:
    """The expunge time, or just above the row's version if that is later (a clock behind the projector's)."""
    return version if version > int(row["version"]) else int(row["version"]) + 1


def blank_attempt(row: Mapping[str, Any], version: int) -> tuple[Any, ...]:
    """The attempt row with its response (and request headers, which carry signatures) erased."""
    blanked = {
        **row,
        "response_body": None,
        "response_headers": {},
        "request_headers": {},
        "expunged": 1,
        "version": _superseding(row, version),
    }
    return tuple(blanked[column] for column in ATTEMPT_COLUMNS)


def blank_message(row: Mapping[str, Any], version: int) -> tuple[Any, ...]:
    """The message row with its payload erased; accepted_at (in the sort key) is kept."""
    blanked = {**row, "payload": "", "expunged": 1, "version": _superseding(row, version)}
    return tuple(blanked[column] for column in MESSAGE_COLUMNS)


def expunge_rows(client: Client, record: Mapping[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """The superseding rows for one ContentExpunged record (attempt_id set: that attempt only)."""
    version = micros(record["expunged_at"])
    params: dict[str, Any] = {"app_id": uuid.UUID(record["app_id"]), "msg_id": uuid.UUID(record["msg_id"])}
    condition = "app_id = {app_id:UUID} AND msg_id = {msg_id:UUID}"
    if record.get("attempt_id"):
        condition += " AND attempt_id = {attempt_id:UUID}"
        params["attempt_id"] = uuid.UUID(record["attempt_id"])
    attempts = client.query(
        f"SELECT * FROM attempts_by_msg WHERE {condition} ORDER BY attempt_id, version DESC LIMIT 1 BY attempt_id",
        parameters=params,
        column_formats={"response_body": "bytes"},
    )
    # Rows already blanked are left alone, so a replayed command writes nothing new.
    rows: dict[str, list[tuple[Any, ...]]] = {
        "attempts": [blank_attempt(r, version) for r in attempts.named_results() if not r["expunged"]]
    }
    if not record.get("attempt_id"):
        messages = client.query(
            "SELECT * FROM messages WHERE app_id = {app_id:UUID} AND msg_id = {msg_id:UUID} "
            "ORDER BY version DESC LIMIT 1",
            parameters=params,
        )
        rows["messages"] = [blank_message(r, version) for r in messages.named_results() if not r["expunged"]]
    return rows


def apply_expunge(client: Client, record: Mapping[str, Any]) -> int:
    """Read, blank and write back; returns the number of rows superseded."""
    rows = expunge_rows(client, record)
    write_rows(client, rows)
    return sum(len(values) for values in rows.values())
