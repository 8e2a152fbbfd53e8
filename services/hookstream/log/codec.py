"""Avro single-object encoding of hookstream events.

Each Kafka value is ``C3 01`` + the 8-byte little-endian CRC-64-AVRO fingerprint
of the writer schema + the schemaless Avro body (Avro spec, "Single object
encoding"). The fingerprint makes every record self-describing without a schema
registry: a consumer finds the writer schema in the catalogue (current or
``history/``) and resolves it to today's reader schema, so topics stay
replayable across schema changes.

Decoding never lets a library exception escape: anything unreadable becomes an
:class:`UndecodableRecord` whose ``error_class`` goes straight into a DeadLetter.
"""

from __future__ import annotations

from collections.abc import Mapping
from io import BytesIO
from typing import Any

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.validation import ValidationError, validate

from hookstream.log.schemas import (
    LoadedSchema,
    SchemaCatalogue,
    SchemaLoadError,
    default_schemas_dir,
    schema_fingerprint,
)

__all__ = [
    "MARKER",
    "AvroCodec",
    "CorruptRecord",
    "InvalidRecord",
    "NotSingleObject",
    "SchemaCatalogue",
    "SchemaLoadError",
    "UndecodableRecord",
    "UnexpectedType",
    "UnknownSchema",
    "default_schemas_dir",
    "schema_fingerprint",
]

MARKER = b"\xc3\x01"
"""Avro's single-object marker; a value without it was not written by this codec."""
HEADER_LEN = len(MARKER) + 8


