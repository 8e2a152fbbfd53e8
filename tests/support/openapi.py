"""Checking live responses against the served ``/openapi.json``: the document, and each body by its schema.

Any dialect's tests can use it: fetch the document once (``OpenApiDocument.fetch``),
then ``check(path_template, method, status, body)`` for every response.
Schema references (``#/components/schemas/...``) are resolved inside the
document itself, and formats (uuid, date-time) are asserted, not just noted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

_URI = "urn:hookstream:openapi"


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


@dataclass
class OpenApiDocument:
    doc: dict[str, Any]
    validate_document: bool = True  # False for a published document with known slips (see peer_oracle)

    def __post_init__(self) -> None:
        if self.validate_document:
            validate(self.doc)  # raises OpenAPIValidationError naming the problem
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(_URI, resource)

    @classmethod
    async def fetch(cls, session: aiohttp.ClientSession, base_url: str) -> OpenApiDocument:
        async with session.get(f"{base_url}/openapi.json") as response:
            assert response.status == 200, await response.text()
            return cls(await response.json())

    def declared_statuses(self, path: str, method: str) -> set[int]:
        return {int(status) for status in self.doc["paths"][path][method.lower()]["responses"]}

    def validator(self, path: str, method: str, status: int) -> Draft202012Validator | None:
        """The validator of that response's JSON body; None when the response declares no JSON body."""
        responses = self.doc["paths"][path][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {path} answered {status}, which the document does not declare"
        if "application/json" not in responses[str(status)].get("content", {}):
            return None
        pointer = _pointer("paths", path, method.lower(), "responses", str(status), "content", "application/json")
        schema = {"$ref": f"{_URI}#/{pointer}/schema"}
        return Draft202012Validator(schema, registry=self._registry, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def request_validator(self, path: str, method: str) -> Draft202012Validator:
        """The validator of the operation's JSON request body (which must declare one)."""
        pointer = _pointer("paths", path, method.lower(), "requestBody", "content", "application/json")
        schema = {"$ref": f"{_URI}#/{pointer}/schema"}
        return Draft202012Validator(schema, registry=self._registry, format_checker=Draft202012Validator.FORMAT_CHECKER)

    def check(self, path: str, method: str, status: int, body: Any) -> None:
        """Fail with every schema violation of ``body`` listed (path inside the body and why)."""
        validator = self.validator(path, method, status)
        if validator is None:
            return
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert not problems, f"{method} {path} {status} does not match its schema:\n" + "\n".join(problems)
