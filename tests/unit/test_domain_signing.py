"""Standard Webhooks signing, checked against the spec's vector and the real receiver libraries."""

from __future__ import annotations

import base64
import json
import random
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks.webhooks as standard
import svix.webhooks

from hookstream.domain import signing
from hookstream.domain.signing import InvalidSecret, InvalidSignature

# The vector every Standard Webhooks library tests (standard-webhooks repo, libraries/*/tests).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def random_secret(rng: random.Random) -> str:
    return signing.generate_secret(rng.randbytes(rng.randint(signing.MIN_SECRET_BYTES, signing.MAX_SECRET_BYTES)))


def random_body(rng: random.Random) -> bytes:
    doc = {
        "type": rng.choice(["invoice.paid", "user.created", "ünïcödé.event"]),
        "amount": rng.randint(-(10**12), 10**12),
        "note": "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0xA0, 0x2FFF)])) for _ in range(40)),
        "nested": {"list": [rng.random() for _ in range(3)], "flag": rng.random() < 0.5},
    }
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode()


# --- the spec's vector ------------------------------------------------------


def test_spec_vector() -> None:
    assert signing.sign(SPEC_SECRET, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


def test_spec_vector_with_the_reference_library() -> None:
    wh = standard.Webhook(SPEC_SECRET)
    signed_at = datetime.fromtimestamp(SPEC_TIMESTAMP, tz=UTC)
    assert wh.sign(SPEC_MSG_ID, signed_at, SPEC_BODY.decode()) == SPEC_SIGNATURE


def test_spec_vector_verifies_with_our_verify() -> None:
    headers = {"webhook-id": SPEC_MSG_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE}
    signing.verify([SPEC_SECRET], SPEC_BODY, headers, now=SPEC_TIMESTAMP + 10)


def test_secret_without_prefix_signs_the_same() -> None:
    bare = SPEC_SECRET.removeprefix("whsec_")
    assert signing.sign(bare, SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE


# --- the real receiver libraries accept what we send ------------------------


def test_standardwebhooks_library_verifies_our_headers() -> None:
    rng = random.Random(1)
    now = int(time.time())
    for _ in range(50):
        secret, body = random_secret(rng), random_body(rng)
        msg_id = f"msg_{rng.getrandbits(64):x}"
        headers = signing.webhook_headers(msg_id, now, body, [secret])
        assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert standard.Webhook(secret).verify(body, headers) == json.loads(body)


def test_svix_library_verifies_our_svix_named_headers() -> None:
    rng = random.Random(2)
    now = int(time.time())
    for _ in range(50):
        secret, body = random_secret(rng), random_body(rng)
        msg_id = f"msg_{rng.getrandbits(64):x}"
        headers = signing.webhook_headers(msg_id, now, body, [secret], svix_names=True)
        assert set(headers) == {"svix-id", "svix-timestamp", "svix-signature"}
        svix.webhooks.Webhook(secret).verify(body, headers)


def test_the_libraries_reject_a_tampered_body() -> None:
    secret = signing.generate_secret(bytes(range(32)))
    headers = signing.webhook_headers("msg_1", int(time.time()), b'{"a": 1}', [secret])
    with pytest.raises(standard.WebhookVerificationError):
        standard.Webhook(secret).verify(b'{"a": 2}', headers)


def test_rotation_every_secret_verifies() -> None:
    rng = random.Random(3)
    now = int(time.time())
    secrets = [random_secret(rng) for _ in range(4)]
    body = random_body(rng)
    headers = signing.webhook_headers("msg_rotation", now, body, secrets)
    signatures = headers["webhook-signature"].split(" ")
    assert len(signatures) == 4
    assert all(sig.startswith("v1,") for sig in signatures)
    for secret in secrets:
        standard.Webhook(secret).verify(body, headers)
        svix.webhooks.Webhook(secret).verify(
            body, signing.webhook_headers("msg_rotation", now, body, secrets, svix_names=True)
        )
        signing.verify([secret], body, headers, now=now)
    with pytest.raises(standard.WebhookVerificationError):
        standard.Webhook(random_secret(rng)).verify(body, headers)


def test_signature_header_drops_duplicate_secrets_and_keeps_order() -> None:
    a, b = signing.generate_secret(b"a" * 24), signing.generate_secret(b"b" * 24)
    header = signing.signature_header([a, b, a], "msg_1", 1, b"{}")
    assert header.split(" ") == [signing.sign(a, "msg_1", 1, b"{}"), signing.sign(b, "msg_1", 1, b"{}")]


def test_signature_header_refuses_no_secrets_and_a_bare_string() -> None:
    with pytest.raises(ValueError, match="at least one"):
        signing.signature_header([], "msg_1", 1, b"{}")
    with pytest.raises(TypeError, match="wrap a single secret"):
        signing.signature_header(SPEC_SECRET, "msg_1", 1, b"{}")


def test_webhook_headers_are_exactly_what_the_spec_names() -> None:
    headers = signing.webhook_headers(SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY, [SPEC_SECRET])
    assert headers == {
        "webhook-id": SPEC_MSG_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SPEC_SIGNATURE,
    }


# --- secrets ----------------------------------------------------------------


@pytest.mark.parametrize("size", [24, 32, 64])
def test_generate_secret(size: int) -> None:
    rand = bytes(range(size))
    secret = signing.generate_secret(rand)
    assert secret.startswith("whsec_")
    assert base64.b64decode(secret.removeprefix("whsec_")) == rand
    assert signing.decode_secret(secret) == rand


@pytest.mark.parametrize("size", [0, 23, 65])
def test_generate_secret_refuses_sizes_outside_the_spec(size: int) -> None:
    with pytest.raises(ValueError, match="24 to 64"):
        signing.generate_secret(bytes(size))


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")),
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS=")),
        ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr==")),
    ],
)
def test_decode_secret_tolerates_missing_padding(secret: str, key: bytes) -> None:
    assert signing.decode_secret(secret) == key


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("", "empty"),
        ("whsec_", "empty"),
        ("whsec_not base64!", "base64"),
        ("whsec_abcde", "base64"),
        ("whsec_====", "base64"),
    ],
)
def test_decode_secret_refuses(secret: str, reason: str) -> None:
    with pytest.raises(InvalidSecret, match=reason):
        signing.decode_secret(secret)
    with pytest.raises(InvalidSecret):
        signing.sign(secret, "msg_1", 1, b"{}")


