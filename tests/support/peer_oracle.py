"""A peer's published OpenAPI document as the oracle for the dialect hookstream serves of that peer's API.

Svix's documents (``svix_oracle``) and Outpost's (``outpost_oracle``) are
checked the same way: every request is built from the peer's request schema
with every field under its peer name, and every answer must have a status the
peer declares and a body that validates against the peer's schema for it.
What differs per peer (where the documents are, the base path, request-field
aliases) is passed in; everything else is here once.

Both peers say "may be null" the OpenAPI 3.0 way (``nullable: true``, even in
documents that declare 3.1); :func:`as_json_schema` rewrites that as JSON
Schema (``type: [t, "null"]``), so ``tests.support.openapi.OpenApiDocument``
validates with them as it does with hookstream's own document: formats
asserted, references resolved.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.openapi import OpenApiDocument

METHODS = ("get", "put", "post", "patch", "delete")


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


def load_document(doc: dict[str, Any]) -> OpenApiDocument:
    """The peer's document with its schemas as JSON Schema (the peer's file is left as published)."""
    converted = copy.deepcopy(doc)
    converted["components"]["schemas"] = as_json_schema(converted["components"]["schemas"])
    shared = converted["components"].get("responses", {})
    for ops in converted["paths"].values():
        for method in METHODS:
            if method in ops:
                ops[method] = as_json_schema(ops[method])
                responses = ops[method]["responses"]  # a shared response (Outpost's NotFound) inlined
                for status, response in responses.items():
                    if response.get("$ref", "").startswith("#/components/responses/"):
                        responses[status] = as_json_schema(shared[response["$ref"].rsplit("/", 1)[1]])
    converted["openapi"] = "3.1.0"
    # Not validated as a document: a peer's own slips (e.g. Svix's DELETE /api/v1/app/{app_id} declares no
    # app_id parameter) would stop the check before a single hookstream answer is read.
    return OpenApiDocument(converted, validate_document=False)


def operations(doc: OpenApiDocument, prefix: str = "/") -> set[tuple[str, str]]:
    """(METHOD, path template) of every operation whose path starts with ``prefix``."""
    return {(method.upper(), path) for path, ops in doc.doc["paths"].items() if path.startswith(prefix)
            for method in METHODS if method in ops}  # fmt: skip


def resolve(doc: OpenApiDocument, schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with its ``$ref`` chain followed (local references: ``#/components/...``)."""
    while "$ref" in schema:
        node: Any = doc.doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def request_schema(doc: OpenApiDocument, path: str, method: str, body: Any = None) -> Mapping[str, Any] | None:
    """The request body's object schema (None: the operation takes no body).

    A ``oneOf`` with a discriminator (Outpost's ``DestinationCreate``) is the variant ``body`` names.
    """
    declared = doc.doc["paths"][path][method.lower()].get("requestBody")
    if declared is None:
        return None
    schema = resolve(doc, declared["content"]["application/json"]["schema"])
    if "oneOf" in schema and "discriminator" in schema and isinstance(body, dict):
        discriminator = schema["discriminator"]
        chosen = discriminator["mapping"].get(body.get(discriminator["propertyName"]))
        schema = resolve(doc, {"$ref": chosen}) if chosen else schema
    return schema


@dataclass(frozen=True)
class Difference:
    """Where hookstream deliberately answers otherwise than the peer's document says, and why.

    ``field`` names what differs: ``request <name>`` (a request field or query parameter hookstream
    ignores or refuses), ``response <json path>`` (a response field, list indices as ``*``),
    ``undeclared <json path>`` (a response field the peer's schema does not name),
    ``status <n>`` (a status the document does not declare), ``behaviour``, or ``operation``
    (not in the peer's documents).
    """

    operation: str  # "METHOD /path/template" as in the documents
    field: str
    why: str


def shape(path: Sequence[Any]) -> str:
    return ".".join("*" if isinstance(part, int) else str(part) for part in path)


def _where(error: Any) -> str:
    """A violation's place: the field's path, and for a missing required field the path it should be at."""
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = next((n for n in error.validator_value if n not in error.instance), "")
        return shape((*error.absolute_path, missing))
    return shape(error.absolute_path)


def fields_of(value: Any, prefix: tuple[Any, ...] = ()) -> set[str]:
    """Every property path in a JSON value (list indices folded), the names a check covered."""
    out: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            out.add(shape((*prefix, key)))
            out |= fields_of(item, (*prefix, key))
    elif isinstance(value, list):
        for item in value:
            out |= fields_of(item, (*prefix, 0))
    return out


_JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _fits(doc: OpenApiDocument, schema: Mapping[str, Any], value: Any) -> bool:
    """Whether a ``oneOf``/``anyOf`` branch is the one meant for ``value``: its JSON type, its ``type`` tag."""
    schema = resolve(doc, schema)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(isinstance(value, _JSON_TYPES.get(n, (int, float))) and not (isinstance(value, bool)
                   and n in ("integer", "number")) for n in names):  # fmt: skip
            return False
    tag = schema.get("properties", {}).get("type", {})
    return not (isinstance(value, dict) and "enum" in tag and value.get("type") not in tag["enum"])


