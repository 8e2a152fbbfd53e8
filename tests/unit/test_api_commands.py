"""The pure parts of the config update operation: the record it writes, and whether the view holds it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from hookstream.api.commands import APPLICATION, ENDPOINT_SECRETS, ConfigConflict, holds, next_record
from hookstream.api.outpost.errors import outpost_errors
from hookstream.api.svix.errors import svix_errors
from hookstream.domain.directory import Directory

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
EARLIER = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_change_goes_over_the_current_entity_with_the_next_version_and_the_time() -> None:
    current = {"app_id": "a", "name": "old", "uid": None, "version": 3, "created_at": EARLIER, "updated_at": EARLIER}
    record = next_record(APPLICATION, current, {"name": "new"}, 4, NOW)
    assert record == {**current, "name": "new", "version": 4, "updated_at": NOW}


def test_a_create_is_stamped_created_now_unless_it_says_when() -> None:
    assert next_record(APPLICATION, None, {"app_id": "a"}, 1, NOW)["created_at"] == NOW
    assert next_record(APPLICATION, None, {"app_id": "a", "created_at": EARLIER}, 1, NOW)["created_at"] == EARLIER


def test_a_partial_event_carries_only_its_fields_and_its_own_stamp() -> None:
    current = {"endpoint_id": "e", "app_id": "a", "url": "u", "secrets": [], "version": 7, "updated_at": EARLIER}
    record = next_record(ENDPOINT_SECRETS, current, {"secrets": ["s"]}, 8, NOW)
    assert record == {"endpoint_id": "e", "app_id": "a", "secrets": ["s"], "version": 8, "rotated_at": NOW}


def test_the_view_holds_a_write_only_when_it_kept_that_very_record() -> None:
    view = Directory()
    mine = {"app_id": str(uuid.uuid4()), "name": "mine", "uid": None, "rate_limit": None, "metadata": {},
            "version": 2, "created_at": EARLIER, "updated_at": NOW}  # fmt: skip
    assert not holds(view, APPLICATION, mine), "not folded (or deleted meanwhile)"
    view.apply("ApplicationUpserted", {**mine, "name": "theirs"})
    assert not view.apply("ApplicationUpserted", mine), "the fold keeps the first record of a version"
    assert not holds(view, APPLICATION, mine), "same version, another writer's content"
    view.apply("ApplicationUpserted", {**mine, "version": 3})
    assert not holds(view, APPLICATION, mine)
    assert holds(view, APPLICATION, {**mine, "version": 3})


async def test_a_change_that_keeps_losing_its_version_is_an_explicit_409_in_both_dialects() -> None:
    async def losing(_: web.Request) -> web.Response:
        raise ConfigConflict("ApplicationUpserted: another writer kept changing this entity; try again")

    for middleware in (svix_errors, outpost_errors):
        response = await middleware(None, losing)  # type: ignore[arg-type]
        assert response.status == 409