@pytest.mark.parametrize(
    ("msg_id", "timestamp"),
    [("", 1), ("msg 1", 1), ("msg_1\r\nX-Evil: 1", 1), ("msg_1", -1), ("msg_1", True), ("msg_1", 1.5)],
)
def test_sign_refuses_ids_and_timestamps_that_would_corrupt_headers(msg_id: str, timestamp: int) -> None:
    with pytest.raises(ValueError):
        signing.sign(SPEC_SECRET, msg_id, timestamp, b"{}")


# --- our own verify ---------------------------------------------------------

NOW = 1_732_000_000
SECRET = signing.generate_secret(bytes(range(24, 56)))
OTHER = signing.generate_secret(bytes(range(100, 132)))
BODY = b'{"type": "invoice.paid"}'


def headers_at(timestamp: int, secrets: list[str] | None = None, prefix: str = "webhook") -> dict[str, str]:
    return signing.webhook_headers("msg_v", timestamp, BODY, secrets or [SECRET], svix_names=prefix == "svix")


@pytest.mark.parametrize("skew", [-300, -1, 0, 1, 300])
def test_verify_accepts_within_tolerance(skew: int) -> None:
    signing.verify([SECRET], BODY, headers_at(NOW + skew), now=NOW)


@pytest.mark.parametrize(("skew", "reason"), [(-301, "too old"), (301, "too new"), (-86_400, "too old")])
def test_verify_refuses_outside_tolerance(skew: int, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        signing.verify([SECRET], BODY, headers_at(NOW + skew), now=NOW)


def test_verify_tolerance_is_configurable() -> None:
    signing.verify([SECRET], BODY, headers_at(NOW - 3600), now=NOW, tolerance_s=3600)
    with pytest.raises(InvalidSignature, match="too old"):
        signing.verify([SECRET], BODY, headers_at(NOW - 10), now=NOW, tolerance_s=5)


def test_verify_accepts_svix_names_and_any_header_case() -> None:
    signing.verify([SECRET], BODY, headers_at(NOW, prefix="svix"), now=NOW)
    shouted = {name.upper(): value for name, value in headers_at(NOW).items()}
    signing.verify([SECRET], BODY, shouted, now=NOW)


def test_verify_any_of_several_secrets() -> None:
    signing.verify([OTHER, SECRET], BODY, headers_at(NOW), now=NOW)
    signing.verify([SECRET], BODY, headers_at(NOW, [OTHER, SECRET]), now=NOW)


def test_verify_skips_unknown_versions_and_junk_signatures() -> None:
    headers = headers_at(NOW)
    good = headers["webhook-signature"]
    headers["webhook-signature"] = f"v1a,AAAA v2,{good[3:]} v1,!!notbase64!! v1 {good}"
    signing.verify([SECRET], BODY, headers, now=NOW)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h: h.pop("webhook-id"), "missing header webhook-id"),
        (lambda h: h.pop("webhook-timestamp"), "missing header webhook-timestamp"),
        (lambda h: h.pop("webhook-signature"), "missing header webhook-signature"),
        (lambda h: h.update({"webhook-signature": ""}), "missing header webhook-signature"),
        (lambda h: h.update({"webhook-timestamp": "1732000000.5"}), "not whole unix seconds"),
        (lambda h: h.update({"webhook-timestamp": "-5"}), "not whole unix seconds"),
        (lambda h: h.update({"webhook-timestamp": "\uff11\uff17\uff13\uff12"}), "not whole unix seconds"),
        (lambda h: h.update({"webhook-id": "msg_other"}), "no v1 signature matches"),
        (lambda h: h.update({"webhook-id": "msg v"}), "not printable text without spaces"),
        (lambda h: h.update({"webhook-signature": "v1,AAAA"}), "no v1 signature matches"),
        (lambda h: h.update({"webhook-signature": h["webhook-signature"].replace("v1,", "v2,")}), "no v1"),
    ],
)
def test_verify_refuses_tampered_headers(change, reason: str) -> None:  # type: ignore[no-untyped-def]
    headers = headers_at(NOW)
    change(headers)
    with pytest.raises(InvalidSignature, match=reason):
        signing.verify([SECRET], BODY, headers, now=NOW)


