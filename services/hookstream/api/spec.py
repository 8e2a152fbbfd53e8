"""Routes as data: what each operation takes and answers, read by its handler and by the OpenAPI document.

A dialect declares its operations once, as ``Operation`` values: the path
and query parameters and the request body as JSON Schema, the responses by
status. Handlers read their input through ``read_params`` / ``read_body``,
which validate against exactly those schemas, and ``api/openapi.py`` turns
the same values into ``/openapi.json``; the document cannot drift from what
the handlers accept. Validation failures are ``InvalidInput`` naming where
(path, query, header, body), which field and why; each dialect maps it to its
own error shape (Svix 422, Outpost 400, v1's envelope).

Every request body of every dialect is read here, by ``read_body``: a JSON
content type (or none), at most the sub-application's ``client_max_size``
bytes (aiohttp refuses more before it is read), then the strict reader of
``domain.strict_json`` with the deployment's limits; only then the schema.
A body with another content type is ``UnsupportedMediaType`` (415).
"""

from __future__ import annotations

import keyword
import re
import uuid
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from aiohttp import hdrs, web
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from hookstream.api.context import API_CONTEXT
from hookstream.domain.strict_json import JsonLimits, JsonRefused, read_json
from hookstream.foundation.settings import Settings

JsonSchema = dict[str, Any]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Location = Literal["path", "query", "header"]


@dataclass(frozen=True)
class Param:
    name: str
    where: Location
    schema: JsonSchema
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Response:
    description: str
    schema: JsonSchema | None = None  # None: no body (204, 202 without content)
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # relative to the dialect's prefix, aiohttp syntax: /messages/{msg_id}
    handler: Handler
    operation_id: str
    summary: str
    params: tuple[Param, ...] = ()
    body: JsonSchema | None = None
    body_required: bool = True  # False: the handler also takes no body at all (an empty request, not empty JSON)
    responses: Mapping[int, Response] = field(default_factory=dict)
    authenticated: bool = True

    @property
    def path_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.where == "path")


class InvalidInput(Exception):
    """``where`` is path/query/header/body; ``loc`` the field (a JSON path inside a body)."""

    def __init__(self, where: str, loc: Sequence[str | int], reason: str, missing: str | None = None) -> None:
        super().__init__(f"{where} {'.'.join(map(str, loc)) or '(root)'}: {reason}")
        self.where = where
        self.loc = list(loc)
        self.reason = reason
        self.missing = missing  # a required property absent from the object at ``loc`` (dialects may name it)


class UnsupportedMediaType(Exception):
    """415: a request body sent as something other than JSON; each dialect answers it in its own shape."""

    def __init__(self, given: str) -> None:
        super().__init__(f"Content-Type {given!r} is not supported: send application/json (UTF-8)")
        self.given = given


_CANONICAL_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


def _coerce(raw: str, schema: JsonSchema) -> Any:
    """A query/path string as the JSON value its schema expects; ValueError when it cannot be one."""
    kind = schema.get("type")
    if kind == "integer":
        return int(raw)
    if kind == "number":
        return float(raw)
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("must be true or false")
    return raw


def _convert(value: Any, schema: JsonSchema) -> Any:
    """String formats the handlers want as Python values: date-time -> aware datetime, uuid -> UUID."""
    fmt = schema.get("format")
    if not isinstance(value, str):
        return value
    if fmt == "date-time":
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if fmt == "uuid":
        if not _CANONICAL_UUID.match(value):  # uuid.UUID alone also takes braces, "urn:uuid:", no hyphens
            raise ValueError(value)
        return uuid.UUID(value)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _message(error: ValidationError) -> str:
    """jsonschema's wording, except where a bound deserves its number (and a pattern its description)."""
    instance, bound = error.instance, error.validator_value
    if error.validator == "maxLength":
        return f"holds at most {bound} characters, got {len(instance)}"
    if error.validator in ("maxProperties", "maxItems"):
        return f"holds at most {bound} entries, got {len(instance)}"
    if error.validator == "pattern" and isinstance(error.schema, dict) and error.schema.get("description"):
        return f"{_short(instance)} is not {error.schema['description']}"
    return error.message if len(error.message) <= 200 else error.message[:197] + "..."


