"""Responses encoded by orjson say what json.dumps said, and what orjson refuses still goes out."""

from __future__ import annotations

import json

from hookstream.api.json_out import dumps, json_response


def test_the_same_values_as_the_standard_encoder() -> None:
    value = {"id": "msg_1", "payload": {"a": [1, 2.5, None, True], "é": "ü\u2028"}, "tags": None, "n": -3}
    assert json.loads(dumps(value)) == json.loads(json.dumps(value))


def test_an_integer_beyond_64_bits_falls_back_to_the_standard_encoder() -> None:
    value = {"payload": {"big": 2**70}}
    assert json.loads(dumps(value)) == value


def test_integer_keys_are_written_as_strings_as_json_dumps_does() -> None:
    assert json.loads(dumps({1: "a"})) == {"1": "a"}


def test_the_response_is_json_response_s_status_and_content_type() -> None:
    response = json_response({"ok": True}, status=202, headers={"X-Thing": "1"})
    assert response.status == 202
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Thing"] == "1"
    assert json.loads(response.body) == {"ok": True}
