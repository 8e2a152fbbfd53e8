"""Which custom headers an endpoint may carry: the one definition the API validates and the worker filters by.

A custom header goes out on every delivery, so a name or value that is not
a well-formed header would let a tenant split the request (CR/LF), confuse
framing (Content-Length, Transfer-Encoding), redirect it (Host) or forge our
signature; the API refuses those up front and the worker drops any reserved
name that reached the log before this rule existed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# RFC 7230 section 3.2.6 token: the only characters a header name may have.
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_FORBIDDEN_IN_VALUE = ("\r", "\n", "\0")

MAX_NAME_CHARS = 256
MAX_VALUE_CHARS = 4096
MAX_HEADERS = 50

# The signature, framing, hop-by-hop and who-we-are headers: ours to set, never an endpoint's.
RESERVED = frozenset(
    {"content-type", "user-agent", "host", "content-length", "transfer-encoding", "connection", "keep-alive",
     "upgrade", "te", "trailer", "proxy-connection", "proxy-authorization", "expect"}
    | {f"{prefix}-{part}" for prefix in ("webhook", "svix") for part in ("id", "timestamp", "signature")}
)  # fmt: skip


def header_problem(name: str, value: str) -> str | None:
    """Why ``name: value`` cannot be an endpoint's custom header, or None when it can."""
    if not _TOKEN.match(name):
        return f"header name {name[:64]!r} is not an RFC 7230 token (letters, digits and !#$%&'*+-.^_`|~ only)"
    if len(name) > MAX_NAME_CHARS:
        return f"header name {name[:64]!r}... is longer than {MAX_NAME_CHARS} characters"
    if name.lower() in RESERVED:
        return f"header {name!r} is reserved: hookstream sets it itself"
    if any(c in value for c in _FORBIDDEN_IN_VALUE):
        return f"header {name!r} has a CR, LF or NUL in its value"
    if len(value) > MAX_VALUE_CHARS:
        return f"header {name!r} has a value longer than {MAX_VALUE_CHARS} characters"
    return None


def headers_problem(headers: Mapping[str, str]) -> str | None:
    """Why this set of custom headers cannot be an endpoint's, or None when it can."""
    if len(headers) > MAX_HEADERS:
        return f"at most {MAX_HEADERS} custom headers, got {len(headers)}"
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem is not None:
            return problem
    return None


def deliverable(headers: Mapping[str, str]) -> dict[str, str]:
    """The custom headers the worker may send: reserved or malformed ones (written before validation) dropped."""
    return {name: value for name, value in headers.items() if header_problem(name, value) is None}


METADATA_PREFIX = "x-outpost-"
"""Outpost's default header prefix: a destination's ``delivery_metadata`` key ``k`` is sent as ``x-outpost-k``."""


def metadata_headers(metadata: Mapping[str, str]) -> dict[str, str]:
    """A destination's delivery metadata as the headers every attempt carries, filtered like custom headers."""
    return deliverable({METADATA_PREFIX + key: value for key, value in metadata.items()})
