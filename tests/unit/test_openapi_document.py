"""``/openapi.json`` describes every route of every dialect, and is a valid OpenAPI 3.1 document.

The whole HTTP application is built in-process (no Kafka, no ClickHouse:
building routes touches neither), its router is walked, and every route a
client can call must be in the document: a route added without an
``Operation`` fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from hookstream.api.app import build_app
from hookstream.api.context import ApiContext
from hookstream.api.openapi import DIALECTS, document, template
from hookstream.foundation.ops import Metrics
from hookstream.foundation.settings import Settings

# /healthz: Outpost's root twin of /api/v1/healthz, an operational route like /health
NOT_API = {"/health", "/healthz", "/metrics", "/openapi.json", "/docs"}
CONSOLE = "/console"
"""The web console's pages and static files: served beside the API, not operations of it."""


def _app() -> web.Application:
    nothing = cast(Any, None)  # the dialects only keep these for their handlers; building routes uses none
    ctx = ApiContext(Settings(), "hs_op_unit", nothing, nothing, nothing, nothing, nothing, nothing, nothing, nothing)
    return build_app({}, Metrics(), ctx)


def _routes(app: web.Application) -> Iterator[tuple[str, str]]:
    """(method, path) of every route, sub-applications' too (mounting already prefixed their paths)."""
    for resource in app.router.resources():
        if isinstance(resource, web.PrefixedSubAppResource):
            yield from _routes(resource._app)
            continue
        for route in resource:
            yield route.method, resource.canonical


def _api_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set(_routes(app))
    return {
        (method, template(path))
        for method, path in routes
        if path not in NOT_API
        and not path.startswith(CONSOLE)
        and not (method == "HEAD" and ("GET", path) in routes)  # aiohttp's automatic HEAD of a GET
        and not (path.endswith("/") and (method, path.rstrip("/")) in routes)  # Svix's trailing-slash twins
    }


@pytest.fixture(scope="module")
def app() -> web.Application:
    return _app()


@pytest.fixture(scope="module")
def doc(app: web.Application) -> dict[str, Any]:
    return document(app[DIALECTS])


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, methods in doc["paths"].items() for method in methods}


def test_the_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate(doc)
    assert [tag["name"] for tag in doc["tags"]] == ["svix", "v1", "outpost"]


def test_every_routed_operation_is_documented_and_nothing_else(app: web.Application, doc: dict[str, Any]) -> None:
    routed = _api_routes(app)
    assert len(routed) > 60, "the walk found the dialects' routes"
    assert routed - _documented(doc) == set(), "routes missing from /openapi.json"
    assert _documented(doc) - routed == set(), "documented operations nothing serves"


def test_operation_ids_are_unique(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for methods in doc["paths"].values() for op in methods.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_svix_operations_declare_their_inputs_and_error_shapes(doc: dict[str, Any]) -> None:
    listed = doc["paths"]["/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}"]["get"]
    params = {p["name"]: p for p in listed["parameters"]}
    assert params["limit"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 250, "default": 50}
    assert params["status"]["schema"]["enum"] == [0, 1, 2, 3, 4]
    assert params["status_code_class"]["schema"]["enum"] == [0, 100, 200, 300, 400, 500]
    assert params["before"]["schema"]["format"] == "date-time"
    assert params["event_types"]["schema"]["type"] == "array" and params["app_id"]["required"] is True
    assert listed["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SvixHTTPValidationError"
    }
    assert listed["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SvixHttpError"
    }
    created = doc["paths"]["/api/v1/app/{app_id}/endpoint"]["post"]
    body = created["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["url"] and body["properties"]["url"]["maxLength"] == 2048
    schemas = doc["components"]["schemas"]
    assert {"SvixApplicationOut", "SvixEndpointOut", "SvixMessageOut", "SvixMessageAttemptOut", "SvixHttpError",
            "SvixHTTPValidationError", "SvixListResponseMessageAttemptOut"} <= set(schemas)  # fmt: skip
    health = doc["paths"]["/api/v1/health"]["get"]
    assert health["security"] == [] and "401" not in health["responses"]


async def test_the_served_document_is_the_built_one_and_every_dialect_sets_a_request_id(
    app: web.Application, doc: dict[str, Any]
) -> None:
    async with TestClient(TestServer(_app(), host="127.0.0.1")) as client:
        served = await client.get("/openapi.json")
        assert served.status == 200 and await served.json() == doc
        for path in ("/api/v1/app", "/api/v1/tenants", "/v1/messages/x"):  # no token: each dialect's 401
            answer = await client.get(path)
            assert answer.status == 401, (path, await answer.text())
            assert answer.headers["X-Request-Id"].startswith("req_"), path


SEEDS = Path(__file__).resolve().parents[1] / "support" / "seeds"  # copies of ../shared/seeds


def _seed_001_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the table of seed 001 (Svix's MessageAttempt API)."""
    text = (SEEDS / "001_c7aec9a60eb11d32.txt").read_text()
    return re.findall(r"\| \*\*(GET|POST|PUT|PATCH|DELETE)\*\* (/api/v1/\S+) \|", text)


def test_every_operation_of_seed_001_is_served_with_and_without_its_trailing_slash(app: web.Application) -> None:
    operations = _seed_001_operations()
    assert len(operations) == 9, "the seed's table lists the nine MessageAttempt operations"
    served = set(_routes(app))
    documented = document(app[DIALECTS])["paths"]
    for method, path in operations:
        assert (method, path) in served, f"seed 001 {method} {path} is not served"
        assert (method, path.rstrip("/")) in served, f"seed 001 {method} {path} without its slash is not served"
        assert method.lower() in documented[path.rstrip("/")], f"seed 001 {method} {path} is not documented"
