"""JSON responses encoded by orjson, the standard library's encoder where orjson cannot say the same thing.

``web.json_response`` runs ``json.dumps`` (pure Python around a C scanner, then a str encoded once more);
a 202 to ``POST /app/{app}/msg`` echoes the 1 KiB payload, so its encoding was ~6 % of the API's CPU per
accepted message (BENCHMARKS.md, Session 6). orjson writes the same JSON as bytes in one call. It refuses
what ``json.dumps`` writes (an integer beyond 64 bits, a payload may carry one), and those fall back to
``json.dumps``, so every answer that was possible stays possible. Compact separators and UTF-8 instead of
``\\u`` escapes: the same values to any JSON reader.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

_OPTIONS = orjson.OPT_NON_STR_KEYS  # json.dumps writes int keys as strings; so does this


def dumps(value: Any) -> bytes:
    """``value`` as JSON bytes."""
    try:
        return orjson.dumps(value, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: a big integer, a type only json.dumps refuses too
        return json.dumps(value).encode()


def json_response(value: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """``web.json_response`` with the same status, headers and Content-Type, encoded by :func:`dumps`."""
    return web.Response(body=dumps(value), status=status, headers=headers, content_type="application/json",
                        charset="utf-8")  # fmt: skip
