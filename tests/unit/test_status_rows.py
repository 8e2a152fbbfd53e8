"""Status records to ClickHouse rows: column order, the message's creation time, the key a rebuild counts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hookstream.domain.status import AttemptFacts, fold_attempt, message_record, pair_record, to_us
from hookstream.projector.rows import COLUMNS, to_row

MSG = "01959a3d-0000-7abc-8def-0123456789ab"  # a UUIDv7 made at 2025-03-15T14:37:23.840Z (0x01959a3d0000 ms)
T0 = datetime(2025, 3, 14, 15, 11, tzinfo=UTC)


def _records(msg_id: str = MSG) -> tuple[dict, dict]:
    facts = AttemptFacts(
        attempt_id="01959a3d-0001-7abc-8def-0123456789ab", app_id="01959a3c-8f1e-7b2a-9c4d-5e6f7a8b9c0d",
        msg_id=msg_id, endpoint_id="01959a3c-9a00-7c11-8d22-33445566778a", attempt_number=1, manual=False,
        success=False, response_status=503, started_us=to_us(T0), finished_us=to_us(T0) + 900,
        next_attempt_us=to_us(T0) + 5_000_000, event_type="invoice.paid", event_id="inv-1", channels=("eu",),
    )  # fmt: skip
    folded = fold_attempt(None, facts, 4)
    return pair_record(folded.message, folded.pair), message_record(folded.message)


def test_pair_row_has_every_column_and_the_message_time() -> None:
    pair, _ = _records()
    row = to_row("MessageEndpointStatus", pair)
    assert row is not None and row.table == "message_endpoint_status"
    values = dict(zip(COLUMNS[row.table], row.values, strict=True))
    assert values["msg_created_at"] == datetime(2025, 3, 15, 14, 37, 23, 840000, tzinfo=UTC)
    assert (values["status"], values["attempt_count"], values["version"]) == ("sending", 1, 1)
    assert values["last_attempt_id"] == uuid.UUID("01959a3d-0001-7abc-8def-0123456789ab")
    assert (values["event_type"], values["event_id"], values["channels"]) == ("invoice.paid", "inv-1", ["eu"])
    assert row.key == (uuid.UUID(MSG), uuid.UUID("01959a3c-9a00-7c11-8d22-33445566778a"))


def test_message_row_and_an_id_that_is_not_a_uuidv7() -> None:
    _, summary = _records()
    row = to_row("MessageStatus", summary)
    assert row is not None and row.table == "message_status" and row.key == (uuid.UUID(MSG),)
    values = dict(zip(COLUMNS[row.table], row.values, strict=True))
    assert (values["status"], values["endpoint_count"], values["failed_endpoints"]) == ("sending", 1, 0)
    _, other = _records(str(uuid.UUID(int=42)))
    values = dict(zip(COLUMNS["message_status"], to_row("MessageStatus", other).values, strict=True))  # type: ignore[union-attr]
    assert values["msg_created_at"] == datetime(1970, 1, 1, tzinfo=UTC), "a stable sort key all the same"
