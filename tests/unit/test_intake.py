"""Intake records read as messages: each format's mapping, the application lookup, and every refusal."""

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from hookstream.domain import intake
from hookstream.domain.directory import Directory
from hookstream.domain.ids import IdKind, timestamp_ms, to_svix
from hookstream.domain.intake import Accepted, IntakeRecord, IntakeRules, Refusal, detect_format, interpret
from hookstream.log.codec import AvroCodec
from tests.support import builders

RULES = IntakeRules(max_payload_bytes=1000)
TS = 1_780_000_000_123


def _directory() -> tuple[Directory, dict]:
    view = Directory()
    app = {**builders.application(), "uid": "acme"}
    view.apply("ApplicationUpserted", app)
    return view, app


VIEW, APP = _directory()


def _record(value: bytes | None, headers=(), key: bytes | None = b"acme", offset: int = 7) -> IntakeRecord:
    encoded = tuple((k, v if v is None or isinstance(v, bytes) else v.encode()) for k, v in headers)
    return IntakeRecord("hookstream.intake", 2, offset, TS, key, value, encoded)


def _accepted(record: IntakeRecord, rules: IntakeRules = RULES) -> Accepted:
    result = interpret(record, rules, VIEW)
    assert isinstance(result, Accepted), result
    AvroCodec().encode("MessageAccepted", result.record)  # always a record the schema takes
    return result


def _refused(record: IntakeRecord, error_class: str, rules: IntakeRules = RULES) -> Refusal:
    result = interpret(record, rules, VIEW)
    assert isinstance(result, Refusal), result
    assert result.error_class == error_class, result
    assert result.error_class in intake.ERROR_CLASSES
    return result


def _structured(**event) -> IntakeRecord:
    base = {"specversion": "1.0", "id": "evt-1", "source": "/orders", "type": "order.created",
            "data": {"order": 42}}  # fmt: skip
    base.update(event)
    base = {k: v for k, v in base.items() if v is not _DROP}
    return _record(json.dumps(base).encode(), [("content-type", "application/cloudevents+json; charset=utf-8")])


_DROP = object()


# ---- formats


def test_structured_cloudevent_maps_to_the_message_the_api_would_accept() -> None:
    result = _accepted(_structured(subject="eu", time="2026-01-01T00:00:00Z", tags="a,b"))
    record = result.record
    assert result.format == intake.CLOUDEVENTS_STRUCTURED
    assert record["app_id"] == APP["app_id"]
    assert record["event_type"] == "order.created"
    assert record["event_id"] == "evt-1"
    assert record["payload"] == b'{"order":42}'
    assert record["channels"] == ["eu"]
    assert record["tags"] == ["a", "b"]
    assert record["source"] == "kafka"
    assert record["metadata"] == {"ce_source": "/orders", "ce_subject": "eu", "ce_time": "2026-01-01T00:00:00Z"}
    assert record["accepted_at"] == datetime.fromtimestamp(TS / 1000, UTC)
    assert result.key == f"{APP['app_id']}:evt-1"


def test_the_channels_extension_wins_over_the_subject() -> None:
    assert _accepted(_structured(subject="eu", channels="x, y")).record["channels"] == ["x", "y"]


def test_the_application_attribute_names_the_app_by_id_and_wins_over_header_and_key() -> None:
    app_id = to_svix(IdKind.APPLICATION, uuid.UUID(APP["app_id"]))
    record = _structured(hookstreamapp=app_id)
    record = IntakeRecord(
        **{**_fields(record), "key": b"nobody", "headers": (*record.headers, ("hookstream-application", b"nobody"))}
    )
    assert _accepted(record).record["app_id"] == APP["app_id"]


def _fields(record: IntakeRecord) -> dict:
    return record._asdict()


def test_a_configured_attribute_name_is_read() -> None:
    rules = IntakeRules(app_attribute="tenant", max_payload_bytes=1000)
    assert _accepted(_structured(tenant=APP["app_id"]), rules).record["app_id"] == APP["app_id"]