def test_verify_names_the_missing_header_in_the_dialect_sent() -> None:
    headers = headers_at(NOW, prefix="svix")
    del headers["svix-timestamp"]
    with pytest.raises(InvalidSignature, match="missing header svix-timestamp"):
        signing.verify([SECRET], BODY, headers, now=NOW)
    with pytest.raises(InvalidSignature, match="missing header webhook-id"):
        signing.verify([SECRET], BODY, {}, now=NOW)


def test_verify_refuses_a_tampered_body_or_wrong_secret() -> None:
    with pytest.raises(InvalidSignature, match="no v1 signature matches"):
        signing.verify([SECRET], BODY + b" ", headers_at(NOW), now=NOW)
    with pytest.raises(InvalidSignature, match="no v1 signature matches"):
        signing.verify([OTHER], BODY, headers_at(NOW), now=NOW)
    with pytest.raises(InvalidSignature):
        signing.verify([], BODY, headers_at(NOW), now=NOW)


def test_verify_refuses_a_bare_string_of_secrets() -> None:
    with pytest.raises(TypeError):
        signing.verify(SECRET, BODY, headers_at(NOW), now=NOW)


def test_exceptions_are_value_errors() -> None:
    assert issubclass(InvalidSecret, ValueError)
    assert issubclass(InvalidSignature, ValueError)
