"""Idempotency keys: what names a request, what is kept, and the window's fold (clock as an argument)."""

from __future__ import annotations

import pytest

from hookstream.domain.idempotency import (
    KEY_MAX_LENGTH,
    ResponseWindow,
    StoredResponse,
    key_problem,
    replayable_headers,
    request_key,
    storable,
)

TOKEN = "hs_op_secret-token"


def answer(key: str, at: float, body: bytes = b"{}") -> StoredResponse:
    return StoredResponse(key, 202, {"Content-Type": "application/json"}, body, at)


def test_the_key_names_token_method_path_and_key_but_never_shows_the_token() -> None:
    base = request_key(TOKEN, "POST", "/api/v1/app/a/msg", "k1")
    assert len(base) == 64 and TOKEN not in base
    assert request_key(TOKEN, "post", "/api/v1/app/a/msg/", "k1") == base, "method case and trailing slash"
    others = {
        request_key("other-token", "POST", "/api/v1/app/a/msg", "k1"),
        request_key(TOKEN, "PUT", "/api/v1/app/a/msg", "k1"),
        request_key(TOKEN, "POST", "/api/v1/app/b/msg", "k1"),
        request_key(TOKEN, "POST", "/api/v1/app/a/msg", "k2"),
    }
    assert base not in others and len(others) == 4


def test_parts_cannot_shift_into_each_other() -> None:
    assert request_key("ab", "POST", "/c", "d") != request_key("a", "POST", "b/c", "d")
    assert request_key(TOKEN, "POST", "/p", "x") != request_key(TOKEN + "POST", "", "/p", "x")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "must not be empty"),
        ("x" * (KEY_MAX_LENGTH + 1), f"at most {KEY_MAX_LENGTH}"),
        ("two words", "printable ASCII"),
        ("caf\u00e9", "printable ASCII"),
    ],
)
def test_unusable_keys_say_why(raw: str, problem: str) -> None:
    found = key_problem(raw)
    assert found is not None and problem in found


def test_usable_keys() -> None:
    assert key_problem("auto_0b9a6f6e-8d55-4f1a-9a53-3c2f1e0d9b7a") is None
    assert key_problem("x" * KEY_MAX_LENGTH) is None


def test_only_answers_a_repeat_would_get_again_are_stored() -> None:
    assert [s for s in (200, 201, 202, 204, 299) if storable(s)] == [200, 201, 202, 204, 299]
    assert [s for s in (400, 403, 404, 409, 413, 422) if storable(s)] == [400, 403, 404, 409, 413, 422]
    assert not any(storable(s) for s in (101, 301, 401, 429, 500, 502, 503))


def test_replay_keeps_the_handlers_headers_only() -> None:
    headers = [("Content-Type", "application/json"), ("Content-Length", "2"), ("Date", "x"), ("Server", "y"),
               ("Location", "/z")]  # fmt: skip
    assert replayable_headers(headers) == {"Content-Type": "application/json", "Location": "/z"}


def test_window_replays_within_and_forgets_after() -> None:
    window = ResponseWindow(60)
    assert window.remember(answer("k", 1000.0), now=1000.0)
    assert window.get("k", now=1059.9) is not None
    assert window.get("k", now=1060.0) is None
    assert window.get("other", now=1000.0) is None


def test_first_answer_wins_whatever_order_they_are_folded_in() -> None:
    window = ResponseWindow(60)
    assert window.remember(answer("k", 10.0, b"second"), now=10.0)
    assert window.remember(answer("k", 5.0, b"first"), now=10.0)
    assert not window.remember(answer("k", 12.0, b"third"), now=12.0)
    assert not window.remember(answer("k", 5.0, b"first"), now=12.0), "the same record again is a no-op"
    found = window.get("k", now=20.0)
    assert found is not None and found.body == b"first"


def test_expired_records_replayed_at_start_are_not_kept() -> None:
    window = ResponseWindow(60)
    assert not window.remember(answer("old", 0.0), now=100.0)
    assert len(window) == 0


def test_memory_follows_the_window_not_the_history() -> None:
    window = ResponseWindow(10)
    for i in range(1000):
        window.remember(answer(f"k{i}", float(i)), now=float(i))
    assert len(window) == 10
    window.prune(now=2000.0)
    assert len(window) == 0


def test_a_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ResponseWindow(0)
