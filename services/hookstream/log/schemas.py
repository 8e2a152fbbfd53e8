"""The catalogue of Avro event contracts, loaded once from ``schemas/avro/``.

Topics are replayed from the beginning to rebuild views, so a consumer must read
every schema version that was ever used to write a record, not only the current
one. The top folder holds the current (reader) schema of each record type; the
``history/`` folder below it holds every older (writer) version, addressed by
the fingerprint each record carries in its single-object header.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastavro import parse_schema
from fastavro.schema import fingerprint as _avro_fingerprint
from fastavro.schema import to_parsing_canonical_form

SCHEMAS_DIR_ENV = "HOOKSTREAM_SCHEMAS_DIR"
HISTORY_DIR = "history"


class SchemaLoadError(ValueError):
    """A schema file is unreadable or contradicts another one; fails start-up, not the first decode."""


def default_schemas_dir() -> Path:
    """Locate the contracts in the source tree, unless the environment points elsewhere.

    An installed (non-editable) package has no source tree next to it, so deployments
    set ``HOOKSTREAM_SCHEMAS_DIR``.
    """
    override = os.environ.get(SCHEMAS_DIR_ENV)
    if override:
        return Path(override)
    # services/hookstream/log/schemas.py -> <repo>/schemas/avro
    return Path(__file__).resolve().parents[3] / "schemas" / "avro"


def schema_fingerprint(raw: dict[str, Any]) -> bytes:
    """The 8 header bytes the Avro spec prescribes: little-endian CRC-64-AVRO of the canonical form.

    fastavro already returns the little-endian byte order as hex (as Java does), so
    the hex is decoded as is; nothing is reversed.
    """
    return bytes.fromhex(_avro_fingerprint(to_parsing_canonical_form(raw), "CRC-64-AVRO"))


@dataclass(frozen=True, slots=True)
class LoadedSchema:
    """One schema version, parsed once so the hot path never touches JSON or parse_schema."""

    name: str
    """Full name, e.g. ``hookstream.events.MessageAccepted``."""
    short_name: str
    fingerprint: bytes
    raw: dict[str, Any]
    parsed: dict[str, Any]
    path: Path
    current: bool


def _full_name(raw: dict[str, Any]) -> str:
    name = raw["name"]
    if "." in name or not raw.get("namespace"):
        return str(name)
    return f"{raw['namespace']}.{name}"


def load_schema_file(path: Path, *, current: bool) -> LoadedSchema:
    """Read, parse and fingerprint one ``.avsc``; each file gets its own named-type scope.

    Separate scopes let two contracts define the same named type (``EndpointSecret``)
    and let an old version of a type sit next to its current one.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaLoadError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("type") != "record" or not raw.get("name"):
        raise SchemaLoadError(f"{path}: top level must be a named record schema")
    try:
        parsed = parse_schema(raw, named_schemas={})
        fp = schema_fingerprint(raw)
    except Exception as exc:  # fastavro raises several unrelated types for a bad schema
        raise SchemaLoadError(f"{path}: invalid Avro schema: {exc}") from exc
    name = _full_name(raw)
    return LoadedSchema(name, name.rsplit(".", 1)[-1], fp, raw, parsed, path, current)


class SchemaCatalogue:
    """Every schema version hookstream can read, by fingerprint and by name.

    Short names (``MessageAccepted``) are accepted wherever a name is, because all
    contracts share one namespace; the loader refuses two current schemas with the
    same short name so that shorthand stays unambiguous.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_schemas_dir()
        if not self.directory.is_dir():
            raise SchemaLoadError(
                f"schema directory {self.directory} does not exist; set {SCHEMAS_DIR_ENV} to schemas/avro"
            )
        self._current: dict[str, LoadedSchema] = {}
        self._by_fingerprint: dict[bytes, LoadedSchema] = {}
        for path in sorted(self.directory.glob("*.avsc")):
            self._add_current(load_schema_file(path, current=True))
        history = self.directory / HISTORY_DIR
        if history.is_dir():
            for path in sorted(history.rglob("*.avsc")):
                self._add_writer(load_schema_file(path, current=False))

    def _add_current(self, schema: LoadedSchema) -> None:
        # The file name is how people find a contract; a mismatch would hide one.
        if schema.path.stem != schema.short_name:
            raise SchemaLoadError(f"{schema.path}: file must be named {schema.short_name}.avsc")
        for key in (schema.name, schema.short_name):
            if key in self._current:
                raise SchemaLoadError(f"{schema.path}: {key} is already defined by {self._current[key].path}")
            self._current[key] = schema
        self._add_writer(schema)

    def _add_writer(self, schema: LoadedSchema) -> None:
        known = self._by_fingerprint.get(schema.fingerprint)
        if known is None:
            self._by_fingerprint[schema.fingerprint] = schema
        elif known.name != schema.name:
            # Would make records of one type decode as another: refuse to start.
            raise SchemaLoadError(f"{schema.path}: fingerprint {schema.fingerprint.hex()} collides with {known.path}")

    def current(self, name: str) -> LoadedSchema:
        """The reader schema (and the only writer schema) of a record type; KeyError if unknown."""
        return self._current[name]

    def by_fingerprint(self, fingerprint: bytes) -> LoadedSchema | None:
        """The writer schema a record's header names, or None when no known version matches."""
        return self._by_fingerprint.get(fingerprint)

    def reader_for(self, writer: LoadedSchema) -> LoadedSchema:
        """The schema a record written with ``writer`` is decoded into.

        A type whose current contract was removed is still readable with its last
        writer schema, so old records in compacted topics can be inspected.
        """
        return self._current.get(writer.name, writer)

    def names(self) -> list[str]:
        """Full names of the current record types, sorted."""
        return sorted({s.name for s in self._current.values()})

    def writers(self) -> Iterator[LoadedSchema]:
        """Every readable schema version, current ones included."""
        return iter(self._by_fingerprint.values())

    def __contains__(self, name: object) -> bool:
        return name in self._current
