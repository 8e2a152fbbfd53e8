"""Attempt classification: success only on 2xx, one named error class per failure."""

from __future__ import annotations

import pytest

from hookstream.domain.classify import (
    AttemptOutcome,
    Classification,
    ErrorClass,
    StatusCodeClass,
    TransportError,
    classify,
    status_code_class,
)

E = TransportError


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (None, 0),
        (100, 100),
        (101, 100),
        (199, 100),
        (200, 200),
        (204, 200),
        (299, 200),
        (301, 300),
        (399, 300),
        (400, 400),
        (410, 400),
        (429, 400),
        (499, 400),
        (500, 500),
        (503, 500),
        (599, 500),
        (0, 0),
        (99, 0),
        (600, 0),
        (999, 0),
        (-200, 0),
    ],
)
def test_status_code_class(code: int | None, expected: int) -> None:
    result = status_code_class(code)
    assert result == expected
    assert isinstance(result, StatusCodeClass)


CASES = [
    # (outcome, success, error_class, error_text, status_code_class)
    (AttemptOutcome(status_code=200), True, None, None, 200),
    (AttemptOutcome(status_code=201, reason="Created"), True, None, None, 200),
    (AttemptOutcome(status_code=204), True, None, None, 200),
    (AttemptOutcome(status_code=299), True, None, None, 200),
    # a received 2xx decides, even if reading the rest of the response went wrong
    (AttemptOutcome(status_code=200, error=E.TIMEOUT, connected=True), True, None, None, 200),
    (AttemptOutcome(status_code=200, error=E.BODY_TOO_LARGE), True, None, None, 200),
    (AttemptOutcome(status_code=202, error=E.INVALID_RESPONSE, detail="bad chunk"), True, None, None, 200),
    # non-2xx statuses: the status is the reason
    (AttemptOutcome(status_code=100), False, ErrorClass.HTTP_STATUS, "HTTP 100 Continue", 100),
    (AttemptOutcome(status_code=101), False, ErrorClass.HTTP_STATUS, "HTTP 101 Switching Protocols", 100),
    (AttemptOutcome(status_code=301), False, ErrorClass.HTTP_STATUS, "HTTP 301 Moved Permanently", 300),
    (AttemptOutcome(status_code=307), False, ErrorClass.HTTP_STATUS, "HTTP 307 Temporary Redirect", 300),
    (AttemptOutcome(status_code=400), False, ErrorClass.HTTP_STATUS, "HTTP 400 Bad Request", 400),
    (AttemptOutcome(status_code=404), False, ErrorClass.HTTP_STATUS, "HTTP 404 Not Found", 400),
    (AttemptOutcome(status_code=410), False, ErrorClass.HTTP_STATUS, "HTTP 410 Gone", 400),
    (AttemptOutcome(status_code=429), False, ErrorClass.HTTP_STATUS, "HTTP 429 Too Many Requests", 400),
    (AttemptOutcome(status_code=500), False, ErrorClass.HTTP_STATUS, "HTTP 500 Internal Server Error", 500),
    (AttemptOutcome(status_code=502), False, ErrorClass.HTTP_STATUS, "HTTP 502 Bad Gateway", 500),
    (AttemptOutcome(status_code=503), False, ErrorClass.HTTP_STATUS, "HTTP 503 Service Unavailable", 500),
    (AttemptOutcome(status_code=504), False, ErrorClass.HTTP_STATUS, "HTTP 504 Gateway Timeout", 500),
    # the receiver's own reason phrase wins, whitespace tidied; unknown codes still read well
    (AttemptOutcome(status_code=500, reason="Kaboom"), False, ErrorClass.HTTP_STATUS, "HTTP 500 Kaboom", 500),
    (
        AttemptOutcome(status_code=503, reason="  Down \r\n for  maintenance "),
        False,
        ErrorClass.HTTP_STATUS,
        "HTTP 503 Down for maintenance",
        500,
    ),
    (AttemptOutcome(status_code=418, reason=""), False, ErrorClass.HTTP_STATUS, "HTTP 418 I'm a Teapot", 400),
    (AttemptOutcome(status_code=299, reason="Whatever"), True, None, None, 200),
    (AttemptOutcome(status_code=499), False, ErrorClass.HTTP_STATUS, "HTTP 499", 400),
    (AttemptOutcome(status_code=599, reason="   "), False, ErrorClass.HTTP_STATUS, "HTTP 599", 500),
    # a non-2xx status stays the reason even when the body then failed
    (
        AttemptOutcome(status_code=500, error=E.TIMEOUT, connected=True),
        False,
        ErrorClass.HTTP_STATUS,
        "HTTP 500 Internal Server Error",
        500,
    ),
    (
        AttemptOutcome(status_code=404, error=E.BODY_TOO_LARGE),
        False,
        ErrorClass.HTTP_STATUS,
        "HTTP 404 Not Found",
        400,
    ),
    # a status no HTTP server may send
    (AttemptOutcome(status_code=999), False, ErrorClass.INVALID_RESPONSE, "invalid HTTP status 999", 0),
    (AttemptOutcome(status_code=600), False, ErrorClass.INVALID_RESPONSE, "invalid HTTP status 600", 0),
    (AttemptOutcome(status_code=0), False, ErrorClass.INVALID_RESPONSE, "invalid HTTP status 0", 0),
    (AttemptOutcome(status_code=42), False, ErrorClass.INVALID_RESPONSE, "invalid HTTP status 42", 0),
    # transport failures: no status
    (AttemptOutcome(error=E.DNS), False, ErrorClass.DNS, "DNS resolution failed", 0),
    (
        AttemptOutcome(error=E.DNS, detail="Name or service not known"),
        False,
        ErrorClass.DNS,
        "DNS resolution failed: Name or service not known",
        0,
    ),
    (AttemptOutcome(error=E.CONNECT), False, ErrorClass.CONNECT, "connection failed", 0),
    (
        AttemptOutcome(error=E.CONNECT, detail="[Errno 111] Connection refused"),
        False,
        ErrorClass.CONNECT,
        "connection failed: [Errno 111] Connection refused",
        0,
    ),
    (AttemptOutcome(error=E.TLS), False, ErrorClass.TLS, "TLS handshake failed", 0),
    (
        AttemptOutcome(error=E.TLS, detail="certificate verify failed:\nself-signed certificate"),
        False,
        ErrorClass.TLS,
        "TLS handshake failed: certificate verify failed: self-signed certificate",
        0,
    ),
    (AttemptOutcome(error=E.TIMEOUT), False, ErrorClass.TIMEOUT, "connection timeout", 0),
    (AttemptOutcome(error=E.TIMEOUT, connected=True), False, ErrorClass.TIMEOUT, "response timeout", 0),
    (AttemptOutcome(error=E.TIMEOUT, detail="15s"), False, ErrorClass.TIMEOUT, "connection timeout: 15s", 0),
    (AttemptOutcome(error=E.BODY_TOO_LARGE), False, ErrorClass.BODY_TOO_LARGE, "response body too large", 0),
    (
        AttemptOutcome(error=E.SSRF_BLOCKED, detail="10.0.0.7 is private"),
        False,
        ErrorClass.SSRF_BLOCKED,
        "destination address not allowed: 10.0.0.7 is private",
        0,
    ),
    (AttemptOutcome(error=E.INVALID_RESPONSE), False, ErrorClass.INVALID_RESPONSE, "invalid HTTP response", 0),
    (
        AttemptOutcome(error=E.INVALID_RESPONSE, detail="   "),
        False,
        ErrorClass.INVALID_RESPONSE,
        "invalid HTTP response",
        0,
    ),
    (AttemptOutcome(error=E.CONNECT, connected=True), False, ErrorClass.CONNECT, "connection failed", 0),
]


