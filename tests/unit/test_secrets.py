import base64

import pytest

from hookstream.foundation.secrets import SecretBox, SecretKeyError, new_key_text, parse_keys


def test_seal_open_round_trip_and_ciphertext_is_not_the_secret() -> None:
    box = SecretBox(parse_keys(new_key_text()))
    ciphertext, key_id = box.seal("whsec_abc")
    assert b"whsec_abc" not in ciphertext
    assert box.open(ciphertext, key_id) == "whsec_abc"
    assert box.seal("whsec_abc")[0] != ciphertext, "each seal uses a fresh nonce"


def test_old_keys_still_open_after_rotation() -> None:
    old, new = parse_keys(new_key_text())[0], parse_keys(new_key_text())[0]
    ciphertext, key_id = SecretBox([old]).seal("s")
    rotated = SecretBox([new, old])
    assert rotated.open(ciphertext, key_id) == "s"
    assert rotated.seal("s")[1] == rotated.sealing_key_id != key_id
    with pytest.raises(SecretKeyError, match="not among the configured keys"):
        SecretBox([new]).open(ciphertext, key_id)


def test_tampered_ciphertext_is_refused() -> None:
    box = SecretBox(parse_keys(new_key_text()))
    ciphertext, key_id = box.seal("s")
    with pytest.raises(SecretKeyError, match="does not open"):
        box.open(ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]), key_id)


@pytest.mark.parametrize(
    ("text", "needle"),
    [("", "no secret key"), ("!!!", "not base64"), (base64.b64encode(b"short").decode(), "5 bytes, expected 32")],
)
def test_bad_keys_are_named(text: str, needle: str) -> None:
    with pytest.raises(SecretKeyError, match=needle):
        parse_keys(text)
