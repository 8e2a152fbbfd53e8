"""Attempt classification: turn what the HTTP client saw into success or a named failure.

The delivery worker records what happened (a status line, or a transport
error); this module decides what it means, in one place, so the retry
scheduler, the status fold, the API filters (``status_code_class``) and the
analytics tables all agree on it.

The rule that matters most: once the receiver has sent a status line, that
status decides. A 2xx is the receiver saying "got it", so a timeout or an
oversized body while we read the rest changes what we record, not whether the
message was delivered; retrying it would make the receiver process it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum
from http import HTTPStatus


class StatusCodeClass(IntEnum):
    """Svix's ``status_code_class`` filter values."""

    NONE = 0
    CODE_1XX = 100
    CODE_2XX = 200
    CODE_3XX = 300
    CODE_4XX = 400
    CODE_5XX = 500


class TransportError(StrEnum):
    """Why an exchange failed below HTTP status level, as the delivery worker reports it."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TIMEOUT = "timeout"
    BODY_TOO_LARGE = "body_too_large"
    SSRF_BLOCKED = "ssrf_blocked"
    INVALID_RESPONSE = "invalid_response"


class ErrorClass(StrEnum):
    """Why an attempt failed; the values are the Avro ``AttemptErrorClass`` symbols."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TIMEOUT = "timeout"
    HTTP_STATUS = "http_status"
    BODY_TOO_LARGE = "body_too_large"
    SSRF_BLOCKED = "ssrf_blocked"
    INVALID_RESPONSE = "invalid_response"


# These all happen before a response exists, so they cannot come with a status.
_BEFORE_RESPONSE = frozenset(
    {TransportError.DNS, TransportError.CONNECT, TransportError.TLS, TransportError.SSRF_BLOCKED}
)

_TRANSPORT_TEXT = {
    TransportError.DNS: "DNS resolution failed",
    TransportError.CONNECT: "connection failed",
    TransportError.TLS: "TLS handshake failed",
    TransportError.BODY_TOO_LARGE: "response body too large",
    TransportError.SSRF_BLOCKED: "destination address not allowed",
    TransportError.INVALID_RESPONSE: "invalid HTTP response",
}


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """What the HTTP client saw: a status line, a transport error, or a status then an error.

    ``reason`` is the reason phrase the receiver sent, if any. ``detail`` is the
    client's own error message (``"Name or service not known"``). ``connected``
    says a connection was up when the error hit, which separates a connect
    timeout from a receiver that accepted the connection and never answered.
    """

    status_code: int | None = None
    reason: str | None = None
    error: TransportError | None = None
    detail: str = ""
    connected: bool = False

    def __post_init__(self) -> None:
        if self.status_code is None and self.error is None:
            raise ValueError("an attempt outcome needs a status code, an error, or both")
        if self.status_code is not None:
            if isinstance(self.status_code, bool) or not isinstance(self.status_code, int):
                raise TypeError(f"status_code must be an int, got {type(self.status_code).__name__}")
            if self.error in _BEFORE_RESPONSE:
                raise ValueError(
                    f"a {self.error} error happens before any response, so not with status {self.status_code}"
                )


@dataclass(frozen=True, slots=True)
class Classification:
    """The verdict on one attempt, in the shape the ``AttemptFinished`` event records."""

    success: bool
    error_class: ErrorClass | None
    error_text: str | None
    status_code_class: StatusCodeClass


def status_code_class(code: int | None) -> StatusCodeClass:
    """Hundreds of a status code; ``NONE`` for no response or a code outside 100-599."""
    if code is None or not 100 <= code <= 599:
        return StatusCodeClass.NONE
    return StatusCodeClass(code // 100 * 100)


def classify(outcome: AttemptOutcome) -> Classification:
    """Success is any 2xx; anything else is a named failure.

    3xx fails too: following redirects is not done (Standard Webhooks asks the
    receiver to update the URL instead), so a redirect is not a delivery.
    """
    code = outcome.status_code
    if code is not None:
        if not 100 <= code <= 599:
            return Classification(
                False, ErrorClass.INVALID_RESPONSE, f"invalid HTTP status {code}", StatusCodeClass.NONE
            )
        code_class = status_code_class(code)
        if code_class is StatusCodeClass.CODE_2XX:
            return Classification(True, None, None, code_class)
        return Classification(False, ErrorClass.HTTP_STATUS, _http_text(code, outcome.reason), code_class)
    assert outcome.error is not None  # __post_init__ guarantees one of the two
    return Classification(False, ErrorClass(outcome.error.value), _transport_text(outcome), StatusCodeClass.NONE)


def _http_text(code: int, reason: str | None) -> str:
    phrase = " ".join(reason.split()) if reason else ""
    if not phrase:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = ""
    return f"HTTP {code} {phrase}" if phrase else f"HTTP {code}"


def _transport_text(outcome: AttemptOutcome) -> str:
    if outcome.error is TransportError.TIMEOUT:
        base = "response timeout" if outcome.connected else "connection timeout"
    else:
        assert outcome.error is not None
        base = _TRANSPORT_TEXT[outcome.error]
    detail = " ".join(outcome.detail.split())
    return f"{base}: {detail}" if detail else base
