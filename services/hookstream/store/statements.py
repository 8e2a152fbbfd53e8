"""Just enough SQL lexing to route a request: the statement's kind, an INSERT's inline data, its FORMAT.

The engine parses the statement for real; this module only answers what the
HTTP layer must know before it runs: whether the statement is read-only,
where an INSERT's data starts (ClickHouse's rule: after the format name,
past the first newline if there is one), and which format the answer is in.
Quoted strings, quoted identifiers and comments are skipped so a keyword
inside them is never taken for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

READ_KINDS = frozenset({"SELECT", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "EXISTS", "WITH"})
_RESULT_KINDS = READ_KINDS | {"CHECK"}
_WORD = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
_QUOTES = frozenset(b"'`\"")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
_SESSION_CHANGE = re.compile(r"\b(SET|USE)\b", re.IGNORECASE)
_HEAD_LIMIT = 1 << 20  # an INSERT's statement is read from at most this much of the body


def _skip_quoted(text: bytes, at: int) -> int:
    quote = text[at]
    i = at + 1
    while i < len(text):
        if text[i] == 0x5C:  # backslash escapes the next byte
            i += 2
            continue
        if text[i] == quote:
            if i + 1 < len(text) and text[i + 1] == quote:  # doubled quote
                i += 2
                continue
            return i + 1
        i += 1
    return len(text)


def _skip_comment(text: bytes, at: int) -> int:
    if text.startswith(b"--", at) or text.startswith(b"#", at):
        end = text.find(b"\n", at)
        return len(text) if end < 0 else end + 1
    end = text.find(b"*/", at + 2)
    return len(text) if end < 0 else end + 2


def _lex(text: bytes):  # type: ignore[no-untyped-def]
    """Yield ``(token, start, end)`` outside comments: bare words upper-cased, quoted parts as ``"'"``, other bytes."""
    i = 0
    while i < len(text):
        byte = text[i]
        if byte in _QUOTES:
            end = _skip_quoted(text, i)
            yield "'", i, end
        elif text.startswith(b"--", i) or text.startswith(b"/*", i) or byte == 0x23:
            end = _skip_comment(text, i)
        elif byte in b" \t\r\n":
            end = i + 1
        else:
            match = _WORD.match(text, i)
            end = match.end() if match else i + 1
            yield (match.group().upper().decode() if match else chr(byte)), i, end
        i = end


def words(text: bytes):  # type: ignore[no-untyped-def]
    """Yield ``(upper-case word, start, end)`` for each bare word, outside strings, quoted names and comments."""
    for token, start, end in _lex(text):
        if token[0].isalpha() or token[0] == "_":
            yield token, start, end


def several(sql: str) -> bool:
    """Whether ``sql`` holds more than one statement: ClickHouse's HTTP interface runs one, chDB would run them all.

    Asked of every statement; without a ``;`` anywhere there is one, and the
    lexer (0.5 ms for an attempt list's SQL) is skipped.
    """
    if ";" not in sql:
        return False
    seen_end = False
    for token, _, _ in _lex(sql.encode()):
        if token == ";":
            seen_end = True
        elif seen_end:
            return True
    return False


def kind(sql: bytes | str) -> str:
    """The statement's first keyword (``SELECT``, ``INSERT``, ...), or ``""`` when there is none."""
    raw = sql.encode() if isinstance(sql, str) else sql
    for word, _, _ in words(raw[:_HEAD_LIMIT]):
        return word
    return ""


def is_read(sql: str) -> bool:
    return kind(sql) in READ_KINDS


def makes_result(sql: str) -> bool:
    """Whether the statement answers with rows, so the response names their format as ClickHouse does."""
    return kind(sql) in _RESULT_KINDS or trailing_format(sql) is not None


def trailing_format(sql: str) -> str | None:
    match = _TRAILING_FORMAT.search(sql)
    return match.group(1) if match else None


def may_change_session(sql: str) -> bool:
    """A SET or USE in the statement may leave the engine handle changed, so it is reset afterwards."""
    return _SESSION_CHANGE.search(sql) is not None


@dataclass(frozen=True)
class InlineInsert:
    """``INSERT ... FORMAT f`` followed by its data: the statement split at FORMAT, and where the data starts."""

    target: str  # the statement up to its SETTINGS clause or FORMAT
    settings: str  # "SETTINGS ..." or ""
    fmt: str
    data_start: int


def inline_insert(body: bytes) -> InlineInsert | None:
    """Split an ``INSERT ... FORMAT f <data>`` body; None for any other statement (VALUES, SELECT, not an INSERT)."""
    head = body[:_HEAD_LIMIT]
    scanned = words(head)
    first = next(scanned, None)
    if first is None or first[0] != "INSERT":
        return None
    settings_at = None
    for word, start, end in scanned:
        if word in ("VALUES", "SELECT", "WITH"):
            return None
        if word == "SETTINGS" and settings_at is None:
            settings_at = start
        if word == "FORMAT":
            name = _WORD.match(head, _skip_space(head, end))
            if name is None:
                return None
            cut = settings_at if settings_at is not None else start
            return InlineInsert(
                target=head[:cut].decode().strip(),
                settings=head[cut:start].decode().strip() if settings_at is not None else "",
                fmt=name.group().decode(),
                data_start=_data_start(body, name.end()),
            )
    return None


def _skip_space(text: bytes, at: int) -> int:
    while at < len(text) and text[at] in b" \t\r\n":
        at += 1
    return at


def _data_start(body: bytes, at: int) -> int:
    """ClickHouse's rule: the data starts after the first newline, if there is one, or after the whitespace."""
    i = at
    while i < len(body) and body[i] in b" \t\r":
        i += 1
    if i < len(body) and body[i] == 0x0A:
        return i + 1
    return _skip_space(body, at)
