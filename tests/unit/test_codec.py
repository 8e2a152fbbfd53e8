"""The Avro contracts and the single-object codec.

Records live in Kafka for years and are replayed to rebuild every view, so these
tests pin the byte format (marker, fingerprint byte order), schema evolution in
both directions, and that no malformed input can escape as anything but an
UndecodableRecord a consumer can dead-letter.
"""

from __future__ import annotations

import contextlib
import json
import random
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import fingerprint, to_parsing_canonical_form

from hookstream.log.codec import (
    MARKER,
    AvroCodec,
    CorruptRecord,
    InvalidRecord,
    NotSingleObject,
    SchemaCatalogue,
    SchemaLoadError,
    UndecodableRecord,
    UnexpectedType,
    UnknownSchema,
    default_schemas_dir,
)

REAL_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
NAMESPACE = "hookstream.events"
TOPIC_TABLE_TYPES = {
    "ApplicationUpserted",
    "ApplicationDeleted",
    "EndpointUpserted",
    "EndpointDeleted",
    "EventTypeUpserted",
    "EventTypeDeleted",
    "SecretRotated",
    "MessageAccepted",
    "DeliveryTask",
    "AttemptFinished",
    "DeliverySkipped",
    "MessageEndpointStatus",
    "MessageStatus",
    "ContentExpunged",
    "RecoverRequested",
    "IdempotentResponse",
    "BackgroundTaskState",
    "TokenRevoked",
    "DeadLetter",
    "OperationalEvent",
}

T0 = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=UTC)
APP = "01959a3c-8f1e-7b2a-9c4d-5e6f7a8b9c0d"
ENDPOINT = "01959a3c-9a00-7c11-8d22-33445566778a"
MSG = "01959a3d-0000-7abc-8def-0123456789ab"
ATTEMPT = "01959a3d-0001-7abc-8def-0123456789ab"
PAYLOAD = json.dumps({"invoice": "in_123", "amount": 4200, "currency": "eur", "note": "café"}).encode()
SECRET = {"ciphertext": b"\x01\x02sealed\xff", "key_id": "kek-2025-03", "created_at": T0}

