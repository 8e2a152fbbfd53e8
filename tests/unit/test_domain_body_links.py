"""Signed response-body links: valid until they expire, and useless for any other attempt or key."""

import dataclasses
import uuid

import pytest

from hookstream.domain.body_links import BodyRef, LinkCheck, body_link_key, sign, verify
from hookstream.domain.ids import new_id

KEY = body_link_key("hs_op_operator")
REF = BodyRef(new_id(1_700_000_000_000, bytes(10)), new_id(1_700_000_000_001, bytes(10)), new_id(1, b"\x01" * 10))
EXPIRES = 1_700_000_900


def test_a_signed_link_is_valid_until_it_expires() -> None:
    signature = sign(KEY, REF, EXPIRES)
    assert verify(KEY, REF, EXPIRES, signature, now=EXPIRES - 900) is LinkCheck.VALID
    assert verify(KEY, REF, EXPIRES, signature, now=EXPIRES - 0.001) is LinkCheck.VALID
    assert verify(KEY, REF, EXPIRES, signature, now=EXPIRES) is LinkCheck.EXPIRED
    assert verify(KEY, REF, EXPIRES, signature, now=EXPIRES + 3600) is LinkCheck.EXPIRED


@pytest.mark.parametrize("field", ["app_id", "msg_id", "attempt_id"])
def test_the_signature_does_not_open_another_attempt(field: str) -> None:
    signature = sign(KEY, REF, EXPIRES)
    other = dataclasses.replace(REF, **{field: uuid.uuid4()})
    assert verify(KEY, other, EXPIRES, signature, now=EXPIRES - 1) is LinkCheck.FORGED


def test_a_stretched_expiry_is_forged_not_valid() -> None:
    signature = sign(KEY, REF, EXPIRES)
    assert verify(KEY, REF, EXPIRES + 3600, signature, now=EXPIRES + 1) is LinkCheck.FORGED


def test_another_operator_token_signs_differently() -> None:
    signature = sign(body_link_key("hs_op_other"), REF, EXPIRES)
    assert verify(KEY, REF, EXPIRES, signature, now=EXPIRES - 1) is LinkCheck.FORGED


@pytest.mark.parametrize("signature", ["", "***", "a", "AAAAAAAAAAAAAAAAAAAAAA", "x" * 200])
def test_malformed_signatures_are_forged(signature: str) -> None:
    assert verify(KEY, REF, EXPIRES, signature, now=EXPIRES - 1) is LinkCheck.FORGED


def test_one_flipped_character_is_forged() -> None:
    signature = sign(KEY, REF, EXPIRES)
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    assert verify(KEY, REF, EXPIRES, flipped, now=EXPIRES - 1) is LinkCheck.FORGED


def test_expiry_out_of_range() -> None:
    with pytest.raises(ValueError, match="Unix seconds"):
        sign(KEY, REF, -1)
    assert verify(KEY, REF, -1, sign(KEY, REF, 0), now=0) is LinkCheck.FORGED
    assert verify(KEY, REF, 1 << 63, sign(KEY, REF, 0), now=0) is LinkCheck.FORGED


def test_signatures_are_url_safe_and_short() -> None:
    signature = sign(KEY, REF, EXPIRES)
    assert len(signature) == 22
    assert set(signature) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
