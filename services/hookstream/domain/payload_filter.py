"""Payload filters: Hookdeck Outpost's destination ``filter`` language, pure.

A filter is a JSON document matched against an event shaped like Outpost's,
``{"id", "topic", "time", "metadata", "data"}``. Semantics follow Outpost's
``internal/simplejsonmatch`` (its Go port of hookdeck/simple-json-match), with
its rough edges made regular:

- a literal matches an equal value (numbers by value, ``1 == 1.0``; no type
  coercion between strings, numbers, booleans), or an array containing it;
- an object of field names matches an object whose fields match, recursively
  (a subset match), or an array with one element that matches all of them;
- an array matches an array containing, for each of its items, an element
  that matches that item;
- ``$eq $neq`` deep (in)equality; ``$gt $gte $lt $lte`` on two numbers or two
  strings, else no match; ``$in`` membership in an array, a substring of a
  string, or an array containing the value; ``$nin`` its negation (still no
  match where ``$in`` does not apply); ``$startsWith $endsWith`` a string or
  any of an array of strings; ``$exist`` presence of the field;
- ``$or`` ``$and`` take arrays of filters for the same value; ``$not`` negates
  a filter, at any level (Outpost's port only honours it at the top level);
- a missing field fails every condition except ``$exist: false`` and negations:
  ``{"$neq": 1}`` needs the field, ``{"$not": {"$eq": 1}}`` does not.

Evaluation never raises: anything :func:`validate_filter` would refuse simply
does not match, so a bad record on the config topic cannot stall the router.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

MAX_FILTER_DEPTH = 32
"""Nesting deeper than this is refused, so a tenant's filter cannot exhaust the stack."""

COMPARISON_OPERATORS = frozenset(
    {"$eq", "$neq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$startsWith", "$endsWith", "$exist"}
)
LOGICAL_OPERATORS = frozenset({"$or", "$and", "$not"})

_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class _Missing:
    """The value of a field that is absent, which is not the same as ``null``."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


class InvalidFilter(ValueError):
    """A payload filter we refuse to store; ``path`` is a JSONPath to the problem."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def filter_matches(doc: Mapping[str, Any] | None, event: Any) -> bool:
    """Whether ``event`` passes the filter; no filter (None or ``{}``) passes everything."""
    if not doc:
        return True
    try:
        return _match(event, doc)
    except RecursionError:  # data nested past Python's stack: treat as no match, never crash routing
        return False


# --- evaluation -------------------------------------------------------------


def _match(value: Any, schema: Any) -> bool:
    if isinstance(schema, Mapping):
        return _match_object_schema(value, schema)
    if _is_array(schema):
        return _is_array(value) and all(any(_match(item, sub) for item in value) for sub in schema)
    return _match_literal(value, schema)


def _match_literal(value: Any, literal: Any) -> bool:
    if _is_array(value):
        return any(_match_literal(item, literal) for item in value)
    return _is_primitive(value) and _json_equal(value, literal)


def _match_object_schema(value: Any, schema: Mapping[str, Any]) -> bool:
    fields: dict[str, Any] = {}
    for key, arg in schema.items():
        if key == "$not":
            ok = not _match(value, arg)
        elif key == "$or":
            ok = _is_array(arg) and any(_match(value, sub) for sub in arg)
        elif key == "$and":
            ok = _is_array(arg) and all(_match(value, sub) for sub in arg)
        elif key in COMPARISON_OPERATORS:
            ok = _compare(key, value, arg)
        elif not isinstance(key, str) or key.startswith("$"):
            ok = False  # unknown operator: refuse rather than guess
        else:
            fields[key] = arg
            continue
        if not ok:
            return False
    if fields or not schema:
        return _match_fields(value, fields)
    return True


def _match_fields(value: Any, fields: Mapping[str, Any]) -> bool:
    if isinstance(value, Mapping):
        return all(_match(value.get(key, _MISSING), sub) for key, sub in fields.items())
    if _is_array(value):
        return any(_match_fields(item, fields) for item in value)
    return False


def _compare(op: str, value: Any, arg: Any) -> bool:
    if op == "$exist":
        return isinstance(arg, bool) and (value is not _MISSING) is arg
    if value is _MISSING:
        return False
    if op == "$eq":
        return _json_equal(value, arg)
    if op == "$neq":
        return not _json_equal(value, arg)
    if op in ("$in", "$nin"):
        found = _contains(value, arg)
        return found is not None and found is (op == "$in")
    if op in ("$startsWith", "$endsWith"):
        affixes = [arg] if isinstance(arg, str) else arg
        if not isinstance(value, str) or not _is_array(affixes) or not all(isinstance(a, str) for a in affixes):
            return False
        test = value.startswith if op == "$startsWith" else value.endswith
        return any(test(affix) for affix in affixes)
    order = _order(value, arg)
    if order is None:
        return False
    return {"$gt": order > 0, "$gte": order >= 0, "$lt": order < 0, "$lte": order <= 0}[op]