# One realistic record per contract; fields left out must come back as their defaults.
SAMPLES: dict[str, dict[str, Any]] = {
    "ApplicationUpserted": {
        "app_id": APP,
        "name": "Acme billing",
        "uid": "acme-billing",
        "rate_limit": 50,
        "metadata": {"plan": "pro"},
        "version": 3,
        "created_at": T0 - timedelta(days=30),
        "updated_at": T0,
    },
    "ApplicationDeleted": {"app_id": APP, "version": 4, "deleted_at": T0},
    "EndpointUpserted": {
        "endpoint_id": ENDPOINT,
        "app_id": APP,
        "url": "https://hooks.example.com/acme",
        "description": "prod receiver",
        "filter_types": ["invoice.paid", "invoice.voided"],
        "channels": ["eu"],
        "payload_filter": '{"amount": {"$gt": 100}}',
        "headers": {"X-Tenant": "acme"},
        "rate_limit": 10,
        "uid": "prod",
        "secrets": [SECRET, {**SECRET, "key_id": "kek-2025-01", "expires_at": T0 + timedelta(hours=24)}],
        "version": 7,
        "created_at": T0 - timedelta(days=2),
        "updated_at": T0,
    },
    "EndpointDeleted": {
        "endpoint_id": ENDPOINT,
        "app_id": APP,
        "uid": "prod",
        "version": 8,
        "deleted_at": T0,
    },
    "EventTypeUpserted": {
        "name": "invoice.paid",
        "description": "An invoice was paid in full",
        "group_name": "billing",
        "schemas": '{"1": {"type": "object"}}',
        "feature_flags": ["beta"],
        "version": 1,
        "created_at": T0,
        "updated_at": T0,
    },
    "EventTypeDeleted": {"name": "invoice.paid", "version": 2, "deleted_at": T0},
    "SecretRotated": {
        "endpoint_id": ENDPOINT,
        "app_id": APP,
        "secrets": [SECRET],
        "version": 9,
        "rotated_at": T0,
    },
    "MessageAccepted": {
        "msg_id": MSG,
        "app_id": APP,
        "event_type": "invoice.paid",
        "event_id": "evt_upstream_42",
        "channels": ["eu", "billing"],
        "payload": PAYLOAD,
        "tags": ["project_1"],
        "accepted_at": T0,
        "source": "kafka",
    },
    "DeliveryTask": {
        "msg_id": MSG,
        "app_id": APP,
        "endpoint_id": ENDPOINT,
        "attempt_number": 3,
        "trigger": "scheduled",
        "due_at": T0 + timedelta(minutes=5),
        "enqueued_at": T0,
        "event_type": "invoice.paid",
        "channels": ["eu"],
        "payload": PAYLOAD,
        "accepted_at": T0 - timedelta(seconds=5),
    },
    "AttemptFinished": {
        "attempt_id": ATTEMPT,
        "app_id": APP,
        "msg_id": MSG,
        "endpoint_id": ENDPOINT,
        "event_type": "invoice.paid",
        "attempt_number": 1,
        "trigger": "manual",
        "trigger_seq": 2,
        "url": "https://hooks.example.com/acme",
        "status": "failed",
        "response_status": 503,
        "status_code_class": 500,
        "error_class": "http_status",
        "error_text": "503 Service Unavailable",
        "request_headers": {"webhook-id": MSG},
        "response_body": b"busy",
        "response_body_size": 4,
        "resolved_ip": "203.0.113.7",
        "dns_us": 812,
        "total_us": 48_211,
        "started_at": T0,
        "finished_at": T0 + timedelta(milliseconds=48),
    },
    "MessageEndpointStatus": {
        "msg_id": MSG,
        "app_id": APP,
        "endpoint_id": ENDPOINT,
        "status": "pending",
        "attempt_count": 2,
        "last_attempt_id": ATTEMPT,
        "last_attempt_at": T0,
        "last_response_status": 503,
        "next_attempt_at": T0 + timedelta(minutes=30),
        "version": 2,
        "updated_at": T0,
    },
    "MessageStatus": {
        "msg_id": MSG,
        "app_id": APP,
        "status": "fail",
        "attempt_count": 8,
        "endpoint_count": 2,
        "succeeded_endpoints": 1,
        "failed_endpoints": 1,
        "updated_at": T0,
    },
    "DeliverySkipped": {
        "msg_id": MSG,
        "app_id": APP,
        "endpoint_id": ENDPOINT,
        "event_type": "invoice.paid",
        "event_id": "inv-1",
        "channels": ["eu"],
        "attempt_number": 3,
        "trigger": "scheduled",
        "trigger_seq": 0,
        "skip_id": ATTEMPT,
        "reason": "endpoint_disabled",
        "due_at": T0,
        "skipped_at": T0,
    },
    "ContentExpunged": {"msg_id": MSG, "app_id": APP, "reason": "GDPR request 77", "expunged_at": T0},
    "RecoverRequested": {
        "request_id": "01959a3e-0000-7000-8000-000000000001",
        "app_id": APP,
        "endpoint_id": ENDPOINT,
        "since": T0 - timedelta(days=1),
        "requested_at": T0,
    },
    "IdempotentResponse": {
        "request_key": "9f2c" * 16,
        "status": 202,
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "body": b'{"id":"msg_2x"}',
        "answered_at": T0,
    },
    "BackgroundTaskState": {
        "task_id": "01959a3e-0000-7000-8000-000000000001",
        "task": "endpoint.recover",
        "status": "finished",
        "data": {"messagesFound": 3, "messagesSent": 2, "messagesSkipped": 1},
        "app_id": APP,
        "endpoint_id": ENDPOINT,
        "updated_at": T0,
    },
    "TokenRevoked": {
        "token_digest": "3f9a" * 8,
        "app_id": APP,
        "expires_at": T0 + timedelta(days=7),
        "revoked_at": T0,
    },
    "DeadLetter": {
        "topic": "hookstream.messages",
        "partition": 4,
        "offset": 1_234_567,
        "timestamp_ms": 1_741_964_966_535,
        "key": b"app|evt_upstream_42",
        "value": b"\xc3\x01garbage",
        "headers": [{"key": "traceparent", "value": b"00-abc-01"}, {"key": "empty"}],
        "reason": "no schema with fingerprint 0011223344556677",
        "error_class": "unknown_schema",
        "consumer": "router",
        "failed_at": T0,
    },
    "OperationalEvent": {
        "event_id": "01959a3d-0002-7abc-8def-0123456789ab",
        "type": "message.attempt.exhausted",
        "app_id": APP,
        "endpoint_id": ENDPOINT,
        "msg_id": MSG,
        "attempt_id": ATTEMPT,
        "response_status": 503,
        "occurred_at": T0,
        "payload": b'{"type":"message.attempt.exhausted","data":{}}',
    },
}


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(SchemaCatalogue(REAL_DIR))