class UndecodableRecord(Exception):
    """Bytes that cannot become an event; consumers dead-letter them instead of crashing.

    ``error_class`` is a stable token for metrics and the DeadLetter record;
    ``reason`` is for humans.
    """

    error_class: str = "corrupt"

    def __init__(self, reason: str, *, schema_name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.schema_name = schema_name


class UnknownSchema(UndecodableRecord):
    """The writer fingerprint is not in the catalogue, or cannot be resolved to the reader schema."""

    error_class = "unknown_schema"


class CorruptRecord(UndecodableRecord):
    """The header is fine but the body does not parse exactly under the writer schema."""

    error_class = "corrupt"


class NotSingleObject(UndecodableRecord):
    """No single-object marker: written by something else (plain JSON, another codec) or damaged."""

    error_class = "not_single_object"


class UnexpectedType(UndecodableRecord):
    """A valid event of a type this consumer does not take (a producer wrote to the wrong topic)."""

    error_class = "unexpected_type"


class InvalidRecord(ValueError):
    """A producer built an event that breaks its contract; a bug, so it names the type and field."""

    def __init__(self, record_type: str, message: str, field: str | None = None) -> None:
        where = f" field {field!r}" if field else ""
        super().__init__(f"invalid {record_type} record{where}: {message}")
        self.record_type = record_type
        self.field = field


class _Writer:
    """Everything encode needs for one type, precomputed so the hot path is two dict lookups."""

    __slots__ = ("array_fields", "field_names", "header", "schema")

    def __init__(self, schema: LoadedSchema) -> None:
        self.schema = schema
        self.header = MARKER + schema.fingerprint
        self.field_names = frozenset(f["name"] for f in schema.raw["fields"])
        self.array_fields = tuple(f["name"] for f in schema.raw["fields"] if _is_array(f["type"]))

    def check_shape(self, record: Mapping[str, Any]) -> None:
        """Catch what fastavro's writer lets through silently: unknown keys and a string as an array.

        A misspelt optional field would be dropped, and ``channels="a"`` would be
        written as ``["a"]`` by luck or ``["a", "b", "c"]`` for ``"abc"``.
        """
        short = self.schema.short_name
        if not self.field_names.issuperset(record):
            extra = sorted(set(record) - self.field_names)
            raise InvalidRecord(short, "not in the schema", field=", ".join(extra))
        for name in self.array_fields:
            value = record.get(name)
            if isinstance(value, str | bytes):
                raise InvalidRecord(short, f"expected an array, got {type(value).__name__}", field=name)


class _Reader:
    """A writer version and the reader it resolves to; reader is None when they are the same."""

    __slots__ = ("name", "reader", "short_name", "writer")

    def __init__(self, writer: LoadedSchema, reader: LoadedSchema) -> None:
        self.writer = writer.parsed
        # Skips fastavro's resolution pass for the common case of an up-to-date writer.
        self.reader = None if reader.fingerprint == writer.fingerprint else reader.parsed
        self.name = reader.name
        self.short_name = reader.short_name


class AvroCodec:
    """Encodes and decodes events; immutable after construction, so one instance serves all tasks."""

    def __init__(self, catalogue: SchemaCatalogue | None = None) -> None:
        self.catalogue = catalogue if catalogue is not None else SchemaCatalogue()
        self._writers: dict[str, _Writer] = {}
        for name in self.catalogue.names():
            writer = _Writer(self.catalogue.current(name))
            self._writers[writer.schema.name] = writer
            self._writers[writer.schema.short_name] = writer
        self._readers: dict[bytes, _Reader] = {
            s.fingerprint: _Reader(s, self.catalogue.reader_for(s)) for s in self.catalogue.writers()
        }

    def _writer(self, name: str) -> _Writer:
        try:
            return self._writers[name]
        except KeyError:
            raise KeyError(f"no current Avro schema named {name!r}") from None

    def fingerprint(self, name: str) -> bytes:
        """The 8 fingerprint bytes of a type's current schema, as they appear in every header."""
        return self._writer(name).schema.fingerprint

    def encode(self, name: str, record: Mapping[str, Any]) -> bytes:
        """Serialise ``record`` as a single-object-encoded ``name`` (short or full name).

        Missing fields take their schema default; keys the schema does not know are
        refused, because fastavro would silently drop them (a misspelt optional field
        would otherwise vanish).
        """
        writer = self._writer(name)
        buf = BytesIO()
        buf.write(writer.header)
        try:
            schemaless_writer(buf, writer.schema.parsed, record)
        except Exception as exc:  # fastavro raises TypeError, ValueError, OverflowError, ...
            raise self._explain(writer, record, exc) from exc
        writer.check_shape(record)  # after the write: it has proven record is a mapping
        return buf.getvalue()

    @staticmethod
    def _explain(writer: _Writer, record: Any, exc: Exception) -> InvalidRecord:
        """Re-check with fastavro's validator, only after a failure, to name the offending field."""
        short = writer.schema.short_name
        try:
            validate(record, writer.schema.parsed, raise_errors=True)
        except ValidationError as verr:
            if not verr.errors:
                return InvalidRecord(short, str(verr))
            first = verr.errors[0]
            path = str(first.field or "").removeprefix(writer.schema.name).lstrip(".")
            field = path.removeprefix(writer.schema.name.rpartition(".")[0] + ".") or None
            got = f"{type(first.datum).__name__} {first.datum!r}"
            got = got if len(got) <= 80 else got[:77] + "..."
            return InvalidRecord(short, f"expected {_describe(first.schema)}, got {got}", field=field)
        except Exception as verr:  # the validator itself choked on something exotic
            return InvalidRecord(short, f"{type(exc).__name__}: {exc} (validator: {verr})")
        return InvalidRecord(short, f"{type(exc).__name__}: {exc}")

    def decode(self, data: bytes | bytearray | memoryview, expected: str | None = None) -> tuple[str, dict[str, Any]]:
        """Return ``(short type name, record)`` in the current reader schema of that type.

        ``expected`` (short or full name) makes a record of any other type raise
        :class:`UnexpectedType` before its body is read.
        """
        if len(data) < HEADER_LEN or data[:2] != MARKER:
            raise NotSingleObject(f"{len(data)} bytes without an Avro single-object header")
        fp = bytes(data[2:HEADER_LEN])
        entry = self._readers.get(fp)
        if entry is None:
            raise UnknownSchema(f"no schema with fingerprint {fp.hex()} (missing from schemas/avro/history?)")
        name = entry.short_name
        if expected is not None and expected != name and expected != entry.name:
            raise UnexpectedType(f"expected {expected}, got {name}", schema_name=name)
        buf = BytesIO(data)
        buf.seek(HEADER_LEN)
        try:
            record = schemaless_reader(buf, entry.writer, entry.reader)
        except SchemaResolutionError as exc:
            raise UnknownSchema(
                f"{name} writer {fp.hex()} not resolvable to the current schema: {exc}", schema_name=name
            ) from exc
        except Exception as exc:  # EOFError, IndexError, UnicodeDecodeError, struct.error, ...
            raise CorruptRecord(f"{name} body unreadable: {type(exc).__name__}: {exc}", schema_name=name) from exc
        if buf.tell() != len(data):
            raise CorruptRecord(f"{name} has {len(data) - buf.tell()} bytes after the body", schema_name=name)
        return name, record


def _is_array(schema: Any) -> bool:
    if isinstance(schema, list):
        return any(_is_array(s) for s in schema)
    return isinstance(schema, dict) and schema.get("type") == "array"


def _describe(schema: Any) -> str:
    """A short spelling of an Avro type for error messages (fastavro's includes every doc string)."""
    if isinstance(schema, list):
        return " | ".join(_describe(s) for s in schema)
    if not isinstance(schema, dict):
        return str(schema)
    kind = schema.get("type")
    if "logicalType" in schema:
        return f"{kind} ({schema['logicalType']})"
    if kind == "enum":
        return f"enum {'/'.join(schema.get('symbols', []))}"
    if kind == "array":
        return f"array of {_describe(schema.get('items'))}"
    if kind == "map":
        return f"map of {_describe(schema.get('values'))}"
    if kind in ("record", "fixed"):
        return f"{kind} {str(schema.get('name', '')).rsplit('.', 1)[-1]}"
    return _describe(kind)
