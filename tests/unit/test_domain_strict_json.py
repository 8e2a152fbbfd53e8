"""The strict JSON reader: every body is either refused naming the rule and the path, or read exactly as sent."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from hookstream.domain import strict_json
from hookstream.domain.strict_json import (
    MAX_INT_DIGITS,
    MAX_SAFE_DEPTH,
    JsonLimits,
    JsonPath,
    JsonRefused,
    format_path,
    read_json,
)

LIMITS = JsonLimits(max_depth=8, max_object_keys=5, max_array_items=6)


def _refused(raw: bytes, limits: JsonLimits = LIMITS) -> JsonRefused:
    with pytest.raises(JsonRefused) as caught:
        read_json(raw, limits)
    return caught.value


def _nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b'{"a":1,"b":[true,false,null],"c":{"d":"e"}}',
        b"[]",
        b"{}",
        b'"text"',
        b"0",
        b"-0.5e-3",
        b' \t\r\n{"spaced" : [ 1 , 2 ] }\n',
        b'{"emoji":"\\ud83d\\ude00","raw":"\xf0\x9f\x98\x80","nul":"\\u0000"}',
        b'{"escaped backslash then u":"\\\\ud800"}',
        b'{"":1,"a":{"":2}}',
    ],
)
def test_plain_json_is_read_as_json_reads_it(raw: bytes) -> None:
    assert read_json(raw, LIMITS) == json.loads(raw)


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused_where_they_are(constant: str) -> None:
    refused = _refused(f'{{"x":[1,{{"y":{constant}}}]}}'.encode())
    assert refused.path == ("x", 1, "y")
    assert constant in refused.reason and "RFC 8259" in refused.reason


@pytest.mark.parametrize("number", ["1e400", "-1e400", "1E+309", "1" * 400 + ".5", "123.456e99999"])
def test_a_fraction_that_overflows_a_double_is_refused(number: str) -> None:
    refused = _refused(f'{{"big":{number}}}'.encode())
    assert refused.path == ("big",) and "does not fit a double" in refused.reason


def test_doubles_at_the_edge_are_kept() -> None:
    got = read_json(b'{"max":1.7976931348623157e308,"min":5e-324,"under":1e-400}', LIMITS)
    assert got == {"max": sys.float_info.max, "min": 5e-324, "under": 0.0}


@pytest.mark.parametrize("digits", [19, 20, 21, 40, MAX_INT_DIGITS])
def test_integers_are_kept_exactly_however_large(digits: int) -> None:
    text = "9" * digits
    got = read_json(f'{{"n":{text},"m":-{text}}}'.encode(), LIMITS)
    assert got == {"n": int(text), "m": -int(text)}
    assert json.dumps(got, separators=(",", ":")) == f'{{"n":{text},"m":-{text}}}', "written back digit for digit"


def test_an_integer_beyond_the_digit_limit_is_refused_with_its_path() -> None:
    decoy = "7" * (MAX_INT_DIGITS + 10)  # as a string it is fine
    refused = _refused(f'{{"s":"{decoy}","k":[1,{{"x":{"9" * (MAX_INT_DIGITS + 1)}}}]}}'.encode())
    assert refused.path == ("k", 1, "x") and f"more than {MAX_INT_DIGITS} digits" in refused.reason


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b'"\\ud800"', ()),
        (b'{"a":"x\\udfffy"}', ("a",)),
        (b'{"a":["ok","\\ud83d"]}', ("a", 1)),
        (b'{"a":"\\ude00\\ud83d"}', ("a",)),  # a pair in the wrong order is two lone halves
        (b'{"o":{"\\udc00":1}}', ("o",)),
    ],
)
def test_lone_surrogates_are_refused(raw: bytes, path: JsonPath) -> None:
    refused = _refused(raw)
    assert refused.path == path and "lone UTF-16 surrogate" in refused.reason


@pytest.mark.parametrize(
    "raw", [b"\xff", b'{"a":"\xc3"}', b'"\xed\xa0\x80"', b'"\xc0\xaf"', b'{"a":"\xf4\x90\x80\x80"}', b'"caf\xe9"']
)
def test_invalid_utf8_is_refused(raw: bytes) -> None:
    refused = _refused(raw)
    assert refused.path == () and "not valid UTF-8" in refused.reason


@pytest.mark.parametrize(
    ("raw", "path"),
    [(b'{"a":1,"a":2}', ("a",)), (b'{"o":{"k":1,"j":2,"k":1}}', ("o", "k")), (b'[0,{"d":{},"d":{}}]', (1, "d"))],
)
def test_duplicate_keys_are_refused(raw: bytes, path: JsonPath) -> None:
    refused = _refused(raw)
    assert refused.path == path and "more than once" in refused.reason


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"\xef\xbb\xbf{}", "byte order mark"),
        (b"{} x", "Extra data"),
        (b"{}{}", "Extra data"),
        (b"[1]]", "Extra data"),
        (b"", "is empty"),
        (b" \r\n\t", "is empty"),
        (b"{", "not valid JSON"),
        (b"{'a':1}", "not valid JSON"),
        (b'{"a":1,}', "not valid JSON"),
        (b'"tab\tinside"', "not valid JSON"),
        (b"\x0c{}", "not valid JSON"),  # form feed is not JSON whitespace
        (b"undefined", "not valid JSON"),
        (b'"\\x41"', "not valid JSON"),
    ],
)
def test_malformed_text_is_refused_as_a_whole(raw: bytes, words: str) -> None:
    refused = _refused(raw)
    assert refused.path == () and words in refused.reason


def test_depth_at_the_limit_is_read_and_one_more_is_refused() -> None:
    assert read_json(_nested(LIMITS.max_depth), LIMITS) == json.loads(_nested(LIMITS.max_depth))
    refused = _refused(_nested(LIMITS.max_depth + 1))
    assert refused.path == (0,) * LIMITS.max_depth and f"deeper than {LIMITS.max_depth}" in refused.reason


@pytest.mark.parametrize("depth", [3000, 5000, 200_000])
def test_deep_nesting_never_reaches_the_recursive_decoder(depth: int) -> None:
    for raw in (_nested(depth), b"[" * depth, b'{"a":' * depth + b"1" + b"}" * depth):
        refused = _refused(raw, JsonLimits(128, 10, 10))
        assert len(refused.path) == 128 and "deeper than 128" in refused.reason


def test_the_depth_path_names_keys_and_indexes_and_skips_brackets_in_strings() -> None:
    raw = b'{"a\\"[[[":[1,{"b":[[["x]]]"' + b"[" * 10
    refused = _refused(raw)
    assert refused.path == ('a"[[[', 1, "b", 0, 0, 0, 0, 0)
    assert read_json(b'{"s":"' + b"[" * 100 + b'"}', LIMITS) == {"s": "[" * 100}


def test_objects_and_arrays_are_bounded_with_their_path() -> None:
    many_keys = "{" + ",".join(f'"k{n}":{n}' for n in range(LIMITS.max_object_keys + 1)) + "}"
    assert _refused(f'{{"o":[{many_keys}]}}'.encode()).path == ("o", 0)
    assert "at most 5" in _refused(many_keys.encode()).reason
    long_array = "[" + ",".join("0" * 1 for _ in range(LIMITS.max_array_items + 1)) + "]"
    refused = _refused(f'{{"a":[[{long_array}]]}}'.encode())
    assert refused.path == ("a", 0, 0) and "7 items" in refused.reason and "at most 6" in refused.reason
    at_limits = {f"k{n}": list(range(LIMITS.max_array_items)) for n in range(LIMITS.max_object_keys)}
    assert read_json(json.dumps(at_limits).encode(), LIMITS) == at_limits


def test_a_refusal_names_its_path_readably() -> None:
    assert format_path(("a", 0, "b")) == "$.a[0].b"
    assert str(_refused(b'{"a":[NaN]}')).startswith("$.a[0]: ")


def test_limits_are_checked_when_made() -> None:
    with pytest.raises(ValueError, match="max_depth"):
        JsonLimits(MAX_SAFE_DEPTH + 1, 1, 1)
    with pytest.raises(ValueError):
        JsonLimits(10, 0, 1)
    assert read_json(_nested(MAX_SAFE_DEPTH), JsonLimits(MAX_SAFE_DEPTH, 1, 1)) is not None


def test_what_is_read_is_what_is_written_back() -> None:
    value: Any = {"u": "é\u2028😀", "n": [0, -1, 2**70, 1.5, 1e308, -0.0, True, None], "o": {"": ""}}
    raw = json.dumps(value, ensure_ascii=False).encode()
    assert read_json(raw, JsonLimits(8, 10, 10)) == value
    assert read_json(json.dumps(value).encode(), JsonLimits(8, 10, 10)) == value


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        (b'{"t":"12:00:00","t":1}', ("t",)),  # colons inside strings
        (b'{"a" :1,"a":2}', ("a",)),  # white space before a key's colon
        (b'{"a":1,\n  "a"\t: 2}', ("a",)),
        (b'{"a":":","a":"\\":"}', ("a",)),  # a string opening on a colon, an escaped quote before one
        (b'{"a":"\\u003a","b":{"a":1,"a":1}}', ("b", "a")),  # an escaped colon the text does not show
        (b'{"x":[{"k":1},{"k":1,"k":1}]}', ("x", 1, "k")),
    ],
)
def test_duplicate_keys_are_refused_whatever_colons_the_strings_hold(raw: bytes, path: JsonPath) -> None:
    refused = _refused(raw, JsonLimits(8, 50, 50))
    assert refused.path == path and "more than once" in refused.reason


@pytest.mark.parametrize(
    "raw",
    [
        b'{"time":"2026-12-03T12:00:00Z","source":"https://a.example/x","n":1.5}',
        b'{"a" : 1, "b" :{"c":":"}}',
        b'{"q":"\\":","r":"\\u003a"}',
        b'{"a":{},"b":[],"c":[{}],"d":{"e":{"f":[1,{"g":null}]}}}',
        b"[1.7976931348623157e308,-0.0,5e-324,1e-400,12345678901234567890123]",
    ],
)
def test_bodies_breaking_no_rule_read_as_the_careful_reader_reads_them(raw: bytes) -> None:
    limits = JsonLimits(8, 50, 50)
    value = read_json(raw, limits)
    assert value == strict_json._read_carefully(raw.decode(), limits) == json.loads(raw)
    assert json.dumps(value) == json.dumps(json.loads(raw)), "numbers and key order unchanged"


def test_every_small_body_gets_the_careful_readers_answer() -> None:
    """Bodies assembled from pieces that each trouble the fast reader (repeated keys, colons and quotes in
    strings, spaced colons, escapes, constants, big numbers): the value or the refusal is the careful one."""
    keys = ['"a"', '"a"', '"b:"', '":"', '"\\u0061"', '"\\""']
    values = ['":"', '"\\":"', "1e400", "NaN", "1.5", "[]", "{}", '"\\ud800"', "[1,2,3]", '{"a":1,"a":2}', "7"]
    seps = [":", " :", ": ", "\n:"]
    limits = JsonLimits(4, 3, 2)
    seen = 0
    for i, (k1, k2) in enumerate((k1, k2) for k1 in keys for k2 in keys):
        for j, v in enumerate(values):
            raw = f"{{{k1}{seps[i % 4]}{values[(i + j) % len(values)]},{k2}{seps[j % 4]}{v}}}".encode()
            try:
                expected: Any = strict_json._read_carefully(raw.decode(), limits)
            except JsonRefused as careful:
                assert str(_refused(raw, limits)) == str(careful), raw
            else:
                assert read_json(raw, limits) == expected, raw
            seen += 1
    assert seen == len(keys) ** 2 * len(values)