def _one(param: Param, raw: str) -> Any:
    try:
        value = _coerce(raw, param.schema)
    except ValueError as error:
        reason = str(error) if "true or false" in str(error) else f"must be a {param.schema.get('type')}"
        raise InvalidInput(param.where, [param.name], reason) from None
    validator = _validator(param.schema, "param")
    for problem in validator.iter_errors(value) if validator is not None else ():
        raise InvalidInput(param.where, [param.name], _message(problem))
    try:
        return _convert(value, param.schema)
    except ValueError:
        raise InvalidInput(param.where, [param.name], f"is not a valid {param.schema['format']}") from None


def read_params(request: web.Request, operation: Operation) -> dict[str, Any]:
    """Every declared parameter, validated and typed; absent optional ones are their default or None."""
    out: dict[str, Any] = {}
    for param in operation.params:
        if param.where == "path":
            raws = [request.match_info[param.name]]
        elif param.where == "query":
            raws = request.query.getall(param.name, []) + request.query.getall(param.name + "[]", [])
        else:
            raws = request.headers.getall(param.name, [])
        if param.schema.get("type") == "array":
            items = param.schema.get("items", {})
            values = [_one(Param(param.name, param.where, items), raw) for raw in raws]
            if not values and param.required:
                raise InvalidInput(param.where, [param.name], "is required")
            for problem in _validator(param.schema, "array").iter_errors(values):
                raise InvalidInput(param.where, [param.name], _message(problem))
            out[param.name] = values or param.schema.get("default")
            continue
        if len(raws) > 1:
            raise InvalidInput(param.where, [param.name], "is given more than once")
        if not raws:
            if param.required:
                raise InvalidInput(param.where, [param.name], "is required")
            out[param.name] = param.schema.get("default")
            continue
        out[param.name] = _one(param, raws[0])
    return out


# A body's "integer" is a JSON number without a fraction part *as written*: 530.0 would pass plain JSON Schema,
# reach the handler as a float and fail Avro encoding (a 500); Svix's own serde refuses it too.
_BodyValidator = validators.extend(Draft202012Validator, type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)))  # fmt: skip


_Kind = Literal["param", "array", "body"]
# Validators built once per schema: building one resolves the schema's $refs (a registry walk) and cost more
# than the validation itself. Keyed by identity; the entry holds the schema, so its id is never reused.
_COMPILED: dict[tuple[int, _Kind], tuple[JsonSchema, Any]] = {}
_MAX_COMPILED = 4096  # operations are module constants; this only bounds a caller that builds schemas per request


# A parameter schema of only these keys, with one of these types, holds for every value _coerce returns.
_ANNOTATIONS = frozenset({"type", "default", "description", "title", "example", "examples", "deprecated"})
_COERCED_TYPES = frozenset({"string", "integer", "number", "boolean"})


def _validator(schema: JsonSchema, kind: _Kind) -> Any:
    """The validator for ``schema`` as a parameter, an array parameter's list (items checked one by one), or a body.

    None for a parameter whose schema only names its type: ``_coerce`` already made the value that type.
    """
    hit = _COMPILED.get((id(schema), kind))
    if hit is not None and hit[0] is schema:
        return hit[1]
    if kind == "body":
        validator = _BodyValidator(schema)
    elif kind == "param" and schema.keys() <= _ANNOTATIONS and str(schema.get("type")) in _COERCED_TYPES:
        validator = None
    else:
        validator = Draft202012Validator({**schema, "items": {}} if kind == "array" else schema)
    if len(_COMPILED) >= _MAX_COMPILED:
        _COMPILED.clear()
    _COMPILED[(id(schema), kind)] = (schema, validator)
    return validator