def test_binary_cloudevent_reads_ce_headers_and_the_value_as_data() -> None:
    headers = [("ce_specversion", "1.0"), ("ce_id", "b-1"), ("ce_source", "/src"), ("ce_type", "user.signup"),
               ("ce_subject", "chan"), ("content-type", "application/json"), ("ce_hookstreamapp", "acme")]  # fmt: skip
    result = _accepted(_record(b'{ "user" : 1 }', headers, key=None))
    assert result.format == intake.CLOUDEVENTS_BINARY
    assert (result.record["event_type"], result.record["event_id"]) == ("user.signup", "b-1")
    assert result.record["payload"] == b'{"user":1}'
    assert result.record["channels"] == ["chan"]
    assert result.record["metadata"] == {"ce_source": "/src", "ce_subject": "chan"}


def test_binary_cloudevent_with_a_vendor_json_content_type_or_none() -> None:
    base = [("ce_specversion", "1.0"), ("ce_id", "b-1"), ("ce_source", "/s"), ("ce_type", "t")]
    _accepted(_record(b"{}", [*base, ("content-type", "application/vnd.acme+json")]))
    _accepted(_record(b"{}", base))


def test_outbox_record_with_header_event_type_and_id() -> None:
    headers = [("id", "0f5b-1"), ("eventType", "OrderCreated"), ("hookstream-application", "acme")]
    result = _accepted(_record(b'{"id": 5}', headers, key=b"order-5"))
    assert result.format == intake.OUTBOX
    assert (result.record["event_type"], result.record["event_id"], result.record["payload"]) == (
        "OrderCreated", "0f5b-1", b'{"id":5}')  # fmt: skip


def test_outbox_unwraps_a_json_string_and_the_schema_envelope_and_quoted_headers() -> None:
    headers = [("id", '"e-9"'), ("eventType", '"OrderPaid"'), ("hookstream-application", "acme")]
    as_string = json.dumps(json.dumps({"total": 3})).encode()
    assert _accepted(_record(as_string, headers)).record["payload"] == b'{"total":3}'
    enveloped = json.dumps({"schema": {"type": "string"}, "payload": json.dumps({"total": 4})}).encode()
    result = _accepted(_record(enveloped, headers))
    assert (result.record["payload"], result.record["event_type"], result.record["event_id"]) == (
        b'{"total":4}', "OrderPaid", "e-9")  # fmt: skip


def test_plain_json_is_a_svix_message_in_with_the_app_as_key() -> None:
    body = {"eventType": "invoice.paid", "eventId": "inv-1", "payload": {"a": "é"}, "channels": ["x"], "tags": ["t"]}
    result = _accepted(_record(json.dumps(body).encode()))
    assert result.format == intake.PLAIN_JSON
    assert result.record["payload"] == '{"a":"é"}'.encode()
    assert (result.record["channels"], result.record["tags"], result.record["metadata"]) == (["x"], ["t"], {})


def test_plain_json_without_event_id_is_keyed_by_its_message_id() -> None:
    result = _accepted(_record(b'{"eventType": "a", "payload": {}}', [("hookstream-application", APP["app_id"])]))
    assert result.record["event_id"] is None
    assert result.key == f"{APP['app_id']}:{result.record['msg_id']}"


def test_format_detection_order() -> None:
    assert detect_format({"ce_specversion": b"1.0", "content-type": b"application/cloudevents+json"}) == (
        intake.CLOUDEVENTS_BINARY)  # fmt: skip
    assert detect_format({"content-type": b"application/cloudevents+json", "eventtype": b"x"}) == (
        intake.CLOUDEVENTS_STRUCTURED)  # fmt: skip
    assert detect_format({"eventtype": b"x"}) == intake.OUTBOX
    assert detect_format({"content-type": b"application/json"}) == intake.PLAIN_JSON


# ---- identity


