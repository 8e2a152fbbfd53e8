"""Logout's pure parts: how a revocation names a token, the set the API consults, and its Avro record."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from hookstream.domain.access import (
    NONCE_BYTES,
    VIEW_BASE,
    Scope,
    app_token_key,
    authenticate,
    issue_app_token,
    token_id,
)
from hookstream.domain.revocation import RECORD, RevokedTokens, from_record, to_record
from hookstream.log.codec import AvroCodec

OPERATOR = "hs_op_secret"
KEY = app_token_key(OPERATOR)
APP = uuid.UUID("0190f3a4-0000-7000-8000-000000000001")


def _revoked(*tokens: str, now: float = 0) -> RevokedTokens:
    revoked = RevokedTokens()
    for token in tokens:
        named = token_id(token)
        assert named is not None
        revoked.add(named, now)
    return revoked


def test_a_logged_out_token_is_refused_and_another_of_its_application_is_not() -> None:
    gone, kept = issue_app_token(KEY, APP, 2_000), issue_app_token(KEY, APP, 2_001)
    revoked = _revoked(gone)
    assert authenticate(OPERATOR, gone, 1_000, revoked=revoked.revoked) is None
    assert authenticate(OPERATOR, kept, 1_000, revoked=revoked.revoked) is not None
    assert authenticate(OPERATOR, OPERATOR, 1_000, revoked=revoked.revoked) is not None, "the operator token stays"


def test_a_token_is_named_by_its_bytes_so_another_spelling_is_the_same_token() -> None:
    token = issue_app_token(KEY, APP, 2_000)
    padded = token + "=" * (-len(token.removeprefix("hs_app_")) % 4)
    assert padded != token and authenticate(OPERATOR, padded, 1_000) is not None
    assert authenticate(OPERATOR, padded, 1_000, revoked=_revoked(token).revoked) is None
    named = token_id(token)
    assert named is not None and (named.app_id, named.expires_at) == (APP, 2_000)
    assert token.removeprefix("hs_app_") not in named.digest and len(named.digest) == 32
    assert token_id("hs_op_secret") is None and token_id("hs_app_!!") is None


def test_the_set_keeps_a_token_only_until_it_expires() -> None:
    revoked = RevokedTokens()
    old = token_id(issue_app_token(KEY, APP, 1_000))
    assert old is not None
    revoked.add(old, now=1_000)
    assert len(revoked) == 0, "a replayed revocation of an expired token is not kept"
    live = [token_id(issue_app_token(KEY, APP, 1_000 + i)) for i in range(1, 200)]
    for i, named in enumerate(live):
        assert named is not None
        revoked.add(named, now=1_000 + i // 2)
    assert len(revoked) < 150, "sweeps dropped the entries whose tokens expired meanwhile"
    last = live[-1]
    assert last is not None and revoked.revoked(last.digest)
    revoked.forget_expired(now=1_199)
    assert len(revoked) == 0


def test_a_revocation_survives_its_avro_record() -> None:
    codec = AvroCodec()
    named = token_id(issue_app_token(KEY, APP, 2_000))
    assert named is not None
    name, record = codec.decode(codec.encode(RECORD, to_record(named, datetime(2026, 1, 1, tzinfo=UTC))))
    assert (name, from_record(record)) == (RECORD, named)


def test_tokens_alike_but_for_their_nonce_are_two_tokens_and_narrowing_still_holds() -> None:
    """Issued in the same second for one application, two tokens differ by their nonce: logging one out keeps the
    other; a nonce and a capability byte together parse, and tokens without a nonce still verify."""
    one, two = (issue_app_token(KEY, APP, 2_000, nonce=bytes([n]) * NONCE_BYTES) for n in (1, 2))
    assert one != two
    revoked = _revoked(one)
    assert authenticate(OPERATOR, one, 1_000, revoked=revoked.revoked) is None
    assert authenticate(OPERATOR, two, 1_000, revoked=revoked.revoked) == Scope(APP)
    narrowed = issue_app_token(KEY, APP, 2_000, capabilities=frozenset({VIEW_BASE}), nonce=b"\x07" * NONCE_BYTES)
    assert authenticate(OPERATOR, narrowed, 1_000) == Scope(APP, frozenset({VIEW_BASE}))
    assert authenticate(OPERATOR, issue_app_token(KEY, APP, 2_000), 1_000) == Scope(APP)
    with pytest.raises(ValueError, match="nonce"):
        issue_app_token(KEY, APP, 2_000, nonce=b"short")