# What the fast check of a body understands: a schema with any other keyword is left to jsonschema alone.
_FAST_ANNOTATIONS = frozenset({"description", "title", "example", "examples", "deprecated", "default"})
_FAST_KEYWORDS = _FAST_ANNOTATIONS | {"type", "required", "properties", "pattern", "minLength", "maxLength", "items",
                                      "minItems", "maxItems", "uniqueItems"}  # fmt: skip
# JSON Schema's types as _BodyValidator checks them ("integer" without 1.0; neither number is a bool).
_FAST_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}
_FAST: dict[int, tuple[JsonSchema, Callable[[Any], bool] | None]] = {}


def _fast_check(schema: JsonSchema) -> Callable[[Any], bool] | None:
    """A check that answers True only for a body ``_BodyValidator`` finds valid, for the schemas it understands.

    jsonschema's walk (a validator per level, an iterator per keyword) was ~10 % of the API's CPU per accepted
    message (BENCHMARKS.md, Session 6) for a body that is nearly always valid. The check applies the same
    keywords with the same rules (``re.search``, ``len``, the type test per JSON type); False means only "ask
    jsonschema", which then finds and words the problem, so a refusal is exactly what it was. None: a keyword
    it does not understand is in the schema.
    """
    hit = _FAST.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    check = _compile_fast(schema)
    if len(_FAST) >= _MAX_COMPILED:
        _FAST.clear()
    _FAST[id(schema)] = (schema, check)
    return check


def _compile_fast(schema: Any) -> Callable[[Any], bool] | None:
    if not isinstance(schema, dict) or not schema.keys() <= _FAST_KEYWORDS:
        return None
    declared = schema.get("type")
    names = [declared] if isinstance(declared, str) else declared
    if names is not None and (not isinstance(names, list) or not all(name in _FAST_TYPES for name in names)):
        return None
    types = tuple(_FAST_TYPES[name] for name in names) if names is not None else ()
    pattern = re.compile(schema["pattern"]) if "pattern" in schema else None
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    min_items, max_items, unique = schema.get("minItems"), schema.get("maxItems"), schema.get("uniqueItems") is True
    items = _compile_fast(schema["items"]) if "items" in schema else None
    properties = {name: _compile_fast(sub) for name, sub in schema.get("properties", {}).items()}
    if ("items" in schema and items is None) or None in properties.values():
        return None
    required = tuple(schema.get("required", ()))

    def check(value: Any) -> bool:
        if types and not any(test(value) for test in types):
            return False
        if isinstance(value, str):
            return ((pattern is None or pattern.search(value) is not None)
                    and (min_length is None or len(value) >= min_length)
                    and (max_length is None or len(value) <= max_length))  # fmt: skip
        if isinstance(value, list):
            if (min_items is not None and len(value) < min_items) or (max_items is not None and len(value) > max_items):
                return False
            # Strings only: jsonschema's uniqueness of other values (1 and True, 1 and 1.0) is left to it.
            if unique and not (all(isinstance(item, str) for item in value) and len(set(value)) == len(value)):
                return False
            return items is None or all(items(item) for item in value)
        if isinstance(value, dict):
            return all(name in value for name in required) and all(
                sub(value[name]) for name, sub in properties.items() if name in value
            )
        return True

    return check


@lru_cache(maxsize=8)
def json_limits(settings: Settings) -> JsonLimits:
    return JsonLimits(settings.api_json_max_depth, settings.api_json_max_object_keys, settings.api_json_max_array_items)


