"""Request bodies as strict JSON (RFC 8259): either refused with the rule and the place, or read unaltered.

Python's ``json`` is lenient where a webhook service must not be: it takes
``NaN`` and ``Infinity`` (and would store them and send them on as bodies
strict receivers cannot parse), turns ``1e400`` into ``Infinity``, keeps the
last of two equal keys, lets a ``"\\ud800"`` escape through as a lone
surrogate (which fails later, on encoding: a 500), and recurses once per
nesting level (a few thousand levels: ``RecursionError``, a 500 again).
``read_json`` closes each of those before or while decoding:

- the bytes must be UTF-8 without a byte order mark, and the text one JSON
  value with nothing after it;
- nesting is measured by a linear scan of the text (strings skipped) before
  the recursive decoder sees it, so a 5,000-deep body never reaches it;
- ``NaN``/``Infinity``/``-Infinity`` are refused, as is a number with a
  fraction or exponent whose double overflows (``1e400``); such a number is
  otherwise read as the IEEE double every JSON parser reads it as. An
  integer is kept exactly, however large, and sent on digit for digit, up to
  ``MAX_INT_DIGITS`` digits (longer ones are refused);
- a repeated key, an object with more keys or an array with more items than
  the limits, and a lone surrogate in any string or key are refused with the
  JSON path where they are.

Most bodies break none of these, so a body is first read by the C decoder
with no per-object hook, and repeated keys are ruled out by counting (see
``_read_plainly``); any doubt, and every refusal, goes to the careful reader
(a hook per object and number), so what is accepted and how a refusal is
worded are the careful reader's alone.

Pure: bytes and limits in, a value or ``JsonRefused`` out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

JsonPath = tuple[str | int, ...]

# Python's decoder recurses once per level and its recursion limit is about 1,000 frames deep.
MAX_SAFE_DEPTH = 512
# Integers are kept exactly, however large, up to Python's int/str conversion limit (sys.int_max_str_digits).
MAX_INT_DIGITS = 4300
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"  # RFC 8259's four; Python's bytes.strip would take more
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONG_INTEGER = re.compile(rf"[0-9]{{{MAX_INT_DIGITS + 1},}}")
_CONTAINERS = (dict, list)
_CONTAINER_TYPES = frozenset(_CONTAINERS)
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


@dataclass(frozen=True)
class JsonLimits:
    max_depth: int  # containers open at once; {} is depth 1
    max_object_keys: int  # keys in any one object
    max_array_items: int  # items in any one array

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= MAX_SAFE_DEPTH:
            raise ValueError(f"max_depth must be 1..{MAX_SAFE_DEPTH}, got {self.max_depth}")
        if self.max_object_keys < 1 or self.max_array_items < 1:
            raise ValueError("max_object_keys and max_array_items must be at least 1")


class JsonRefused(ValueError):
    """``path`` is where in the document the rule broke (keys and indexes; empty: the whole body)."""

    def __init__(self, path: JsonPath, reason: str) -> None:
        super().__init__(f"{format_path(path)}: {reason}")
        self.path = path
        self.reason = reason


def format_path(path: Sequence[str | int]) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


class _Bad:
    """Put in the decoded value where a number or constant was refused; the walk reports it with its path."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


class _Duplicated(dict[str, Any]):
    """An object that named a key twice (the walk reports the key's path)."""

    key: str


def _short(text: str) -> str:
    return text if len(text) <= 24 else text[:21] + "..."


class _Hooks:
    """The decoder's hooks for one body; ``marked`` says whether any of them left a refusal in the value."""

    def __init__(self, limits: JsonLimits) -> None:
        self.max_keys = limits.max_object_keys
        self.marked = False

    def parse_constant(self, name: str) -> _Bad:
        self.marked = True
        return _Bad(f"{name} is not JSON (RFC 8259 has no NaN or Infinity)")

    def parse_float(self, text: str) -> float | _Bad:
        value = float(text)
        if not math.isinf(value):
            return value
        self.marked = True
        return _Bad(f"{_short(text)} does not fit a double")

    def object_pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        value = dict(pairs)
        if len(value) == len(pairs):
            self.marked = self.marked or len(value) > self.max_keys
            return value
        self.marked = True
        seen: set[str] = set()
        flagged = _Duplicated(value)
        flagged.key = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        return flagged


