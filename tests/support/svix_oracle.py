"""Svix's published OpenAPI documents (``tests/support/svix_openapi``) as schemas to check hookstream's wire against.

Both documents say "may be null" the OpenAPI 3.0 way (``nullable: true``,
the SDK superset too although it declares 3.1); :func:`as_json_schema`
rewrites that as JSON Schema (``type: [t, "null"]``), so
``tests.support.openapi.OpenApiDocument`` validates with them as it does
with hookstream's own document: formats asserted, references resolved.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.openapi import OpenApiDocument

HERE = Path(__file__).parent / "svix_openapi"
METHODS = ("get", "put", "post", "patch", "delete")
# Request-field aliases from the server's serde attributes, which neither document shows (README in svix_openapi).
ALIASES = {"filterTypes": "eventTypes", "data": "payload"}


def as_json_schema(node: Any) -> Any:
    """A copy of ``node`` with every ``nullable: true`` made a JSON Schema null (type, enum, or a ``$ref``)."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is not True:
        return out
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        return out
    return {"anyOf": [out, {"type": "null"}]}


def _load(doc: dict[str, Any]) -> OpenApiDocument:
    converted = copy.deepcopy(doc)
    converted["components"]["schemas"] = as_json_schema(converted["components"]["schemas"])
    for ops in converted["paths"].values():
        for method in METHODS:
            if method in ops:
                ops[method] = as_json_schema(ops[method])
    converted["openapi"] = "3.1.0"
    # Not validated as a document: Svix's own slips (e.g. DELETE /api/v1/app/{app_id} declares no app_id
    # parameter) would stop the check before a single hookstream answer is read.
    return OpenApiDocument(converted, validate_document=False)


def server_document() -> OpenApiDocument:
    """``server/openapi.json``: the open-source server's own operations."""
    return _load(json.loads((HERE / "server-openapi.json").read_text()))


def lib_document() -> OpenApiDocument:
    """``codegen/lib-openapi.json``: every operation the SDKs know (Svix's hosted service's too)."""
    return _load(json.loads(gzip.decompress((HERE / "lib-openapi.json.gz").read_bytes())))


def operations(doc: OpenApiDocument) -> set[tuple[str, str]]:
    """(METHOD, path template) of every operation under ``/api/v1`` (HEAD twins of GETs left out)."""
    return {(method.upper(), path) for path, ops in doc.doc["paths"].items() if path.startswith("/api/v1/")
            for method in METHODS if method in ops}  # fmt: skip


def request_schema(doc: OpenApiDocument, path: str, method: str) -> dict[str, Any] | None:
    """The request body's schema with its top-level ``$ref`` followed (None: the operation takes no body)."""
    body = doc.doc["paths"][path][method.lower()].get("requestBody")
    if body is None:
        return None
    schema = body["content"]["application/json"]["schema"]
    while "$ref" in schema:
        schema = doc.doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


@dataclass(frozen=True)
class Difference:
    """Where hookstream deliberately answers otherwise than Svix's document says, and why.

    ``field`` names what differs: ``request <name>`` (a request field or query parameter hookstream
    ignores or refuses), ``response <json path>`` (a response field, list indices as ``*``),
    ``status <n>`` (a status the document does not declare), or ``operation`` (not in either document).
    """

    operation: str  # "METHOD /api/v1/..." as in the documents
    field: str
    why: str


def _shape(path: Sequence[Any]) -> str:
    return ".".join("*" if isinstance(part, int) else str(part) for part in path)


def _where(error: Any) -> str:
    """A violation's place: the field's path, and for a missing required field the path it should be at."""
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((n for n in error.validator_value if n not in error.instance), "")
        return _shape((*error.absolute_path, missing))
    return _shape(error.absolute_path)


def _fields(value: Any, prefix: tuple[Any, ...] = ()) -> set[str]:
    """Every property path in a JSON value (list indices folded), the names a check covered."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            out.add(_shape((*prefix, key)))
            out |= _fields(item, (*prefix, key))
    elif isinstance(value, list):
        for item in value:
            out |= _fields(item, (*prefix, 0))
    return out


@dataclass
class Oracle:
    """Sends requests with Svix's names and checks each answer against Svix's documents.

    An operation is looked up in the server's document, then in the SDK superset; its request body
    must validate against Svix's request schema and name every field that schema has, its answer's
    status must be one the document declares, and its body must match that status's schema, except
    where ``differences`` says otherwise.
    """

    http: httpx.AsyncClient
    base_url: str
    documents: Sequence[OpenApiDocument]
    differences: Sequence[Difference]
    operations: set[tuple[str, str]] = field(default_factory=set)
    checked_fields: set[tuple[str, str]] = field(default_factory=set)
    used_differences: set[Difference] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)  # every mismatch, reported together at the end

    def _expect(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.failures.append(problem)
        return ok

    def differs(self, operation: str, what: str) -> bool:
        """Whether ``DIFFERENCES`` lists it (and note that it was needed)."""
        for difference in self.differences:
            if difference.operation == operation and difference.field == what:
                self.used_differences.add(difference)
                return True
        return False

    def _document(self, method: str, template: str) -> OpenApiDocument | None:
        return next((d for d in self.documents if (method, template) in operations(d)), None)

    async def call(
        self,
        method: str,
        template: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        invalid: bool = False,
        **path: str,
    ) -> httpx.Response:
        """``invalid``: the body is meant to break Svix's schema (for the 422 it answers)."""  # fmt: skip
        name = f"{method} {template}"
        doc = self._document(method, template)
        if doc is None:
            self._expect(self.differs(name, "operation"), f"{name} is in neither of Svix's documents: list it")
        declared = doc.doc["paths"][template][method.lower()] if doc else {}
        if body is not None and doc is not None and not invalid:
            problems = [f"{list(e.absolute_path)}: {e.message}" for e in doc.request_validator(template, method)
                        .iter_errors(body)]  # fmt: skip
            self._expect(not problems, f"{name}: the test's own body is not Svix's request: {problems}")
            named = set(body) | {ALIASES[key] for key in body if key in ALIASES}
            for missing in sorted(set(request_schema(doc, template, method).get("properties", {})) - named):
                self._expect(
                    self.differs(name, f"request {missing}"), f"{name}: the body leaves out Svix's {missing!r}"
                )
            self.checked_fields |= {(name, "request " + f) for f in _fields(body)}
        known = {p["name"] for p in declared.get("parameters", ())}
        for param in query or {}:
            self._expect(not doc or param in known, f"{name}: Svix declares no query parameter {param!r}")
            self.checked_fields.add((name, "query " + param))
        url = self.base_url + template.format(**path)
        answer = await self.http.request(method, url, json=body, params=query, headers=headers)
        self.operations.add((method, template))
        if doc is None:
            return answer
        status = answer.status_code
        if str(status) not in declared["responses"]:
            self._expect(self.differs(name, f"status {status}"), f"{name} answered {status}, not declared by Svix")
            return answer
        payload = answer.json() if answer.content else None
        validator = doc.validator(template, method, status)
        if validator is None:
            self._expect(not answer.content, f"{name} {status}: Svix declares no body, hookstream sent {answer.text!r}")
            return answer
        problems = [f"{_where(e)}: {e.message}" for e in validator.iter_errors(payload)
                    if not self.differs(name, f"response {_where(e)}")]  # fmt: skip
        self._expect(not problems, f"{name} {status} does not match Svix's schema: {problems}")
        self.checked_fields |= {(name, f"response {status} " + f) for f in _fields(payload)}
        return answer