def undeclared(doc: OpenApiDocument, schema: Mapping[str, Any], value: Any, at: tuple[Any, ...] = ()) -> set[str]:
    """Paths of the fields in ``value`` that ``schema`` does not name.

    An object with ``properties`` and no ``additionalProperties`` names exactly those; a map
    (``additionalProperties`` a schema, or ``true``) names any key. Of a ``oneOf``/``anyOf``, the
    branch that fits the value and names most of its fields is followed.
    """
    schema = resolve(doc, schema)
    branches = [*schema.get("oneOf", ()), *schema.get("anyOf", ())]
    if branches:
        fitting = [b for b in branches if _fits(doc, b, value)] or branches
        found = [undeclared(doc, b, value, at) for b in fitting]
        return min(found, key=len)
    if isinstance(value, list):
        items = schema.get("items", {})
        return set().union(*(undeclared(doc, items, item, (*at, 0)) for item in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    out: set[str] = set()
    for key, item in value.items():
        if key in properties:
            out |= undeclared(doc, properties[key], item, (*at, key))
        elif isinstance(extra, dict):
            out |= undeclared(doc, extra, item, (*at, key))
        elif extra is None and properties:
            out.add(shape((*at, key)))
    return out


@dataclass
class Oracle:
    """Sends requests with the peer's names and checks each answer against the peer's documents.

    An operation is looked up in ``documents`` in order; its request body must validate against
    the peer's request schema and name every field that schema has (``aliases``: a name the peer's
    server reads as another), its query parameters must be ones the peer declares, its answer's
    status must be one the document declares, and its body must match that status's schema
    (and, with ``names_declared``, hold no field the schema does not name), except where
    ``differences`` says otherwise. Every mismatch is collected in ``failures``.
    """

    http: httpx.AsyncClient
    base_url: str  # what a path template is appended to
    documents: Sequence[OpenApiDocument]
    differences: Sequence[Difference]
    peer: str = "the peer"
    prefix: str = "/"  # the documents' operations this dialect is about
    aliases: Mapping[str, str] = field(default_factory=dict)
    names_declared: bool = False
    operations: set[tuple[str, str]] = field(default_factory=set)
    checked_fields: set[tuple[str, str]] = field(default_factory=set)
    used_differences: set[Difference] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)  # every mismatch, reported together at the end

    def _expect(self, ok: bool, problem: str) -> bool:
        if not ok:
            self.failures.append(problem)
        return ok

    def differs(self, operation: str, what: str) -> bool:
        """Whether ``differences`` lists it (and note that it was needed)."""
        for difference in self.differences:
            if difference.operation == operation and difference.field == what:
                self.used_differences.add(difference)
                return True
        return False

    def _document(self, method: str, template: str) -> OpenApiDocument | None:
        return next((d for d in self.documents if (method, template) in operations(d, self.prefix)), None)

    def _check_request(
        self, doc: OpenApiDocument, name: str, template: str, method: str, body: Any, *, partial: bool
    ) -> None:
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in doc.request_validator(template, method)
                    .iter_errors(body)]  # fmt: skip
        self._expect(not problems, f"{name}: the test's own body is not {self.peer}'s request: {problems}")
        self.checked_fields |= {(name, "request " + f) for f in fields_of(body)}
        if partial:
            return
        schema = request_schema(doc, template, method, body) or {}
        named = set(body) | {self.aliases[key] for key in body if key in self.aliases}
        for missing in sorted(set(schema.get("properties", {})) - named):
            self._expect(
                self.differs(name, f"request {missing}"), f"{name}: the body leaves out {self.peer}'s {missing!r}"
            )

    def _check_query(self, doc: OpenApiDocument | None, name: str, declared: Mapping[str, Any], query: Any) -> None:
        known = {p["name"]: p for p in declared.get("parameters", ())}
        for param in query or {}:
            base = param.split("[", 1)[0]  # deepObject: time[gte] is the parameter time
            ok = param in known or (base in known and known[base].get("style") == "deepObject")
            self._expect(not doc or ok, f"{name}: {self.peer} declares no query parameter {param!r}")
            self.checked_fields.add((name, "query " + param))

    async def call(
        self,
        method: str,
        template: str,
        *,
        body: Any = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        invalid: bool = False,
        partial: bool = False,
        **path: str,
    ) -> httpx.Response:
        """``invalid``: the body is meant to break the peer's schema (for the 422 it answers); ``partial``: it is
        the peer's request but leaves fields out on purpose (another call of the operation names them all)."""
        name = f"{method} {template}"
        doc = self._document(method, template)
        if doc is None:
            self._expect(self.differs(name, "operation"), f"{name} is in none of {self.peer}'s documents: list it")
        declared = doc.doc["paths"][template][method.lower()] if doc else {}
        if body is not None and doc is not None and not invalid:
            self._check_request(doc, name, template, method, body, partial=partial)
        self._check_query(doc, name, declared, query)
        url = self.base_url + template.format(**path)
        answer = await self.http.request(method, url, json=body, params=query, headers=headers)
        self.operations.add((method, template))
        if doc is None:
            return answer
        status = answer.status_code
        if str(status) not in declared["responses"]:
            self._expect(
                self.differs(name, f"status {status}"), f"{name} answered {status}, not declared by {self.peer}"
            )
            return answer
        payload = answer.json() if answer.content else None
        validator = doc.validator(template, method, status)
        if validator is None:
            self._expect(
                not answer.content or self.differs(name, f"status {status} body"),
                f"{name} {status}: {self.peer} declares no body, hookstream sent {answer.text!r}",
            )
            return answer
        problems = [f"{_where(e)}: {e.message}" for e in validator.iter_errors(payload)
                    if not self.differs(name, f"response {_where(e)}")]  # fmt: skip
        self._expect(not problems, f"{name} {status} does not match {self.peer}'s schema: {problems}")
        if self.names_declared:
            schema = declared["responses"][str(status)]
            schema = resolve(doc, schema)["content"]["application/json"]["schema"]
            extra = sorted(f for f in undeclared(doc, schema, payload) if not self.differs(name, f"undeclared {f}"))
            self._expect(not extra, f"{name} {status}: fields {self.peer}'s schema does not name: {extra}")
        self.checked_fields |= {(name, f"response {status} " + f) for f in fields_of(payload)}
        return answer