def read_json(raw: bytes, limits: JsonLimits) -> Any:
    """The one JSON value ``raw`` holds, or ``JsonRefused`` naming the first rule it breaks and where.

    Most bodies break no rule, so they are read first by :func:`_read_plainly` (the C decoder without
    per-object hooks, a third of the cost); a body it cannot vouch for, accepted or refused, is read again
    by :func:`_read_carefully`, which alone decides: the value and every refusal are the careful reader's.
    """
    if not raw.strip(_WHITESPACE):
        raise JsonRefused((), "is empty: a JSON value is required")
    if raw.startswith(_BOM):
        raise JsonRefused((), "starts with a byte order mark (RFC 8259: JSON text has none)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonRefused((), f"is not valid UTF-8 (byte {error.start}: {error.reason})") from None
    _check_depth(text, limits.max_depth)
    value = _read_plainly(text, limits)
    return _read_carefully(text, limits) if value is _UNSURE else value


class _Unsure(Exception):
    """Raised by the plain reader's hooks: a constant or an overflowing number, for the careful reader to word."""


def _refuse_constant(name: str) -> Any:
    raise _Unsure(name)


def _float_or_unsure(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise _Unsure(text)
    return value


# Stateless hooks on one shared decoder: json.loads with keywords would build a decoder per body.
_PLAIN = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_float_or_unsure)
_UNSURE: Any = object()
_SPACED_COLON = re.compile(r":(?<=[ \t\r\n]:)")  # the colon first: the search skips to colons in C
_KEY_END = re.compile(r'"[ \t\r\n]*:')


def _read_plainly(text: str, limits: JsonLimits) -> Any:
    """The value, when it is certain that no rule is broken; otherwise :data:`_UNSURE`.

    Without ``object_pairs_hook`` a repeated key is silently folded, so its
    absence is proven by counting: every key written is a string closed by a
    quote then a colon, so the quote-colon pairs of the text are at least the
    keys written (more when a string holds one: a value starting with a colon,
    an escaped quote before a colon); equal to the keys read, none was
    repeated. A surrogate escape, a constant, an overflowing number, a digit
    run past Python's int limit, a container over its limit, any syntax error
    or a count that proves nothing: unsure (the careful reader words the
    refusal, or reads the value after all).
    """
    if _SURROGATE_ESCAPE.search(text) is not None:
        return _UNSURE
    try:
        value = _PLAIN.decode(text)
    except Exception:  # whatever it is, the careful reader says what
        return _UNSURE
    keys = _keys_within(value, limits)
    if keys < 0:
        return _UNSURE
    # Without white space before any colon every key ends in '":', counted in C; else the regex counts.
    written = text.count('":') if _SPACED_COLON.search(text) is None else len(_KEY_END.findall(text))
    return value if written == keys else _UNSURE


def _keys_within(value: Any, limits: JsonLimits) -> int:
    """Keys read in all objects, or -1 when an object or an array is over its limit (containers only, no paths)."""
    max_keys, max_items = limits.max_object_keys, limits.max_array_items
    keys = 0
    stack = [value] if type(value) in _CONTAINER_TYPES else []
    push, pop = stack.append, stack.pop
    while stack:
        node = pop()
        if type(node) is dict:
            keys += len(node)
            if len(node) > max_keys:
                return -1
            node = node.values()
        elif len(node) > max_items:
            return -1
        for child in node:
            if type(child) in _CONTAINER_TYPES:
                push(child)
    return keys


def _read_carefully(text: str, limits: JsonLimits) -> Any:
    """Every rule checked while decoding (a hook per object and number), paths built only for a refusal."""
    hooks = _Hooks(limits)
    try:
        value = json.loads(
            text,
            parse_constant=hooks.parse_constant,
            parse_float=hooks.parse_float,
            object_pairs_hook=hooks.object_pairs,
        )
    except json.JSONDecodeError as error:
        raise JsonRefused((), f"is not valid JSON: {error.msg} (line {error.lineno} column {error.colno})") from None
    except ValueError:  # only int() raises anything else: a digit run beyond the int/str conversion limit
        found = _LONG_INTEGER.search(_STRING.sub(_blank, text))
        where = _path_at(text, found.start() if found else len(text), limit=None)
        raise JsonRefused(where, f"is an integer of more than {MAX_INT_DIGITS} digits (send it as a string)") from None
    everything = hooks.marked or _SURROGATE_ESCAPE.search(text) is not None
    if everything or not _arrays_within(value, limits.max_array_items):
        problem = next(_problems(value, limits, everything=everything), None)
        if problem is not None:
            raise JsonRefused(*problem)
    return value


def _arrays_within(value: Any, max_items: int) -> bool:
    """The careful reader's walk: containers only, no paths (they are built only for a body being refused)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if type(node) is list:
            if len(node) > max_items:
                return False
            stack.extend([child for child in node if type(child) in _CONTAINERS])
        elif type(node) is dict:
            stack.extend([child for child in node.values() if type(child) in _CONTAINERS])
    return True


def _check_depth(text: str, max_depth: int) -> None:
    """Refuse nesting beyond ``max_depth`` by counting brackets outside strings, without recursing.

    Up to the first point where the text stops being JSON, the string spans
    found here are the decoder's own, so the depth counted is at least the
    depth the decoder would reach before it stops.
    """
    if text.count("[") + text.count("{") <= max_depth:  # brackets inside strings too: a bound, in C, for most bodies
        return
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if len(brackets) <= max_depth:
        return
    deepest = max(accumulate(map(_STEP.__getitem__, brackets)))
    if deepest > max_depth:
        raise JsonRefused(_path_at(text, len(text), max_depth), f"nests deeper than {max_depth} levels")


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


def _path_at(text: str, stop: int, limit: int | None) -> JsonPath:
    """The path of the value at offset ``stop``, or of the first container opened beyond ``limit`` levels.

    A scan of the tokens that shape the path (strings, brackets, commas,
    colons), run only for a body already being refused.
    """
    frames: list[list[Any]] = []  # per open container: [index (arrays) or None (objects), expecting a key]
    path: list[str | int] = []
    for match in _TOKEN.finditer(text):
        if match.start() >= stop:
            break
        token = match.group()
        if token in ("[", "{"):
            if len(frames) == limit:
                break
            frames.append([0 if token == "[" else None, token == "{"])
            path.append(0 if token == "[" else "")
        elif token in ("]", "}"):
            if frames:
                frames.pop()
                path.pop()
        elif token == "," and frames:
            if frames[-1][0] is None:
                frames[-1][1] = True
            else:
                frames[-1][0] += 1
                path[-1] = frames[-1][0]
        elif token == ":" and frames:
            frames[-1][1] = False
        elif frames and frames[-1][1]:
            path[-1] = _key(token)
    return tuple(path)


def _key(token: str) -> str:
    try:
        return str(json.loads(token))
    except ValueError:
        return token[1:-1]


def _problems(value: Any, limits: JsonLimits, *, everything: bool) -> Iterator[tuple[JsonPath, str]]:
    """Every broken rule with its path; containers only unless a mark or a surrogate escape may be inside."""
    stack: list[tuple[Any, JsonPath]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, _Bad):
            yield path, node.reason
        elif isinstance(node, dict):
            if isinstance(node, _Duplicated):
                yield (*path, node.key), "is given more than once in its object"
            if len(node) > limits.max_object_keys:
                yield path, f"has {len(node)} keys; an object holds at most {limits.max_object_keys}"
            for key, child in node.items():
                if everything and _SURROGATE.search(key):
                    yield path, "has a key holding a lone UTF-16 surrogate (not valid Unicode text)"
                if everything or isinstance(child, (dict, list)):
                    stack.append((child, (*path, key)))
        elif isinstance(node, list):
            if len(node) > limits.max_array_items:
                yield path, f"has {len(node)} items; an array holds at most {limits.max_array_items}"
            stack.extend((child, (*path, index)) for index, child in enumerate(node)
                         if everything or isinstance(child, (dict, list)))  # fmt: skip
        elif isinstance(node, str) and _SURROGATE.search(node):
            yield path, "holds a lone UTF-16 surrogate (not valid Unicode text)"