@pytest.mark.parametrize(("outcome", "success", "error_class", "error_text", "code_class"), CASES)
def test_classify(
    outcome: AttemptOutcome,
    success: bool,
    error_class: ErrorClass | None,
    error_text: str | None,
    code_class: int,
) -> None:
    assert classify(outcome) == Classification(success, error_class, error_text, StatusCodeClass(code_class))


@pytest.mark.parametrize("outcome", [case[0] for case in CASES])
def test_classification_invariants(outcome: AttemptOutcome) -> None:
    result = classify(outcome)
    assert result.success == (result.error_class is None) == (result.error_text is None)
    assert result.success == (result.status_code_class == StatusCodeClass.CODE_2XX)
    if result.error_class is ErrorClass.HTTP_STATUS:
        assert result.error_text is not None and result.error_text.startswith(f"HTTP {outcome.status_code}")


def test_every_transport_error_classifies_as_its_own_class() -> None:
    for error in TransportError:
        result = classify(AttemptOutcome(error=error))
        assert result.error_class == ErrorClass(error.value)
        assert not result.success
        assert result.status_code_class == StatusCodeClass.NONE


def test_error_classes_match_the_avro_enum() -> None:
    avro_symbols = [
        "dns",
        "connect",
        "tls",
        "timeout",
        "http_status",
        "body_too_large",
        "ssrf_blocked",
        "invalid_response",
    ]
    assert [member.value for member in ErrorClass] == avro_symbols


def test_an_outcome_needs_a_status_or_an_error() -> None:
    with pytest.raises(ValueError, match="needs a status code, an error, or both"):
        AttemptOutcome()


@pytest.mark.parametrize("error", [E.DNS, E.CONNECT, E.TLS, E.SSRF_BLOCKED])
def test_errors_before_any_response_cannot_carry_a_status(error: TransportError) -> None:
    with pytest.raises(ValueError, match="before any response"):
        AttemptOutcome(status_code=200, error=error)


@pytest.mark.parametrize("code", [True, 200.0, "200"])
def test_status_code_must_be_an_int(code: object) -> None:
    with pytest.raises(TypeError):
        AttemptOutcome(status_code=code)  # type: ignore[arg-type]


def test_outcome_and_classification_are_frozen() -> None:
    outcome = AttemptOutcome(status_code=200)
    with pytest.raises(AttributeError):
        outcome.status_code = 500  # type: ignore[misc]
    with pytest.raises(AttributeError):
        classify(outcome).success = False  # type: ignore[misc]