def _contains(value: Any, arg: Any) -> bool | None:
    """``$in``: True or False where it applies, None where it does not (then ``$nin`` fails too)."""
    if _is_array(arg):
        if _is_primitive(value):
            return any(_json_equal(value, item) for item in arg)
        return None
    if isinstance(value, str):
        return arg in value if isinstance(arg, str) else None
    if _is_array(value):
        return any(_json_equal(item, arg) for item in value)
    return None


def _order(a: Any, b: Any) -> int | None:
    if isinstance(a, str) and isinstance(b, str):
        return (a > b) - (a < b)
    if _is_number(a) and _is_number(b) and not (_is_nan(a) or _is_nan(b)):
        return (a > b) - (a < b)
    return None


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is None and b is None
    if _is_array(a) and _is_array(b):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_json_equal(a[key], b[key]) for key in a)
    return False


# --- validation -------------------------------------------------------------


def validate_filter(doc: Any) -> None:
    """Refuse a filter that could never mean what its author intended, saying where.

    Stricter than Outpost on purpose: an unknown operator (``$gtt``), a
    comparison against an object, or operators mixed with field names would
    silently never match there; here they are an error at write time.
    """
    if not isinstance(doc, Mapping):
        raise InvalidFilter("$", f"a filter is a JSON object, got {_type_name(doc)}")
    _validate_schema(doc, "$", 0)


def _validate_schema(schema: Any, path: str, depth: int) -> None:
    if depth > MAX_FILTER_DEPTH:
        raise InvalidFilter(path, f"nested deeper than {MAX_FILTER_DEPTH} levels")
    if isinstance(schema, Mapping):
        _validate_object_schema(schema, path, depth)
    elif _is_array(schema):
        for index, item in enumerate(schema):
            _validate_schema(item, f"{path}[{index}]", depth + 1)
    else:
        _validate_json(schema, path, depth)


def _validate_object_schema(schema: Mapping[Any, Any], path: str, depth: int) -> None:
    operators, fields = [], []
    for key, arg in schema.items():
        if not isinstance(key, str):
            raise InvalidFilter(path, f"object keys must be strings, got {_type_name(key)}")
        where = _child(path, key)
        if key in ("$or", "$and"):
            if not _is_array(arg) or not arg:
                raise InvalidFilter(where, f"{key} takes a non-empty array of filters, got {_type_name(arg)}")
            for index, item in enumerate(arg):
                _validate_schema(item, f"{where}[{index}]", depth + 1)
        elif key == "$not":
            _validate_schema(arg, where, depth + 1)
        elif key in COMPARISON_OPERATORS:
            operators.append(key)
            _validate_operand(key, arg, where, depth)
        elif key.startswith("$"):
            known = ", ".join(sorted(COMPARISON_OPERATORS | LOGICAL_OPERATORS))
            raise InvalidFilter(where, f"unknown operator {key!r} (known: {known})")
        else:
            fields.append(key)
            _validate_schema(arg, where, depth + 1)
    if operators and fields:
        raise InvalidFilter(
            path,
            f"mixes operators ({', '.join(operators)}) with field names ({', '.join(fields)}): "
            "an operator tests this value, a field name looks inside it; combine them with $and",
        )


def _validate_operand(op: str, arg: Any, path: str, depth: int) -> None:
    if op in ("$eq", "$neq"):
        _validate_json(arg, path, depth)
    elif op in ("$gt", "$gte", "$lt", "$lte"):
        if not (isinstance(arg, str) or (_is_number(arg) and math.isfinite(arg))):
            raise InvalidFilter(path, f"{op} compares with a number or a string, got {_type_name(arg)}")
    elif op in ("$in", "$nin"):
        items = arg if _is_array(arg) else [arg]
        for index, item in enumerate(items):
            if not _is_primitive(item):
                where = f"{path}[{index}]" if _is_array(arg) else path
                raise InvalidFilter(where, f"{op} takes a string, number, boolean or null, or an array of them")
            _validate_json(item, path, depth)
    elif op in ("$startsWith", "$endsWith"):
        if isinstance(arg, str):
            return
        if not _is_array(arg) or not arg or not all(isinstance(item, str) for item in arg):
            raise InvalidFilter(path, f"{op} takes a string or a non-empty array of strings, got {_type_name(arg)}")
    elif op == "$exist" and not isinstance(arg, bool):
        raise InvalidFilter(path, f"$exist takes true or false, got {_type_name(arg)}")


def _validate_json(value: Any, path: str, depth: int) -> None:
    if depth > MAX_FILTER_DEPTH:
        raise InvalidFilter(path, f"nested deeper than {MAX_FILTER_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidFilter(path, f"{value} is not a JSON number")
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidFilter(path, f"object keys must be strings, got {_type_name(key)}")
            _validate_json(item, _child(path, key), depth + 1)
    elif _is_array(value):
        for index, item in enumerate(value):
            _validate_json(item, f"{path}[{index}]", depth + 1)
    elif not _is_primitive(value):
        raise InvalidFilter(path, f"not a JSON value: {_type_name(value)}")


# --- JSON helpers -----------------------------------------------------------


def _is_array(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _is_primitive(value: Any) -> bool:
    return value is None or isinstance(value, str | bool | int | float)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if _is_number(value):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if _is_array(value):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if _PLAIN_KEY.fullmatch(key) else f"{path}[{json.dumps(key)}]"
