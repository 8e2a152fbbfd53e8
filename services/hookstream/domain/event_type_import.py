"""Event types from an OpenAPI document's webhooks (Svix's ``POST /api/v1/event-type/import/openapi``), pure.

Svix reads the webhooks of the document's top level, OpenAPI 3.1's
``webhooks`` or the older ``x-webhooks`` extension (both, here; a name in
both is taken from ``webhooks``). Each webhook becomes an event type of the
same name:

- ``description``: its operation's ``description``, else its ``summary``
  (else the path item's), else empty;
- ``schemas``: ``{"1": <the JSON Schema of its request body>}``, the
  ``application/json`` content's schema (else the first content with one),
  every local ``$ref`` (``#/components/...``) resolved in place, so the
  stored schema stands alone; none when the webhook has no body schema;
- ``deprecated``: its operation's ``deprecated``.

The operation is the path item's ``post`` (a webhook is a POST to the
receiver), else its first operation. What then changes is decided against
the current event types by :func:`changes`: a type whose description,
schemas and deprecation already match, and that is not archived, is left
alone (an import of the same document twice writes nothing the second time);
an archived one is brought back, as Svix does; with ``replace_all``, every
live type the document does not name is archived.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

NAME = re.compile(r"^[a-zA-Z0-9\-_.]{1,256}$")
"""Svix's event type name (the dialect's name rule, repeated here: domain/ imports nothing from api/)."""
_METHODS = ("post", "put", "patch", "get", "delete", "options", "head", "trace")
_MAX_REF_DEPTH = 64


class InvalidSpec(ValueError):
    """The document cannot be read as Svix reads it; ``where`` names the part (``specRaw``, a webhook's name)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(reason)
        self.where = where
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImportedType:
    """Svix's ``EventTypeFromOpenApi`` (``to_modify`` of a dry run), as read from one webhook."""

    name: str
    description: str
    schemas: dict[str, Any] | None
    deprecated: bool

    def out(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "schemas": self.schemas,
                "deprecated": self.deprecated, "groupName": None, "featureFlags": None}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Change:
    """One event type to write: ``imported`` (create, update, un-archive), or None to archive it."""

    name: str
    imported: ImportedType | None


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors/aliases: a few aliased lines can otherwise expand into gigabytes of JSON."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise InvalidSpec("specRaw", "YAML aliases (*name) are not accepted")
        return super().compose_node(parent, index)


def read_spec(spec: Mapping[str, Any] | None, spec_raw: str | None) -> Mapping[str, Any]:
    """The document from exactly one of ``spec`` (parsed JSON) and ``specRaw`` (YAML or JSON text)."""
    if (spec is None) == (spec_raw is None):
        raise InvalidSpec("spec", "send exactly one of spec and specRaw")
    if spec is not None:
        return spec
    assert spec_raw is not None
    try:
        loaded = yaml.load(spec_raw, Loader=_NoAliases)  # a SafeLoader
        if not isinstance(loaded, dict):
            raise InvalidSpec("specRaw", "the document must be an object")
        # YAML's dates and odd keys become JSON's strings, as they would in a JSON document.
        return json.loads(json.dumps(loaded, default=str))
    except yaml.YAMLError as error:
        raise InvalidSpec("specRaw", f"not YAML or JSON: {error}") from None
    except RecursionError:
        raise InvalidSpec("specRaw", "the document is nested too deeply") from None


def webhook_event_types(spec: Mapping[str, Any]) -> list[ImportedType]:
    """One event type per webhook of the document: ``webhooks`` in order, then what ``x-webhooks`` adds."""
    webhooks: dict[str, Any] = {}
    for section in ("webhooks", "x-webhooks"):
        value = spec.get(section)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise InvalidSpec(section, f"{section} must be an object of webhooks by name")
        webhooks |= {name: item for name, item in value.items() if name not in webhooks}
    try:
        return [_event_type(spec, name, item) for name, item in webhooks.items()]
    except RecursionError:
        raise InvalidSpec("webhooks", "a schema is nested too deeply") from None


def changes(
    imported: Iterable[ImportedType], current: Mapping[str, Mapping[str, Any]], *, replace_all: bool
) -> list[Change]:
    """What the import writes, given the current types by name (records: ``description``, ``schemas`` as JSON
    text, ``deprecated``, ``archived``): new or different types, archived ones it names, and with
    ``replace_all`` the live ones it does not name."""
    named = {t.name: t for t in imported}
    out = [Change(t.name, t) for t in named.values() if t.name not in current or _differs(t, current[t.name])]
    if replace_all:
        out += [Change(name, None) for name, record in current.items() if name not in named and not record["archived"]]
    return out


def _differs(imported: ImportedType, record: Mapping[str, Any]) -> bool:
    schemas = json.loads(record["schemas"]) if record.get("schemas") else None
    return (
        bool(record.get("archived"))
        or record.get("description") != imported.description
        or schemas != imported.schemas
        or bool(record.get("deprecated")) != imported.deprecated
    )


def _event_type(spec: Mapping[str, Any], name: str, item: Any) -> ImportedType:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidSpec(str(name), f"webhook {name!r} is not a valid event type name (^[a-zA-Z0-9\\-_.]+$)")
    item = _resolved(spec, item, name)
    if not isinstance(item, dict):
        raise InvalidSpec(name, f"webhook {name!r} must be a path item object")
    operation = item.get("post") or next((item[m] for m in _METHODS if isinstance(item.get(m), dict)), None)
    if not isinstance(operation, dict):
        raise InvalidSpec(name, f"webhook {name!r} has no operation")
    description = operation.get("description") or operation.get("summary") or item.get("description") \
        or item.get("summary") or ""  # fmt: skip
    schema = _body_schema(spec, operation, name)
    return ImportedType(name, str(description), {"1": schema} if schema is not None else None,
                        bool(operation.get("deprecated")))  # fmt: skip


def _body_schema(spec: Mapping[str, Any], operation: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    body = _resolved(spec, operation.get("requestBody"), name)
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict):
        return None
    media = [content.get("application/json"), *content.values()]
    schema = next((m["schema"] for m in media if isinstance(m, dict) and isinstance(m.get("schema"), dict)), None)
    return None if schema is None else _inlined(spec, schema, name, ())


def _resolved(spec: Mapping[str, Any], value: Any, name: str) -> Any:
    """``value``, or what its ``$ref`` points at (one level: path items and bodies)."""
    if isinstance(value, dict) and isinstance(value.get("$ref"), str):
        return _pointer(spec, value["$ref"], name)
    return value


def _inlined(spec: Mapping[str, Any], value: Any, name: str, seen: tuple[str, ...]) -> Any:
    """``value`` with every ``$ref`` replaced by its target; a reference to itself (recursion) is refused."""
    if isinstance(value, list):
        return [_inlined(spec, v, name, seen) for v in value]
    if not isinstance(value, dict):
        return value
    ref = value.get("$ref")
    if isinstance(ref, str):
        if ref in seen or len(seen) >= _MAX_REF_DEPTH:
            raise InvalidSpec(name, f"webhook {name!r}: the schema refers to itself through {ref} (recursive)")
        target = _inlined(spec, _pointer(spec, ref, name), name, (*seen, ref))
        siblings = {k: _inlined(spec, v, name, seen) for k, v in value.items() if k != "$ref"}
        return {**target, **siblings} if isinstance(target, dict) else target
    return {k: _inlined(spec, v, name, seen) for k, v in value.items()}


def _pointer(spec: Mapping[str, Any], ref: str, name: str) -> Any:
    """A local JSON pointer (``#/components/schemas/Pet``); other documents are not fetched."""
    if not ref.startswith("#/"):
        raise InvalidSpec(name, f"webhook {name!r}: only references within the document are read, not {ref!r}")
    target: Any = spec
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and key in target:
            target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            target = target[int(key)]
        else:
            raise InvalidSpec(name, f"webhook {name!r}: {ref} points at nothing in the document")
    return target
