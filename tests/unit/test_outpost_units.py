"""The Outpost dialect's pure pieces: cursors both ways, time bounds, the seed 000 Attempt, its OpenAPI part."""

import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from hookstream.api.openapi import document
from hookstream.api.outpost import DIALECT, cursors
from hookstream.api.outpost.shapes import attempt_out
from hookstream.api.spec import InvalidInput
from hookstream.domain.ids import generate_id

# A copy of ../shared/seeds/000_*, kept with the tests so CI reads the same text.
SEED_000 = Path(__file__).resolve().parents[1] / "support" / "seeds" / "000_adc269a3adfb7818.txt"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _params(**given: object) -> dict[str, object]:
    return {"next": None, "prev": None, "dir": "desc", **given}


def test_cursor_round_trip_and_a_foreign_cursor_is_a_400() -> None:
    key = uuid.uuid4()
    assert cursors.decode(cursors.encode(T0, key), "next") == (T0, key)
    with pytest.raises(InvalidInput) as caught:
        cursors.decode("bm90IGEgY3Vyc29y", "prev")
    assert (caught.value.where, caught.value.loc) == ("query", ["prev"])
    with pytest.raises(InvalidInput):
        cursors.Walk.read(_params(next="a", prev="b"))


@pytest.mark.parametrize("direction", ["desc", "asc"])
def test_in_memory_walk_covers_every_row_once_both_ways(direction: str) -> None:
    rows = [(T0 + timedelta(seconds=n), generate_id()) for n in range(7)]
    walk = cursors.Walk.read(_params(dir=direction))
    seen, pages = [], []
    while True:
        newest_first, more = walk.page(rows, lambda r: r, 3)
        shown = walk.in_order(newest_first)
        pagination = walk.pagination(cursors.encode(*shown[0]), cursors.encode(*shown[-1]), more, 3)
        seen += shown
        pages.append((shown, pagination))
        if pagination["next"] is None:
            break
        walk = cursors.Walk.read(_params(dir=direction, next=pagination["next"]))
    expected = sorted(rows, reverse=direction == "desc")
    assert seen == expected and [len(p[0]) for p in pages] == [3, 3, 1]
    assert pages[0][1]["prev"] is None and pages[-1][1]["prev"] is not None
    back = cursors.Walk.read(_params(dir=direction, prev=pages[-1][1]["prev"]))
    newest_first, more = back.page(rows, lambda r: r, 3)
    assert back.in_order(newest_first) == pages[1][0] and more


def test_time_operators_become_strict_bounds() -> None:
    tick = timedelta(microseconds=1)
    params = {"time[gte]": T0, "time[gt]": None, "time[lte]": T0 + timedelta(hours=1), "time[lt]": None}
    assert cursors.time_bounds(params) == (T0 - tick, T0 + timedelta(hours=1) + tick)
    params = {"time[gte]": T0, "time[gt]": T0 + tick, "time[lte]": None, "time[lt]": T0 + timedelta(seconds=1)}
    assert cursors.time_bounds(params) == (T0 + tick, T0 + timedelta(seconds=1))


def test_attempt_has_every_field_of_seed_000_with_includes_and_none_extra_without() -> None:
    seed_fields = re.findall(r"^\| `(\w+)`", SEED_000.read_text(), re.MULTILINE)
    assert len(seed_fields) == 11
    row = {
        "attempt_id": generate_id(), "msg_id": generate_id(), "endpoint_id": generate_id(), "event_id": "evt-1",
        "status": "failed", "started_at": T0, "response_status": 0, "error_class": "timeout", "attempt_number": 2,
        "trigger": "manual", "total_us": 15_000_000, "response_body": None, "response_headers": {},
    }  # fmt: skip
    app = {"app_id": str(generate_id()), "uid": "acme"}
    full = attempt_out(app, row, destination="d1", response_data=True, event={"id": "evt-1"})
    assert set(seed_fields) <= set(full)
    assert (full["code"], full["manual"], full["attempt_number"], full["tenant_id"]) == ("timeout", True, 2, "acme")
    bare = attempt_out(app, row, destination="d1")
    assert set(seed_fields) - set(bare) == {"response_data", "event"}


def test_outpost_operations_make_a_valid_openapi_document() -> None:
    doc = document([DIALECT])
    validate(doc)
    assert {op.operation_id for op in DIALECT.operations} >= {
        "listTenants", "upsertTenant", "getTenant", "deleteTenant", "getTenantToken", "listTenantDestinations",
        "createTenantDestination", "getTenantDestination", "updateTenantDestination", "deleteTenantDestination",
        "enableTenantDestination", "disableTenantDestination", "listTenantDestinationAttempts",
        "getTenantDestinationAttempt", "listTopics", "publishEvent", "listEvents", "getEvent", "listAttempts",
        "getAttempt", "retryEvent",
    }  # fmt: skip
    params = [p["name"] for p in doc["paths"]["/api/v1/attempts"]["get"]["parameters"]]
    assert {"tenant_id", "event_id", "destination_id", "status", "topic", "time[gte]", "next", "prev", "limit",
            "include"} <= set(params)  # fmt: skip