def _with_defaults(raw: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """What a reader must return: every field, the record's value or the schema default."""
    out = {}
    for field in raw["fields"]:
        value = record[field["name"]] if field["name"] in record else field["default"]
        if isinstance(field["type"], dict) and field["type"].get("type") == "array":
            items = field["type"]["items"]
            if isinstance(items, dict) and items.get("type") == "record":
                value = [_with_defaults(items, v) for v in value]
        out[field["name"]] = value
    return out


def crc64_avro(data: bytes) -> int:
    """CRC-64-AVRO written from the Avro spec, to check fastavro rather than trust it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp


# --- the real contracts ------------------------------------------------------------------------


def _walk_records(schema: Any) -> list[dict[str, Any]]:
    if isinstance(schema, list):
        return [r for s in schema for r in _walk_records(s)]
    if not isinstance(schema, dict):
        return []
    if schema.get("type") == "record":
        found = [schema]
        for field in schema["fields"]:
            found += _walk_records(field["type"])
        return found
    return _walk_records(schema.get("items")) + _walk_records(schema.get("values"))


def test_every_topic_type_has_exactly_one_contract() -> None:
    assert {p.stem for p in REAL_DIR.glob("*.avsc")} == TOPIC_TABLE_TYPES
    assert set(SAMPLES) == TOPIC_TABLE_TYPES


@pytest.mark.parametrize("path", sorted(REAL_DIR.glob("*.avsc")), ids=lambda p: p.stem)
def test_contract_parses_and_every_optional_field_has_a_default(path: Path) -> None:
    raw = json.loads(path.read_text(encoding="utf-8"))
    fastavro.parse_schema(raw, named_schemas={})
    assert raw["name"] == path.stem
    assert raw["namespace"] == NAMESPACE
    assert raw.get("doc"), "each contract says what it means and where it flows"
    for record in _walk_records(raw):
        for field in record["fields"]:
            ftype = field["type"]
            if isinstance(ftype, list) and "null" in ftype:
                assert "default" in field, f"{record['name']}.{field['name']} is optional without a default"
                # Avro: a union's default must match its first branch.
                assert ftype[0] == "null" and field["default"] is None, f"{record['name']}.{field['name']}"


def test_history_folder_is_explained() -> None:
    assert "ever published" in (REAL_DIR / "history" / "README.md").read_text(encoding="utf-8")


def test_an_event_type_written_before_feature_flags_reads_with_its_single_flag(codec: AvroCodec) -> None:
    old = json.loads((REAL_DIR / "history" / "EventTypeUpserted.739d5ed776213b63.avsc").read_text(encoding="utf-8"))
    body = BytesIO()
    fastavro.schemaless_writer(
        body,
        fastavro.parse_schema(old, named_schemas={}),
        {"name": "invoice.paid", "feature_flag": "beta", "version": 2, "updated_at": T0},
    )
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(old), "CRC-64-AVRO"))
    assert fp != codec.fingerprint("EventTypeUpserted")
    name, record = codec.decode(MARKER + fp + body.getvalue(), expected="EventTypeUpserted")
    assert name == "EventTypeUpserted"
    assert (record["feature_flag"], record["feature_flags"], record["version"]) == ("beta", [], 2)


def test_default_schemas_dir_finds_the_repo_folder_and_obeys_the_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HOOKSTREAM_SCHEMAS_DIR", raising=False)
    assert default_schemas_dir().resolve() == REAL_DIR
    monkeypatch.setenv("HOOKSTREAM_SCHEMAS_DIR", str(tmp_path))
    assert default_schemas_dir() == tmp_path


# --- round trips and the byte format -------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TOPIC_TABLE_TYPES))
def test_round_trip(codec: AvroCodec, name: str) -> None:
    data = codec.encode(name, SAMPLES[name])
    decoded_name, record = codec.decode(data, expected=name)
    assert decoded_name == name
    assert record == _with_defaults(codec.catalogue.current(name).raw, SAMPLES[name])


def test_full_name_is_accepted_wherever_a_name_is(codec: AvroCodec) -> None:
    full = f"{NAMESPACE}.MessageAccepted"
    data = codec.encode(full, SAMPLES["MessageAccepted"])
    assert data == codec.encode("MessageAccepted", SAMPLES["MessageAccepted"])
    assert codec.decode(data, expected=full)[0] == "MessageAccepted"
    assert codec.fingerprint(full) == codec.fingerprint("MessageAccepted")


@pytest.mark.parametrize("name", sorted(TOPIC_TABLE_TYPES))
def test_single_object_header_is_marker_then_little_endian_crc64(codec: AvroCodec, name: str) -> None:
    raw = json.loads((REAL_DIR / f"{name}.avsc").read_text(encoding="utf-8"))
    canonical = to_parsing_canonical_form(raw)
    data = codec.encode(name, SAMPLES[name])

    assert data[:2] == b"\xc3\x01" == MARKER
    # fastavro's hex is already the little-endian byte sequence (as Java writes it).
    assert data[2:10] == bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")) == codec.fingerprint(name)
    assert int.from_bytes(data[2:10], "little") == crc64_avro(canonical.encode())

    body = BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(raw, named_schemas={}), SAMPLES[name])
    assert data[10:] == body.getvalue()


def test_crc64_matches_the_avro_spec_vector() -> None:
    # Avro's schema-tests: the fingerprint of "null" is the signed long 7195948357588979594.
    assert crc64_avro(b'"null"') == 7195948357588979594
    assert bytes.fromhex(fingerprint('"null"', "CRC-64-AVRO")) == (7195948357588979594).to_bytes(8, "little")


def test_catalogue_lookups(codec: AvroCodec) -> None:
    catalogue = codec.catalogue
    current = catalogue.current(f"{NAMESPACE}.DeliveryTask")
    assert catalogue.current("DeliveryTask") is current
    assert catalogue.by_fingerprint(current.fingerprint) is current
    assert catalogue.by_fingerprint(b"\x00" * 8) is None
    assert "DeliveryTask" in catalogue
    assert len(catalogue.names()) == len(TOPIC_TABLE_TYPES)
    with pytest.raises(KeyError):
        codec.encode("NoSuchEvent", {})


# --- schema evolution --------------------------------------------------------------------------

WIDGET_V1 = {
    "type": "record",
    "name": "Widget",
    "namespace": NAMESPACE,
    "doc": "test contract",
    "fields": [
        {"name": "widget_id", "type": "string"},
        {"name": "count", "type": "int"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["a", "b"], "default": "a"}},
    ],
}
WIDGET_V2 = {
    **WIDGET_V1,
    "fields": [
        *WIDGET_V1["fields"][:2],
        {
            "name": "kind",
            "type": {"type": "enum", "name": "Kind", "symbols": ["a", "b", "c"], "default": "a"},
        },
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}


def _catalogue_dir(root: Path, current: dict[str, Any], *history: dict[str, Any]) -> Path:
    root.mkdir()
    (root / f"{current['name']}.avsc").write_text(json.dumps(current), encoding="utf-8")
    if history:
        (root / "history").mkdir()
        for i, schema in enumerate(history):
            (root / "history" / f"{schema['name']}.{i}.avsc").write_text(json.dumps(schema), encoding="utf-8")
    return root


def test_old_reader_drops_a_field_added_by_a_newer_writer(tmp_path: Path) -> None:
    new = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "new", WIDGET_V2, WIDGET_V1)))
    old = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "old", WIDGET_V1, WIDGET_V2)))
    data = new.encode("Widget", {"widget_id": "w1", "count": 2, "kind": "c", "note": "added in v2"})
    # The unknown enum symbol falls back to the enum's default.
    assert old.decode(data) == ("Widget", {"widget_id": "w1", "count": 2, "kind": "a"})


def test_new_reader_fills_in_the_default_for_an_old_writer(tmp_path: Path) -> None:
    old = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "old", WIDGET_V1)))
    new = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "new", WIDGET_V2, WIDGET_V1)))
    data = old.encode("Widget", {"widget_id": "w1", "count": 2, "kind": "b"})
    assert data[2:10] != new.fingerprint("Widget")
    assert new.decode(data, expected="Widget") == (
        "Widget",
        {"widget_id": "w1", "count": 2, "kind": "b", "note": None},
    )


def test_a_writer_schema_missing_from_history_is_unknown(tmp_path: Path) -> None:
    # Why history/ must keep every version: without v1 the new reader cannot read v1 records.
    old = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "old", WIDGET_V1)))
    new = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "new", WIDGET_V2)))
    with pytest.raises(UnknownSchema) as err:
        new.decode(old.encode("Widget", {"widget_id": "w1", "count": 2, "kind": "a"}))
    assert err.value.error_class == "unknown_schema"


def test_an_incompatible_history_version_is_unknown_schema_not_a_crash(tmp_path: Path) -> None:
    required = {**WIDGET_V1, "fields": [*WIDGET_V1["fields"], {"name": "size", "type": "int"}]}
    old = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "old", WIDGET_V1)))
    new = AvroCodec(SchemaCatalogue(_catalogue_dir(tmp_path / "new", required, WIDGET_V1)))
    with pytest.raises(UnknownSchema, match="not resolvable"):
        new.decode(old.encode("Widget", {"widget_id": "w1", "count": 2, "kind": "a"}))


def test_catalogue_refuses_inconsistent_folders(tmp_path: Path) -> None:
    with pytest.raises(SchemaLoadError, match="does not exist"):
        SchemaCatalogue(tmp_path / "missing")
    misnamed = tmp_path / "misnamed"
    misnamed.mkdir()
    (misnamed / "Gadget.avsc").write_text(json.dumps(WIDGET_V1), encoding="utf-8")
    with pytest.raises(SchemaLoadError, match=r"Widget\.avsc"):
        SchemaCatalogue(misnamed)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "Widget.avsc").write_text('{"type": "record", "name": "Widget", "fields": [', encoding="utf-8")
    with pytest.raises(SchemaLoadError, match="JSON"):
        SchemaCatalogue(broken)


# --- undecodable input -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valid(codec: AvroCodec) -> bytes:
    return codec.encode("MessageAccepted", SAMPLES["MessageAccepted"])


def _raises(codec: AvroCodec, data: bytes, kind: type[UndecodableRecord], error_class: str) -> None:
    with pytest.raises(kind) as err:
        codec.decode(data)
    assert err.value.error_class == error_class
    assert err.value.reason


def test_truncated_body_is_corrupt(codec: AvroCodec, valid: bytes) -> None:
    _raises(codec, valid[:-3], CorruptRecord, "corrupt")
    # Every field takes at least one byte, so no truncation can decode.
    for end in range(10, len(valid)):
        _raises(codec, valid[:end], CorruptRecord, "corrupt")


def test_short_or_unmarked_input_is_not_single_object(codec: AvroCodec, valid: bytes) -> None:
    _raises(codec, b"\xc2" + valid[1:], NotSingleObject, "not_single_object")
    _raises(codec, valid[:1] + b"\x00" + valid[2:], NotSingleObject, "not_single_object")
    _raises(codec, b"", NotSingleObject, "not_single_object")
    _raises(codec, valid[:9], NotSingleObject, "not_single_object")
    _raises(codec, b'{"msg_id": "json from upstream"}', NotSingleObject, "not_single_object")


def test_random_bytes(codec: AvroCodec, valid: bytes) -> None:
    rng = random.Random(20250314)
    _raises(codec, bytes(rng.getrandbits(8) for _ in range(64)), NotSingleObject, "not_single_object")
    garbage_body = valid[:10] + bytes(rng.getrandbits(8) for _ in range(40))
    _raises(codec, garbage_body, CorruptRecord, "corrupt")


def test_unknown_fingerprint(codec: AvroCodec, valid: bytes) -> None:
    data = MARKER + bytes.fromhex("0011223344556677") + valid[10:]
    _raises(codec, data, UnknownSchema, "unknown_schema")


def test_trailing_bytes_are_corrupt(codec: AvroCodec, valid: bytes) -> None:
    _raises(codec, valid + b"\x00", CorruptRecord, "corrupt")


def test_unexpected_type(codec: AvroCodec, valid: bytes) -> None:
    with pytest.raises(UnexpectedType) as err:
        codec.decode(valid, expected="DeliveryTask")
    assert err.value.error_class == "unexpected_type"
    assert err.value.schema_name == "MessageAccepted"


def test_no_bit_flip_escapes_as_a_foreign_exception(codec: AvroCodec) -> None:
    data = codec.encode("AttemptFinished", SAMPLES["AttemptFinished"])
    for pos in range(len(data)):
        for bit in (0x01, 0x80):
            flipped = bytearray(data)
            flipped[pos] ^= bit
            with contextlib.suppress(UndecodableRecord):
                codec.decode(bytes(flipped))


def test_memoryview_and_bytearray_input(codec: AvroCodec, valid: bytes) -> None:
    assert codec.decode(memoryview(valid)) == codec.decode(bytearray(valid)) == codec.decode(valid)


# --- invalid records on encode -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"payload": PAYLOAD.decode()}, "payload"),
        ({"app_id": None}, "app_id"),
        ({"accepted_at": "yesterday"}, "accepted_at"),
        ({"source": "grpc"}, "source"),
        ({"channels": [1]}, "channels"),
        ({"channels": "eu"}, "channels"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"evnt_id": "typo"}, "evnt_id"),
    ],
)
def test_invalid_record_names_type_and_field(codec: AvroCodec, change: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidRecord) as err:
        codec.encode("MessageAccepted", {**SAMPLES["MessageAccepted"], **change})
    assert isinstance(err.value, ValueError)
    assert err.value.record_type == "MessageAccepted"
    assert err.value.field == field
    assert "MessageAccepted" in str(err.value) and field in str(err.value)


def test_missing_required_field_is_named(codec: AvroCodec) -> None:
    record = {k: v for k, v in SAMPLES["DeliveryTask"].items() if k != "due_at"}
    with pytest.raises(InvalidRecord, match="due_at"):
        codec.encode("DeliveryTask", record)


def test_invalid_nested_field_is_named(codec: AvroCodec) -> None:
    record = {**SAMPLES["SecretRotated"], "secrets": [{**SECRET, "ciphertext": "whsec_cleartext"}]}
    with pytest.raises(InvalidRecord) as err:
        codec.encode("SecretRotated", record)
    assert err.value.field == "EndpointSecret.ciphertext"


def test_non_mapping_record(codec: AvroCodec) -> None:
    with pytest.raises(InvalidRecord, match="ContentExpunged"):
        codec.encode("ContentExpunged", None)  # type: ignore[arg-type]
