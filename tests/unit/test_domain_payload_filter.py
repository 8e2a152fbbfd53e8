"""Outpost-style payload filters: evaluation table, $not inversion, validation with JSON paths."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hookstream.domain.payload_filter import (
    MAX_FILTER_DEPTH,
    InvalidFilter,
    filter_matches,
    validate_filter,
)

ORDER = {
    "id": "evt_1",
    "topic": "order.paid",
    "time": "2025-01-15T10:00:00Z",
    "metadata": {"source": "api", "region": "eu"},
    "data": {
        "status": "paid",
        "currency": "usd",
        "amount": 250,
        "ratio": 0.5,
        "vip": True,
        "coupon": None,
        "email": "ana@example.com",
        "tags": ["urgent", "support"],
        "customer": {"tier": "premium", "address": {"country": "PT", "zip": "1000-001"}},
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 11}],
        "matrix": [[1, 2], [3, 4]],
    },
}


def data(condition: Any) -> dict[str, Any]:
    return {"data": condition}


# (filter, event, expected). Each is also run wrapped in {"$not": filter}, which must invert it.
CASES: list[tuple[Any, Any, bool]] = [
    # exact match, implicit AND, nesting (Outpost docs "Exact Match")
    (data({"status": "paid"}), ORDER, True),
    (data({"status": "refunded"}), ORDER, False),
    (data({"status": "paid", "currency": "usd"}), ORDER, True),
    (data({"status": "paid", "currency": "eur"}), ORDER, False),
    (data({"customer": {"tier": "premium"}}), ORDER, True),
    (data({"customer": {"address": {"country": "PT"}}}), ORDER, True),
    (data({"customer": {"address": {"country": "ES"}}}), ORDER, False),
    (data({"customer": {"tier": "premium", "nope": 1}}), ORDER, False),
    ({"topic": "order.paid"}, ORDER, True),
    ({"metadata": {"source": "api"}}, ORDER, True),
    ({"metadata": {"source": "cli"}}, ORDER, False),
    ({"id": "evt_1", "topic": "order.paid"}, ORDER, True),
    ({"data": {}}, ORDER, True),  # an empty object schema asks only for an object
    ({"data": {"customer": {}}}, ORDER, True),
    ({"data": {"status": {}}}, ORDER, False),
    ({"data": {"missing": {}}}, ORDER, False),
    # types do not coerce; numbers compare by value
    (data({"amount": 250}), ORDER, True),
    (data({"amount": 250.0}), ORDER, True),
    (data({"amount": "250"}), ORDER, False),
    (data({"vip": True}), ORDER, True),
    (data({"vip": 1}), ORDER, False),
    (data({"ratio": 0.5}), ORDER, True),
    (data({"coupon": None}), ORDER, True),
    (data({"coupon": False}), ORDER, False),
    (data({"vip": None}), ORDER, False),
    (data({"customer": "premium"}), ORDER, False),  # literal against an object
    (data({"status": {"tier": "x"}}), ORDER, False),  # fields against a string
    # arrays: literal -> contains; array -> contains all; object -> some element matches all fields
    (data({"tags": "urgent"}), ORDER, True),
    (data({"tags": "billing"}), ORDER, False),
    (data({"tags": ["urgent", "support"]}), ORDER, True),
    (data({"tags": ["support"]}), ORDER, True),
    (data({"tags": ["urgent", "billing"]}), ORDER, False),
    (data({"tags": []}), ORDER, True),
    (data({"status": ["paid"]}), ORDER, False),  # array schema needs an array
    (data({"items": {"sku": "B-7"}}), ORDER, True),
    (data({"items": {"sku": "C-9"}}), ORDER, False),
    (data({"items": {"sku": "A-1", "qty": 2}}), ORDER, True),
    (data({"items": {"sku": "A-1", "qty": 11}}), ORDER, False),  # both fields on one element
    (data({"items": {"qty": {"$gte": 10}}}), ORDER, True),
    (data({"items": {"qty": {"$gt": 20}}}), ORDER, False),
    (data({"items": [{"sku": "A-1"}, {"qty": 11}]}), ORDER, True),
    (data({"items": [{"sku": "A-1"}, {"qty": 12}]}), ORDER, False),
    (data({"matrix": 3}), ORDER, True),  # nested arrays flatten for a literal
    (data({"matrix": [[3, 4]]}), ORDER, True),
    (data({"matrix": [[3, 5]]}), ORDER, False),
    (data({"tags": {"$eq": ["urgent", "support"]}}), ORDER, True),
    (data({"tags": {"$eq": ["support", "urgent"]}}), ORDER, False),  # $eq on arrays is exact
    (data({"tags": {"$eq": "urgent"}}), ORDER, False),  # operators test the array itself
    ([1, 2, 3], [1, 2, 3], True),
    (3, [1, 2, 3], True),
    (4, [1, 2, 3], False),
    ([{"$eq": 3}], [1, 2, 3], True),
    ([{"$gt": 3}], [1, 2, 3], False),
    ({"$eq": 3}, [1, 2, 3], False),
    # $eq / $neq
    (data({"amount": {"$eq": 250}}), ORDER, True),
    (data({"amount": {"$eq": 251}}), ORDER, False),
    (data({"amount": {"$neq": 251}}), ORDER, True),
    (data({"amount": {"$neq": 250}}), ORDER, False),
    (data({"coupon": {"$eq": None}}), ORDER, True),
    (data({"coupon": {"$neq": None}}), ORDER, False),
    (data({"vip": {"$neq": 1}}), ORDER, True),
    (data({"customer": {"$eq": {"tier": "premium"}}}), ORDER, False),  # deep, whole-object
    (
        data({"customer": {"$eq": {"address": {"zip": "1000-001", "country": "PT"}, "tier": "premium"}}}),
        ORDER,
        True,
    ),
    # $gt $gte $lt $lte: numbers with numbers, strings with strings
    (data({"amount": {"$gt": 100}}), ORDER, True),
    (data({"amount": {"$gt": 250}}), ORDER, False),
    (data({"amount": {"$gte": 250}}), ORDER, True),
    (data({"amount": {"$lt": 250}}), ORDER, False),
    (data({"amount": {"$lte": 250}}), ORDER, True),
    (data({"amount": {"$gte": 100, "$lt": 500}}), ORDER, True),
    (data({"amount": {"$gte": 100, "$lt": 200}}), ORDER, False),
    (data({"ratio": {"$lt": 1}}), ORDER, True),
    (data({"amount": {"$gt": "100"}}), ORDER, False),  # no coercion
    (data({"status": {"$gt": 1}}), ORDER, False),
    (data({"vip": {"$gt": 0}}), ORDER, False),  # booleans are not numbers
    (data({"status": {"$gt": "ok"}}), ORDER, True),
    (data({"status": {"$lt": "ok"}}), ORDER, False),
    (data({"tags": {"$gt": 1}}), ORDER, False),
    ({"time": {"$gte": "2025-01-01T00:00:00Z", "$lt": "2025-02-01T00:00:00Z"}}, ORDER, True),
    ({"time": {"$gte": "2025-02-01T00:00:00Z"}}, ORDER, False),
    # $in / $nin: array membership, substring, array contains
    (data({"status": {"$in": ["pending", "paid"]}}), ORDER, True),
    (data({"status": {"$in": ["pending", "shipped"]}}), ORDER, False),
    (data({"amount": {"$in": [100, 250]}}), ORDER, True),
    (data({"amount": {"$in": [100, "250"]}}), ORDER, False),
    (data({"coupon": {"$in": [None]}}), ORDER, True),
    (data({"email": {"$in": "@example."}}), ORDER, True),
    (data({"email": {"$in": "@other."}}), ORDER, False),
    (data({"tags": {"$in": "urgent"}}), ORDER, True),
    (data({"tags": {"$in": "urg"}}), ORDER, False),  # array contains, not substring of an element
    (data({"tags": {"$in": ["urgent"]}}), ORDER, False),  # array vs array: does not apply
    (data({"amount": {"$in": 250}}), ORDER, False),  # scalar vs scalar: does not apply
    (data({"status": {"$nin": ["cancelled", "refunded"]}}), ORDER, True),
    (data({"status": {"$nin": ["paid"]}}), ORDER, False),
    (data({"email": {"$nin": "@other."}}), ORDER, True),
    (data({"tags": {"$nin": "urgent"}}), ORDER, False),
    (data({"tags": {"$nin": "billing"}}), ORDER, True),
    (data({"tags": {"$nin": ["billing"]}}), ORDER, False),  # where $in does not apply, $nin fails too
    (data({"customer": {"$nin": ["x"]}}), ORDER, False),
    # $startsWith / $endsWith
    (data({"email": {"$startsWith": "ana@"}}), ORDER, True),
    (data({"email": {"$startsWith": "bob@"}}), ORDER, False),
    (data({"email": {"$endsWith": "@example.com"}}), ORDER, True),
    (data({"email": {"$endsWith": "@example.org"}}), ORDER, False),
    (data({"email": {"$startsWith": ["bob@", "ana@"]}}), ORDER, True),
    (data({"email": {"$endsWith": [".org", ".net"]}}), ORDER, False),
    (data({"email": {"$startsWith": ""}}), ORDER, True),
    (data({"amount": {"$startsWith": "2"}}), ORDER, False),
    (data({"tags": {"$startsWith": "urg"}}), ORDER, False),
    (data({"customer": {"$endsWith": "x"}}), ORDER, False),
    # $exist
    (data({"status": {"$exist": True}}), ORDER, True),
    (data({"status": {"$exist": False}}), ORDER, False),
    (data({"deleted_at": {"$exist": False}}), ORDER, True),
    (data({"deleted_at": {"$exist": True}}), ORDER, False),
    (data({"coupon": {"$exist": True}}), ORDER, True),  # null is present
    (data({"customer": {"address": {"street": {"$exist": False}}}}), ORDER, True),
    (data({"customer": {"address": {"zip": {"$exist": True, "$startsWith": "1000"}}}}), ORDER, True),
    (data({"items": {"discount": {"$exist": True}}}), ORDER, False),
    # missing fields fail every test except $exist: false and negation
    (data({"deleted_at": None}), ORDER, False),
    (data({"deleted_at": {"$eq": None}}), ORDER, False),
    (data({"deleted_at": {"$neq": 1}}), ORDER, False),
    (data({"deleted_at": {"$nin": [1]}}), ORDER, False),
    (data({"deleted_at": {"$lt": 1}}), ORDER, False),
    (data({"deleted_at": {"$not": {"$eq": 1}}}), ORDER, True),
    (data({"deleted_at": {"x": {"$exist": False}}}), ORDER, False),  # the parent must exist
    # $or / $and / $not, at the top and at any depth
    ({"$or": [data({"status": "paid"}), data({"status": "shipped"})]}, ORDER, True),
    ({"$or": [data({"status": "refunded"}), data({"status": "shipped"})]}, ORDER, False),
    ({"$and": [data({"status": "paid"}), data({"amount": {"$gte": 100}})]}, ORDER, True),
    ({"$and": [data({"status": "paid"}), data({"amount": {"$gte": 1000}})]}, ORDER, False),
    (data({"status": {"$or": ["paid", "shipped"]}}), ORDER, True),
    (data({"status": {"$or": ["refunded", {"$startsWith": "pa"}]}}), ORDER, True),
    (data({"status": {"$and": [{"$startsWith": "p"}, {"$endsWith": "d"}]}}), ORDER, True),
    (data({"status": {"$and": [{"$startsWith": "p"}, {"$endsWith": "x"}]}}), ORDER, False),
    (data({"status": {"$not": {"$in": ["cancelled", "refunded"]}}}), ORDER, True),  # Outpost docs example
    (data({"status": {"$not": {"$in": ["paid", "refunded"]}}}), ORDER, False),
    (data({"status": {"$not": "paid"}}), ORDER, False),
    (data({"customer": {"$or": [{"tier": "basic"}, {"address": {"country": "PT"}}]}}), ORDER, True),
    (data({"customer": {"tier": "premium", "$and": [{"address": {"country": "PT"}}]}}), ORDER, True),
    (data({"customer": {"tier": "premium", "$and": [{"address": {"country": "ES"}}]}}), ORDER, False),
    (data({"status": {"$exist": True, "$or": ["paid", "shipped"]}}), ORDER, True),
    (data({"status": {"$exist": True, "$or": ["new", "shipped"]}}), ORDER, False),
    ({"$not": data({"status": "refunded"}), "topic": "order.paid"}, ORDER, True),
    ({"$not": data({"status": "paid"}), "topic": "order.paid"}, ORDER, False),
    ({"$not": {"$not": data({"status": "paid"})}}, ORDER, True),
    ({"$or": [1, 2]}, 1, True),
    ({"$or": [2, 3]}, 1, False),
    ({"$and": [1, 2]}, 1, False),
    # bare values at the top (the matcher is general; filters are objects)
    ("created", "created", True),
    ("created", "updated", False),
    ({"$gte": 5}, 10, True),
    ({"test": True}, True, False),
    # unknown operators never match (validate_filter refuses them before they get here)
    (data({"amount": {"$gtt": 1}}), ORDER, False),
    (data({"$where": "1"}), ORDER, False),
]


def case_id(case: tuple[Any, Any, bool]) -> str:
    doc, event, _ = case
    return json.dumps(doc, separators=(",", ":"))[:80] + ("" if event is ORDER else f" ~ {json.dumps(event)}")


@pytest.mark.parametrize(("doc", "event", "expected"), CASES, ids=[case_id(case) for case in CASES])
def test_filter(doc: Any, event: Any, expected: bool) -> None:
    assert filter_matches(doc, event) is expected


@pytest.mark.parametrize(("doc", "event", "expected"), CASES, ids=[case_id(case) for case in CASES])
def test_not_inverts_every_case(doc: Any, event: Any, expected: bool) -> None:
    assert filter_matches({"$not": doc}, event) is (not expected)


@pytest.mark.parametrize("doc", [None, {}])
def test_no_filter_passes_everything(doc: dict[str, Any] | None) -> None:
    assert filter_matches(doc, ORDER)
    assert filter_matches(doc, {})


VALID = [doc for doc, _, _ in CASES if isinstance(doc, dict) and "$gtt" not in json.dumps(doc)]
VALID = [doc for doc in VALID if "$where" not in json.dumps(doc) and doc]


@pytest.mark.parametrize("doc", VALID, ids=[json.dumps(doc)[:80] for doc in VALID])
def test_table_filters_are_valid(doc: dict[str, Any]) -> None:
    validate_filter(doc)


def test_validate_accepts_the_empty_filter_and_odd_field_names() -> None:
    validate_filter({})
    validate_filter({"data": {"weird key": 1, "": 2, "dotted.key": {"$exist": True}, "ünï": None}})
    validate_filter({"data": {"x": {"$eq": {"$gt": 1}}}})  # inside $eq an object is data, not a filter


INVALID: list[tuple[Any, str, str]] = [
    # (filter, path, words in the problem)
    ([], "$", "a filter is a JSON object, got an array"),
    ("paid", "$", "got a string"),
    (None, "$", "got null"),
    ({"data": {"amount": {"$gtt": 1}}}, "$.data.amount.$gtt", "unknown operator '$gtt'"),
    ({"$where": "x"}, "$.$where", "unknown operator"),
    ({"data": {"amount": {"$ref": "x"}}}, "$.data.amount.$ref", "unknown operator"),
    ({"data": {"amount": {"$gt": True}}}, "$.data.amount.$gt", "number or a string, got a boolean"),
    ({"data": {"amount": {"$gt": None}}}, "$.data.amount.$gt", "got null"),
    ({"data": {"amount": {"$lte": [1]}}}, "$.data.amount.$lte", "got an array"),
    ({"data": {"amount": {"$lt": {"x": 1}}}}, "$.data.amount.$lt", "got an object"),
    ({"data": {"amount": {"$gte": float("nan")}}}, "$.data.amount.$gte", "number or a string"),
    ({"data": {"s": {"$in": [1, {"a": 1}]}}}, "$.data.s.$in[1]", "string, number, boolean or null"),
    ({"data": {"s": {"$in": [[1]]}}}, "$.data.s.$in[0]", "or an array of them"),
    ({"data": {"s": {"$nin": {"a": 1}}}}, "$.data.s.$nin", "$nin takes"),
    ({"data": {"s": {"$startsWith": 1}}}, "$.data.s.$startsWith", "string or a non-empty array of strings"),
    ({"data": {"s": {"$endsWith": []}}}, "$.data.s.$endsWith", "non-empty array"),
    ({"data": {"s": {"$endsWith": ["a", 2]}}}, "$.data.s.$endsWith", "non-empty array of strings"),
    ({"data": {"s": {"$exist": "yes"}}}, "$.data.s.$exist", "$exist takes true or false, got a string"),
    ({"data": {"s": {"$exist": 1}}}, "$.data.s.$exist", "got a number"),
    ({"$or": []}, "$.$or", "$or takes a non-empty array of filters"),
    ({"$or": {"data": {}}}, "$.$or", "got an object"),
    ({"$and": "x"}, "$.$and", "$and takes a non-empty array"),
    ({"$or": [{"data": {"a": 1}}, {"data": {"b": {"$bad": 1}}}]}, "$.$or[1].data.b.$bad", "unknown operator"),
    ({"$not": {"data": {"a": {"$exist": 2}}}}, "$.$not.data.a.$exist", "true or false"),
    ({"data": {"a": {"$gt": 1, "b": 2}}}, "$.data.a", "mixes operators ($gt) with field names (b)"),
    ({"data": {"a": {"$eq": 1, "$in": [1], "b": 2, "c": 3}}}, "$.data.a", "($eq, $in) with field names (b, c)"),
    ({"data": {"tags": [1, {"$bad": 1}]}}, "$.data.tags[1].$bad", "unknown operator"),
    ({"data": {"weird key": {"$bad": 1}}}, '$.data["weird key"].$bad', "unknown operator"),
    ({"data": {1: "x"}}, "$.data", "keys must be strings, got a number"),
    ({"data": {"a": float("inf")}}, "$.data.a", "not a JSON number"),
    ({"data": {"a": {1, 2}}}, "$.data.a", "not a JSON value: a set"),
    ({"data": {"a": b"bytes"}}, "$.data.a", "not a JSON value: a bytes"),
    ({"data": {"a": {"$eq": {"b": object()}}}}, "$.data.a.$eq.b", "not a JSON value: a object"),
    ({"data": {"a": {"$eq": {2: 1}}}}, "$.data.a.$eq", "keys must be strings"),
]


@pytest.mark.parametrize(("doc", "path", "problem"), INVALID, ids=[case[1] for case in INVALID])
def test_validate_names_the_path_and_the_problem(doc: Any, path: str, problem: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        validate_filter(doc)
    assert caught.value.path == path
    assert problem in caught.value.problem
    assert str(caught.value) == f"{path}: {caught.value.problem}"


def nested(depth: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        doc = {"a": doc}
    return doc


def test_validate_limits_depth() -> None:
    validate_filter(nested(MAX_FILTER_DEPTH - 1))
    with pytest.raises(InvalidFilter, match="nested deeper than"):
        validate_filter(nested(MAX_FILTER_DEPTH + 5))
    with pytest.raises(InvalidFilter, match="nested deeper than"):
        validate_filter({"$not": nested(MAX_FILTER_DEPTH + 5)})


def test_evaluation_never_raises_on_garbage() -> None:
    garbage = [
        {"data": {"a": {"$in": {"x": 1}}}},
        {"data": {"a": {"$startsWith": [1, 2]}}},
        {"data": {"a": {"$exist": "yes"}}},
        {"$or": "nope"},
        {"$and": 5},
        {"data": {"a": {"$gt": float("nan")}}},
        {1: 2},
    ]
    event = {"data": {"a": "abc"}}
    for doc in garbage:
        assert filter_matches(doc, event) is False


def test_deep_data_does_not_crash() -> None:
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    assert filter_matches({"data": {"v": "x"}}, {"data": {"v": deep}}) is False


def test_nan_in_data_compares_as_nothing() -> None:
    event = {"data": {"v": float("nan")}}
    for op in ("$gt", "$gte", "$lt", "$lte"):
        assert filter_matches({"data": {"v": {op: 1}}}, event) is False


def test_invalid_filter_is_a_value_error() -> None:
    assert issubclass(InvalidFilter, ValueError)
