"""Custom endpoint headers: what the API refuses and what the worker would drop, from one rule."""

from __future__ import annotations

import pytest

from hookstream.domain.custom_headers import MAX_HEADERS, deliverable, header_problem, headers_problem


@pytest.mark.parametrize("name", ["X-Tenant", "Authorization", "x_trace.id", "A1!#$%&'*+-.^_`|~"])
def test_token_names_with_plain_values_pass(name: str) -> None:
    assert header_problem(name, "value with spaces, commas; and = signs") is None


@pytest.mark.parametrize(
    "name", ["", "X Tenant", "X-Tenant:", "X-T\r\nInjected", "Ünïcode", "X(1)", "X-Tenant\0", 'X"Q', "a/b"]
)
def test_non_token_names_are_refused(name: str) -> None:
    assert "RFC 7230 token" in (header_problem(name, "v") or "")


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b"])
def test_values_with_cr_lf_or_nul_are_refused(value: str) -> None:
    assert "CR, LF or NUL" in (header_problem("X-Ok", value) or "")


@pytest.mark.parametrize(
    "name",
    ["Host", "content-length", "Transfer-Encoding", "CONNECTION", "Content-Type", "User-Agent", "webhook-id",
     "Webhook-Signature", "webhook-timestamp", "svix-id", "SVIX-SIGNATURE", "svix-timestamp", "Upgrade", "TE"],
)  # fmt: skip
def test_reserved_names_are_refused_whatever_their_case(name: str) -> None:
    assert "reserved" in (header_problem(name, "x") or "")


def test_sizes_are_bounded() -> None:
    assert "longer than" in (header_problem("X-" + "a" * 300, "v") or "")
    assert "longer than" in (header_problem("X-Big", "v" * 5000) or "")
    many = {f"X-{n}": "v" for n in range(MAX_HEADERS + 1)}
    assert f"at most {MAX_HEADERS}" in (headers_problem(many) or "")
    assert headers_problem(dict(list(many.items())[:MAX_HEADERS])) is None


def test_the_worker_drops_what_the_api_would_refuse() -> None:
    """Records written before validation existed still cannot inject or forge."""
    stored = {"X-Ok": "1", "Host": "evil", "X-Bad": "a\r\nX-Injected: 1", "Bad Name": "v", "svix-id": "forged"}
    assert deliverable(stored) == {"X-Ok": "1"}