def test_the_same_record_read_twice_is_the_same_message() -> None:
    first, second = _accepted(_structured()), _accepted(_structured())
    assert first.record == second.record
    assert timestamp_ms(uuid.UUID(first.record["msg_id"])) == TS


def test_another_offset_is_another_message() -> None:
    one = _accepted(_record(b'{"eventType": "a", "payload": {}}', offset=1))
    two = _accepted(_record(b'{"eventType": "a", "payload": {}}', offset=2))
    assert one.record["msg_id"] != two.record["msg_id"]


def test_data_base64_that_decodes_to_json_is_taken() -> None:
    encoded = base64.b64encode(b'{"b": 1}').decode()
    assert _accepted(_structured(data=_DROP, data_base64=encoded)).record["payload"] == b'{"b":1}'


# ---- refusals


def test_no_application() -> None:
    _refused(_record(b'{"eventType": "a", "payload": {}}', key=None), intake.NO_APPLICATION)


@pytest.mark.parametrize("ref", ["nobody", "app_2bGZ0WE6KdQpHZcSx4Zi5HGcPzW", "app_bad", str(uuid.uuid4()),
                                 "x" * 500])  # fmt: skip
def test_unknown_application(ref: str) -> None:
    result = _refused(_record(b'{"eventType": "a", "payload": {}}', key=ref.encode()), intake.UNKNOWN_APPLICATION)
    assert len(result.reason) < 300


def test_a_key_that_is_not_utf8_names_no_known_application() -> None:
    _refused(_record(b'{"eventType": "a", "payload": {}}', key=b"\xff\xfe"), intake.UNKNOWN_APPLICATION)


def test_payload_over_the_cap_after_compaction() -> None:
    big = {"eventType": "a", "payload": {"x": "y" * 1000}}
    result = _refused(_record(json.dumps(big).encode()), intake.PAYLOAD_TOO_LARGE)
    assert "limit is 1000" in result.reason
    spaced = b'{"eventType": "a", "payload": {"x": "' + b"y" * 900 + b'"}' + b" " * 3000 + b"}"
    _accepted(_record(spaced))  # whitespace is not payload


def test_a_huge_value_is_refused_unparsed() -> None:
    result = _refused(_record(b"{" + b" " * 10_000_000 + b"}"), intake.PAYLOAD_TOO_LARGE)
    assert "10000002 bytes" in result.reason


@pytest.mark.parametrize("value", [b"\x00\x01garbage", b"", b"{", b"\xc3\x01" + bytes(20), b'{"a": NaN}',
                                   b'{"a": 1, "a": 2}', b"\xef\xbb\xbf{}", b'"\xff"'])  # fmt: skip
def test_garbage_is_not_json(value: bytes) -> None:
    _refused(_record(value), intake.NOT_JSON)


def test_a_tombstone_is_not_json() -> None:
    _refused(_record(None), intake.NOT_JSON)


def test_json_that_is_not_an_object() -> None:
    _refused(_record(b"[1, 2]"), intake.INVALID_FIELD)
    _refused(_structured(data=[1]), intake.INVALID_FIELD)
    _refused(_structured(data="text"), intake.INVALID_FIELD)


@pytest.mark.parametrize("missing", ["type", "id", "source", "specversion"])
def test_structured_cloudevent_without_a_required_attribute(missing: str) -> None:
    result = _refused(_structured(**{missing: _DROP}), intake.MISSING_FIELD)
    assert missing in result.reason


def test_structured_cloudevent_without_data() -> None:
    _refused(_structured(data=_DROP), intake.MISSING_FIELD)


def test_binary_cloudevent_without_type() -> None:
    headers = [("ce_specversion", "1.0"), ("ce_id", "1"), ("ce_source", "/s")]
    assert "ce_type" in _refused(_record(b"{}", headers), intake.MISSING_FIELD).reason


def test_plain_json_without_event_type() -> None:
    assert "eventType" in _refused(_record(b'{"payload": {}}'), intake.MISSING_FIELD).reason


