"""Errors the way ClickHouse reports them over HTTP: a numeric code, a name, a status and a text.

chDB raises with ClickHouse's own text (``Code: 60. DB::Exception: ...
(UNKNOWN_TABLE)``), so the code and name are read from it and the HTTP status
follows ClickHouse's ``exceptionCodeToHTTPStatus``, keyed by error name so no
numeric table can drift from the engine's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CODE = re.compile(r"Code: (\d+)\.")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)\s*$")

_NAMES_BY_STATUS: dict[int, str] = {
    401: "REQUIRED_PASSWORD",
    403: "UNKNOWN_USER WRONG_PASSWORD AUTHENTICATION_FAILED SET_NON_GRANTED_ROLE ACCESS_DENIED",
    400: """BAD_ARGUMENTS CANNOT_COMPILE_REGEXP CANNOT_PARSE_TEXT CANNOT_PARSE_ESCAPE_SEQUENCE
        CANNOT_PARSE_QUOTED_STRING CANNOT_PARSE_DATE CANNOT_PARSE_DATETIME CANNOT_PARSE_NUMBER
        CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING CANNOT_PARSE_IPV4 CANNOT_PARSE_IPV6 CANNOT_PARSE_INPUT_ASSERTION_FAILED
        CANNOT_PARSE_UUID DUPLICATE_COLUMN ILLEGAL_COLUMN UNKNOWN_ELEMENT_IN_AST UNKNOWN_TYPE_OF_AST_NODE
        THERE_IS_NO_COLUMN TOO_DEEP_AST TOO_BIG_AST UNEXPECTED_AST_STRUCTURE SYNTAX_ERROR INCORRECT_DATA
        TYPE_MISMATCH VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE""",
    404: """UNKNOWN_TABLE UNKNOWN_FUNCTION UNKNOWN_IDENTIFIER UNKNOWN_TYPE UNKNOWN_STORAGE UNKNOWN_DATABASE
        UNKNOWN_SETTING UNKNOWN_DIRECTION_OF_SORTING UNKNOWN_AGGREGATE_FUNCTION UNKNOWN_FORMAT
        UNKNOWN_DATABASE_ENGINE UNKNOWN_TYPE_OF_QUERY UNKNOWN_ROLE""",
    413: "QUERY_IS_TOO_LARGE",
    501: "NOT_IMPLEMENTED",
    503: "SOCKET_TIMEOUT CANNOT_OPEN_FILE CANNOT_SCHEDULE_TASK",
    411: "HTTP_LENGTH_REQUIRED",
    408: "TIMEOUT_EXCEEDED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
_STATUS_BY_NAME = {name: status for status, names in _NAMES_BY_STATUS.items() for name in names.split()}

# Codes the store raises itself, before a statement reaches the engine.
BAD_ARGUMENTS = (36, "BAD_ARGUMENTS")
READONLY = (164, "READONLY")
AUTHENTICATION_FAILED = (516, "AUTHENTICATION_FAILED")
CANNOT_DECOMPRESS = (271, "CANNOT_DECOMPRESS")
SYNTAX_ERROR = (62, "SYNTAX_ERROR")
QUERY_IS_TOO_LARGE = (229, "QUERY_IS_TOO_LARGE")


@dataclass  # not frozen: raising sets __traceback__ and __cause__ on it
class ClickHouseError(Exception):
    """One failed request: what goes into ``X-ClickHouse-Exception-Code``, the status line and the body."""

    code: int
    name: str
    text: str

    def __str__(self) -> str:
        return self.text

    @property
    def status(self) -> int:
        return _STATUS_BY_NAME.get(self.name, 500)

    @classmethod
    def raised(cls, code_name: tuple[int, str], message: str) -> ClickHouseError:
        code, name = code_name
        return cls(code, name, f"Code: {code}. DB::Exception: {message.rstrip('.')}. ({name})")

    @classmethod
    def from_engine(cls, exc: BaseException) -> ClickHouseError:
        text = str(exc)
        start = text.find("Code: ")
        text = (text[start:] if start >= 0 else text).strip()
        code = _CODE.search(text)
        name = _NAME.search(text)
        return cls(int(code.group(1)) if code else 1001, name.group(1) if name else "STD_EXCEPTION", text)
