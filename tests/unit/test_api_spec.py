"""The route declarations: handlers' validation and the OpenAPI document come from the same values."""

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate

from hookstream.api.openapi import Dialect, document
from hookstream.api.spec import (
    InvalidInput,
    Operation,
    Param,
    Response,
    application,
    read_body,
    read_params,
    register,
)


async def _noop(request: web.Request) -> web.Response:
    return web.Response()


OP = Operation(
    method="GET",
    path="/things/{thing_id}",
    handler=_noop,
    operation_id="listThings",
    summary="List things",
    params=(
        Param("thing_id", "path", {"type": "string", "format": "uuid"}),
        Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 250, "default": 50}),
        Param("done", "query", {"type": "boolean"}),
        Param("after", "query", {"type": "string", "format": "date-time"}),
        Param("status", "query", {"type": "array", "items": {"type": "string", "enum": ["success", "failed"]}}),
        Param("kind", "query", {"type": "string", "enum": ["a", "b"]}, required=True),
    ),
    responses={200: Response("the things", {"type": "object"})},
)
POST = Operation(
    method="POST",
    path="/things",
    handler=_noop,
    operation_id="createThing",
    summary="Create a thing",
    body={
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    },
    responses={201: Response("created", {"type": "object"})},
)
THING = "0190f3a4-0000-7000-8000-000000000001"


def _request(query: str, thing: str = THING) -> web.Request:
    request = make_mocked_request("GET", f"/things/{thing}?{query}", match_info={"thing_id": thing})
    return request


def test_parameters_are_typed_and_defaulted() -> None:
    got = read_params(_request("kind=a&done=true&after=2026-01-02T03:04:05Z&status=success&status=failed"), OP)
    assert got == {
        "thing_id": uuid.UUID(THING),
        "limit": 50,
        "done": True,
        "after": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "status": ["success", "failed"],
        "kind": "a",
    }


@pytest.mark.parametrize(
    ("query", "thing", "loc", "reason"),
    [
        ("kind=a&limit=0", THING, ["limit"], "less than the minimum of 1"),
        ("kind=a&limit=251", THING, ["limit"], "greater than the maximum of 250"),
        ("kind=a&limit=ten", THING, ["limit"], "must be a integer"),
        ("kind=a&done=maybe", THING, ["done"], "true or false"),
        ("kind=a&after=yesterday", THING, ["after"], "not a valid date-time"),
        ("kind=a&status=pending", THING, ["status"], "is not one of"),
        ("kind=c", THING, ["kind"], "is not one of"),
        ("", THING, ["kind"], "is required"),
        ("kind=a&kind=b", THING, ["kind"], "more than once"),
        ("kind=a", "not-a-uuid", ["thing_id"], "not a valid uuid"),
        ("kind=a", THING.replace("-", ""), ["thing_id"], "not a valid uuid"),
        ("kind=a", "{" + THING + "}", ["thing_id"], "not a valid uuid"),
        ("kind=a", "urn:uuid:" + THING, ["thing_id"], "not a valid uuid"),
        ("kind=a", THING[:-1] + "_", ["thing_id"], "not a valid uuid"),
    ],
)
def test_each_bad_parameter_names_itself(query: str, thing: str, loc: list[str], reason: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_params(_request(query, thing), OP)
    assert caught.value.loc == loc
    assert reason in caught.value.reason


class _Body:
    """What ``read_body`` reads of a request: its headers, its application (no settings: the defaults), its bytes."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.headers: dict[str, str] = {}
        self.app: dict[str, object] = {}

    async def read(self) -> bytes:
        return self.raw


async def test_body_is_validated_against_its_schema() -> None:
    assert await read_body(_Body(b'{"name":"x","tags":["a"]}'), POST) == {"name": "x", "tags": ["a"]}  # type: ignore[arg-type]
    for raw, loc, reason in [
        (b"{", [], "not valid JSON"),
        (b"{}", [], "'name' is a required property"),
        (b'{"name":""}', ["name"], "should be non-empty"),
        (b'{"name":"x","tags":[1]}', ["tags", 0], "is not of type 'string'"),
        (b'{"name":"x","extra":1}', [], "Additional properties"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await read_body(_Body(raw), POST)  # type: ignore[arg-type]
        assert (caught.value.where, caught.value.loc) == ("body", loc)
        assert reason in caught.value.reason


def test_document_is_valid_openapi_and_mirrors_the_declarations() -> None:
    error = {"type": "object", "properties": {"message": {"type": "string"}}}
    doc = document([Dialect("things", "/api", [OP, POST], schemas={"ThingError": error}, errors={400: error})])
    validate(doc)
    listed = doc["paths"]["/api/things/{thing_id}"]["get"]
    assert [p["name"] for p in listed["parameters"]] == ["thing_id", "limit", "done", "after", "status", "kind"]
    assert listed["parameters"][0]["required"] is True
    assert set(listed["responses"]) == {"200", "400"}
    assert doc["paths"]["/api/things"]["post"]["requestBody"]["content"]["application/json"]["schema"] == POST.body


def test_routes_are_named_by_operation_id() -> None:
    app = web.Application()
    register(app, [OP, POST], trailing_slash=True)
    assert str(app.router["listThings"].url_for(thing_id=THING)) == f"/things/{THING}"
    assert app.router["createThing"].url_for().path == "/things"


def test_route_patterns_stay_out_of_the_document() -> None:
    op = Operation(
        "GET",
        "/m/{msg_id:[^/]+}/attempts",
        _noop,
        "listM",
        "List",
        (Param("msg_id", "path", {"type": "string"}),),
        responses={200: Response("the attempts", {"type": "object"})},
    )
    doc = document([Dialect("m", "/x", [op])])
    validate(doc)
    assert list(doc["paths"]) == ["/x/m/{msg_id}/attempts"]


async def test_an_optional_body_may_be_absent_but_not_empty_json() -> None:
    optional = replace(POST, body_required=False)
    doc = document([Dialect("things", "/api", [POST, optional])])
    assert doc["paths"]["/api/things"]["post"]["requestBody"]["required"] is False
    absent = make_mocked_request("POST", "/things", headers={})
    assert await read_body(absent, optional) is None
    with pytest.raises(InvalidInput) as caught:
        await read_body(_Body(b" "), POST)  # type: ignore[arg-type]
    assert "is empty" in caught.value.reason


async def test_a_remembered_route_resolves_as_the_full_walk_does() -> None:
    special = Operation("GET", "/things/special", _noop, "special", "The literal beats the variable")
    app = application()
    register(app, [special, OP, POST], trailing_slash=True)
    app.router.freeze()
    cases = [("GET", "/things/special"), ("GET", f"/things/{THING}"), ("GET", f"/things/{THING}/"),
             ("POST", "/things"), ("DELETE", "/things"), ("GET", "/nothing")]  # fmt: skip
    plain = web.Application()
    register(plain, [special, OP, POST], trailing_slash=True)
    for _ in range(2):  # the second time from what the first remembered
        for method, path in cases:
            got = await app.router.resolve(make_mocked_request(method, path, app=app))
            want = await plain.router.resolve(make_mocked_request(method, path, app=plain))
            assert (got.route.name, type(got.http_exception)) == (want.route.name, type(want.http_exception))
            assert dict(got) == dict(want)