def test_outbox_with_an_empty_event_type() -> None:
    _refused(_record(b"{}", [("eventType", "")]), intake.MISSING_FIELD)


@pytest.mark.parametrize("event", [{"type": "has space"}, {"id": "a/b"}, {"specversion": "0.3"}, {"type": 5},
                                   {"channels": ",".join(f"c{i}" for i in range(11))}, {"subject": "a b"},
                                   {"tags": "t1,t2,t3,t4,t5,t6"}])  # fmt: skip
def test_fields_svix_refuses(event: dict) -> None:
    _refused(_structured(**event), intake.INVALID_FIELD)


def test_plain_json_fields_svix_refuses() -> None:
    _refused(_record(b'{"eventType": "a", "payload": {}, "channels": []}'), intake.INVALID_FIELD)
    _refused(_record(b'{"eventType": "a", "payload": 5}'), intake.INVALID_FIELD)


def test_wrong_content_types() -> None:
    _refused(_structured(datacontenttype="text/plain"), intake.UNSUPPORTED_CONTENT_TYPE)
    headers = [("ce_specversion", "1.0"), ("ce_id", "1"), ("ce_source", "/s"), ("ce_type", "t"),
               ("content-type", "application/xml")]  # fmt: skip
    _refused(_record(b"<a/>", headers), intake.UNSUPPORTED_CONTENT_TYPE)


def test_data_base64_that_is_not_json_or_not_base64() -> None:
    _refused(_structured(data=_DROP, data_base64=base64.b64encode(b"\x00\x01").decode()), intake.NOT_JSON)
    _refused(_structured(data=_DROP, data_base64="!!not base64"), intake.NOT_JSON)


def test_a_header_that_is_not_utf8() -> None:
    headers = [("ce_specversion", "1.0"), ("ce_id", b"\xff"), ("ce_source", "/s"), ("ce_type", "t")]
    _refused(_record(b"{}", headers), intake.INVALID_FIELD)


def test_json_beyond_the_limits_is_not_json() -> None:
    deep = b'{"eventType": "a", "payload": ' + b'{"a":' * 200 + b"1" + b"}" * 200 + b"}"
    _refused(_record(deep), intake.NOT_JSON, IntakeRules(max_payload_bytes=100000))


_NAMES = ["a", "a.b-c_d", "", "a b", "x" * 256, "x" * 257, "abc\n", 5, None, "ü"]
_LISTS = [None, [], ["eu"], ["eu", "eu"], ["a:b+c"], [f"c{i}" for i in range(10)], [f"c{i}" for i in range(11)],
          ["x" * 129], ["a/b"], ["#t", "a\\b"], "eu", [1], ["t1", "t2", "t3", "t4", "t5", "t6"]]  # fmt: skip


@pytest.mark.parametrize("event_type", _NAMES)
@pytest.mark.parametrize("lists", _LISTS)
def test_the_fast_check_never_accepts_what_the_schema_refuses(event_type: object, lists: object) -> None:
    from jsonschema import Draft202012Validator

    from hookstream.domain.message_in import MESSAGE_IN, plainly_valid

    schema = Draft202012Validator(MESSAGE_IN)
    for body in ({"eventType": event_type, "payload": {}, "channels": lists, "tags": lists},
                 {"eventType": "ok", "eventId": event_type, "payload": {}, "channels": lists},
                 {"eventType": "ok", "payload": [], "tags": lists}, {"eventType": event_type}):  # fmt: skip
        if plainly_valid(body):
            assert schema.is_valid(body), body


def test_the_fast_check_takes_the_common_shapes() -> None:
    from hookstream.domain.message_in import plainly_valid

    assert plainly_valid({"eventType": "a.b", "eventId": "e-1", "payload": {"x": 1}, "channels": ["eu"], "tags": []})
    assert plainly_valid({"eventType": "a", "payload": {}, "channels": None, "tags": None})