def _check_content_type(request: web.Request) -> None:
    """JSON, or no Content-Type at all (read as JSON, as plain HTTP tools send bodies); anything else is 415."""
    given = request.headers.get(hdrs.CONTENT_TYPE)
    if given is None:
        return
    kind, _, subtype = request.content_type.partition("/")
    is_json = kind == "application" and (subtype == "json" or subtype.endswith("+json"))
    if not is_json or (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(given)


async def read_body(request: web.Request, operation: Operation) -> Any:
    """The JSON body, read strictly, validated against the operation's body schema (the first problem reported)."""
    if operation.body is None:
        raise RuntimeError(f"{operation.operation_id} declares no body")
    if not operation.body_required and not request.body_exists:
        return None
    _check_content_type(request)
    context = request.app.get(API_CONTEXT)
    limits = json_limits(context.settings if context is not None else Settings())
    try:
        value = read_json(await request.read(), limits)
    except JsonRefused as error:
        raise InvalidInput("body", list(error.path), error.reason) from None
    fast = _fast_check(operation.body)
    if fast is not None and fast(value):
        return value
    problems = _validator(operation.body, "body").iter_errors(value)
    problem = min(problems, key=lambda e: list(e.absolute_path), default=None)
    if problem is not None:
        missing = None
        if problem.validator == "required" and isinstance(problem.instance, dict):
            missing = next((name for name in problem.validator_value if name not in problem.instance), None)
        raise InvalidInput("body", list(problem.absolute_path), _message(problem), missing)
    return value


_MAX_REMEMBERED_PATHS = 4096


class RememberingRouter(web.UrlDispatcher):
    """aiohttp's router, remembering which resource answered each method and path once routes are frozen.

    aiohttp indexes resources by their path up to the first variable, so
    every ``/app/{app_id}/...`` operation (and its trailing-slash twin) lands
    in one list that it matches one regex at a time, in registration order:
    41 regexes before ``POST /app/{app_id}/msg``, 9-13% of the API's CPU per
    accepted message. The first resource that matches a method and path
    cannot change once the routes are frozen, so asking it first again gives
    the same answer for one regex.
    """

    def __init__(self) -> None:
        super().__init__()
        self._remembered: dict[tuple[str, str], web.AbstractResource] = {}

    async def resolve(self, request: web.Request) -> web.UrlMappingMatchInfo:
        key = (request.method, request.rel_url.path_safe)
        resource = self._remembered.get(key)
        if resource is not None:
            match_info, _ = await resource.resolve(request)
            if match_info is not None:
                return match_info
        match_info = await super().resolve(request)
        if self.frozen and match_info.http_exception is None and match_info.route.resource is not None:
            if len(self._remembered) >= _MAX_REMEMBERED_PATHS:
                self._remembered.clear()
            self._remembered[key] = match_info.route.resource
        return match_info


def application(**options: Any) -> web.Application:
    """A dialect's sub-application, routed by ``RememberingRouter`` (aiohttp takes a router only as a deprecated
    keyword, kept through aiohttp 3.x)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "router argument is deprecated", DeprecationWarning)
        return web.Application(router=RememberingRouter(), **options)


def route_name(operation_id: str) -> str:
    """aiohttp refuses a route name with a Python keyword between its ``.``/``-``/``:`` separators (Svix's
    ``v1.event-type.import-openapi``): such a part gets a trailing ``_``."""
    return re.sub(r"[^.:\-]+", lambda m: m[0] + "_" if keyword.iskeyword(m[0]) else m[0], operation_id)


def register(app: web.Application, operations: Sequence[Operation], *, trailing_slash: bool = False) -> None:
    """Add every operation's route (and its trailing-slash twin when the dialect's clients send one).

    Each route is named by its ``operation_id``, so a handler can build a link
    to another operation with ``request.app.router[operation_id].url_for(...)``
    (see :func:`route_name` for the ids aiohttp would refuse).
    """
    for op in operations:
        app.router.add_route(op.method, op.path, op.handler, name=route_name(op.operation_id))
        if trailing_slash:
            app.router.add_route(op.method, op.path + "/", op.handler)
