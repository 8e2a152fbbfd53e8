"""The Svix dialect's pure pieces: iterators, query parameters, the recent-writes view, the view's uid lookups."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from multidict import MultiDict

from hookstream.api.recent import RecentWrites
from hookstream.api.spec import InvalidInput, read_params
from hookstream.api.svix import attempts, pagination, params
from hookstream.api.svix.errors import Invalid, from_invalid_input
from hookstream.domain.directory import Directory
from hookstream.domain.ids import IdKind, generate_id, to_svix
from tests.support import builders


def test_iterator_round_trips_time_and_id_and_direction() -> None:
    key, at = generate_id(), datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    token = pagination.token(IdKind.ATTEMPT, key, at)
    assert token.startswith(to_svix(IdKind.ATTEMPT, key) + ".")
    forward = pagination.position(MultiDict(iterator=token), IdKind.ATTEMPT)
    assert forward is not None and (forward.at, forward.key, forward.backwards) == (at, key, False)
    backward = pagination.position(MultiDict(iterator="-" + token), IdKind.ATTEMPT)
    assert backward is not None and backward.backwards and backward.key == key
    assert pagination.position(MultiDict(), IdKind.ATTEMPT) is None


@pytest.mark.parametrize("bad", ["atmpt_x", to_svix(IdKind.ATTEMPT, generate_id()), "msg_02usyDNX9I74nhYGV3TNYW.1"])
def test_iterator_that_we_did_not_issue_is_a_422_on_iterator(bad: str) -> None:
    with pytest.raises(Invalid) as error:
        pagination.position(MultiDict(iterator=bad), IdKind.ATTEMPT)
    assert error.value.loc == ["query", "iterator"]


def _listed(query: str) -> dict[str, Any]:
    """The attempt list's query parameters as its handler reads them (``spec.read_params``)."""
    match = {"app_id": "app_x", "endpoint_id": "ep_x"}
    request = make_mocked_request("GET", f"/app/app_x/attempt/endpoint/ep_x?{query}", match_info=match)
    return read_params(request, attempts.LIST_BY_ENDPOINT)


def test_query_parameters() -> None:
    assert params.split_names(_listed("event_types=a.b,c&event_types=d")["event_types"]) == ("a.b", "c", "d")
    assert _listed("")["limit"] == 50 and _listed("limit=250")["limit"] == 250
    assert [params.status_name(_listed(f"status={n}")["status"]) for n in range(5)] == [
        "success", "pending", "fail", "sending", "canceled",
    ]  # fmt: skip
    assert _listed("after=2025-01-02T03:04:05Z")["after"] == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert _listed("after=2025-01-02T03:04:05+01:00")["after"] == datetime(2025, 1, 2, 2, 4, 5, tzinfo=UTC)
    for query, name in (("limit=0", "limit"), ("limit=x", "limit"), ("status=5", "status"),
                        ("status_code_class=600", "status_code_class"), ("event_types=bad type", "event_types"),
                        ("channel=a,b", "channel"), ("with_content=maybe", "with_content")):  # fmt: skip
        with pytest.raises(InvalidInput) as error:
            _listed(query)
        assert (error.value.where, error.value.loc) == ("query", [name]), query


def test_invalid_input_is_svix_s_422_naming_the_field() -> None:
    assert from_invalid_input(InvalidInput("query", ["limit"], "too big")).loc == ["query", "limit"]
    nested = from_invalid_input(InvalidInput("body", ["application", "name"], "empty"))
    assert nested.loc == ["body", "application", "name"]
    item = from_invalid_input(InvalidInput("body", ["eventTypes", 1], "'a b' is not a valid name"))
    assert item.loc == ["body", "eventTypes"] and item.msg == "eventTypes[1]: 'a b' is not a valid name"
    missing = from_invalid_input(InvalidInput("body", [], "'url' is a required property", missing="url"))
    assert (missing.loc, missing.msg) == (["body", "url"], "field required")
    assert from_invalid_input(InvalidInput("body", [], "not an object")).loc == ["body"]


def test_recent_writes_expire_and_stay_within_their_application() -> None:
    now = [0.0]
    recent = RecentWrites(10.0, clock=lambda: now[0])
    app, other = generate_id(), generate_id()
    message = builders.message(str(app), event_id="evt-1")
    recent.add_message(message)
    msg_id = uuid.UUID(message["msg_id"])
    assert recent.message(app, msg_id) is message and recent.message_by_event_id(app, "evt-1") is message
    assert recent.message(other, msg_id) is None and recent.message_by_event_id(other, "evt-1") is None
    endpoint = generate_id()
    assert [recent.next_trigger_seq(msg_id, endpoint, 0) for _ in range(2)] == [1, 2]
    assert recent.next_trigger_seq(msg_id, endpoint, 7) == 8, "the recorded sequence wins when it is higher"
    now[0] = 11.0
    assert recent.message(app, msg_id) is None and recent.message_by_event_id(app, "evt-1") is None


def test_the_config_view_follows_uids_deletes_and_rotations() -> None:
    view = Directory()
    app = builders.application()
    app_id = uuid.UUID(app["app_id"])
    view.apply("ApplicationUpserted", {**app, "uid": "acme"})
    endpoint = {**builders.endpoint(app["app_id"], "https://example.com/hook"), "uid": "main"}
    view.apply("EndpointUpserted", endpoint)
    endpoint_id = uuid.UUID(endpoint["endpoint_id"])
    assert view.application_by_uid("acme") is not None
    assert view.endpoint_by_uid(app_id, "main") is view.endpoint(app_id, endpoint_id)
    assert view.endpoint(generate_id(), endpoint_id) is None, "another application's endpoint is not found"

    view.apply("ApplicationUpserted", {**app, "uid": "acme2", "version": 2})
    assert view.application_by_uid("acme") is None and view.application_by_uid("acme2") is not None
    new = {"ciphertext": b"new", "key_id": "k", "created_at": builders.now(), "expires_at": None}
    view.apply("SecretRotated", {"endpoint_id": endpoint["endpoint_id"], "secrets": [new], "version": 2,
                                 "rotated_at": builders.now()})  # fmt: skip
    rotated = view.endpoint(app_id, endpoint_id)
    assert rotated is not None and [s.ciphertext for s in rotated.secrets] == [b"new"]
    view.apply("ApplicationDeleted", {"app_id": app["app_id"], "version": 3})
    assert view.applications.get(app_id) is None and view.endpoint_by_uid(app_id, "main") is None
