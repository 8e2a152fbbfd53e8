"""Log lines: JSON for machines, text for a person at a terminal, both with every extra field."""

import io
import json
import logging

import pytest

from hookstream.runtime.logs import JsonFormatter, TextFormatter, chosen_format


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("hookstream.router", logging.WARNING, __file__, 1, "routed %d", (3,), None)
    record.__dict__.update(extra)
    return record


def test_auto_is_text_on_a_terminal_and_json_elsewhere() -> None:
    assert chosen_format("auto", Terminal()) == "text"
    assert chosen_format("auto", io.StringIO()) == "json"
    assert chosen_format("json", Terminal()) == "json"
    assert chosen_format("text", io.StringIO()) == "text"


def test_an_unknown_format_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="HOOKSTREAM_LOG_FORMAT must be one of auto, json, text, not 'yaml'"):
        chosen_format("yaml", io.StringIO())


def test_both_formats_carry_the_extra_fields() -> None:
    record = _record(request_id="req_1", offset=12)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "routed 3" and entry["level"] == "warning"
    assert entry["request_id"] == "req_1" and entry["offset"] == 12
    line = TextFormatter().format(record)
    assert "WARNING hookstream.router: routed 3" in line
    assert line.endswith("request_id=req_1 offset=12")
    assert not line.lstrip().startswith("{")


def test_text_keeps_the_traceback() -> None:
    try:
        raise RuntimeError("broker away")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), __import__("sys").exc_info())
    text = TextFormatter().format(record)
    assert "failed" in text.splitlines()[0] and "RuntimeError: broker away" in text
