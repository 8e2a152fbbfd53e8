"""UUIDv7 ids and their Svix rendering: layout, round trips, order, determinism, refusals."""

from __future__ import annotations

import random
import time
import uuid
from itertools import pairwise

import pytest

from hookstream.domain import ids
from hookstream.domain.ids import IdKind, InvalidId

NOW_MS = 1_732_000_000_000  # 2024-11-19
ALL_KINDS = list(IdKind)


def rand_bytes(rng: random.Random) -> bytes:
    return rng.randbytes(ids.RANDOM_BYTES)


# --- layout -----------------------------------------------------------------


def test_new_id_is_uuidv7_with_rfc9562_layout() -> None:
    value = ids.new_id(NOW_MS, bytes(range(10)))
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert value.int >> 80 == NOW_MS
    assert (value.int >> 76) & 0xF == 0x7
    assert (value.int >> 62) & 0b11 == 0b10


def test_new_id_uses_the_leading_74_random_bits() -> None:
    rand = bytes.fromhex("ffeeddccbbaa99887766")
    value = ids.new_id(NOW_MS, rand)
    expected = int.from_bytes(rand, "big") >> 6
    assert (value.int >> 64) & 0xFFF == expected >> 62
    assert value.int & ((1 << 62) - 1) == expected & ((1 << 62) - 1)


def test_new_id_is_a_pure_function() -> None:
    assert ids.new_id(NOW_MS, b"0123456789") == ids.new_id(NOW_MS, b"0123456789")
    assert ids.new_id(NOW_MS, b"0123456789") != ids.new_id(NOW_MS, b"1123456789")


def test_only_the_last_six_random_bits_are_dropped() -> None:
    base = bytes(10)
    assert ids.new_id(NOW_MS, base) == ids.new_id(NOW_MS, base[:9] + b"\x3f")
    assert ids.new_id(NOW_MS, base) != ids.new_id(NOW_MS, base[:9] + b"\x40")


@pytest.mark.parametrize("now_ms", [0, 1, NOW_MS, ids.MAX_TIMESTAMP_MS])
def test_timestamp_round_trips(now_ms: int) -> None:
    assert ids.timestamp_ms(ids.new_id(now_ms, bytes(10))) == now_ms


@pytest.mark.parametrize(
    ("now_ms", "rand", "error"),
    [
        (-1, bytes(10), ValueError),
        (ids.MAX_TIMESTAMP_MS + 1, bytes(10), ValueError),
        (NOW_MS, bytes(9), ValueError),
        (NOW_MS, bytes(11), ValueError),
        (float(NOW_MS), bytes(10), TypeError),
        (True, bytes(10), TypeError),
    ],
)
def test_new_id_refuses_bad_inputs(now_ms: object, rand: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        ids.new_id(now_ms, rand)  # type: ignore[arg-type]


def test_timestamp_ms_refuses_other_versions() -> None:
    with pytest.raises(InvalidId, match="version 4"):
        ids.timestamp_ms(uuid.UUID("e1949820-4d9e-4a2a-b34d-d4349cee45ea"))


# --- monotonic generation ----------------------------------------------------


def test_next_id_without_previous_is_new_id() -> None:
    assert ids.next_id(None, NOW_MS, b"abcdefghij") == ids.new_id(NOW_MS, b"abcdefghij")


def test_next_id_in_a_later_ms_is_fresh() -> None:
    previous = ids.new_id(NOW_MS, b"\xff" * 10)
    assert ids.next_id(previous, NOW_MS + 1, b"abcdefghij") == ids.new_id(NOW_MS + 1, b"abcdefghij")


def test_next_id_within_one_ms_sorts_in_creation_order() -> None:
    rng = random.Random(7)
    made = [ids.new_id(NOW_MS, rand_bytes(rng))]
    for _ in range(5000):
        made.append(ids.next_id(made[-1], NOW_MS, rand_bytes(rng)))
    assert all(a < b for a, b in pairwise(made))
    assert {ids.timestamp_ms(value) for value in made} == {NOW_MS}
    assert all(value.version == 7 and value.variant == uuid.RFC_4122 for value in made)


def test_next_id_survives_a_clock_stepping_back() -> None:
    previous = ids.new_id(NOW_MS, b"abcdefghij")
    later = ids.next_id(previous, NOW_MS - 5000, b"klmnopqrst")
    assert later > previous
    assert ids.timestamp_ms(later) == NOW_MS


def test_next_id_moves_to_the_next_ms_when_the_random_field_overflows() -> None:
    previous = ids.id_ceiling(NOW_MS)
    following = ids.next_id(previous, NOW_MS, b"\x00" * 10)
    assert following > previous
    assert ids.timestamp_ms(following) == NOW_MS + 1


def test_next_id_cannot_pass_the_end_of_time() -> None:
    with pytest.raises(ValueError, match="largest"):
        ids.next_id(ids.id_ceiling(ids.MAX_TIMESTAMP_MS), ids.MAX_TIMESTAMP_MS, bytes(10))


def test_generate_id_is_uuidv7_now_and_monotonic() -> None:
    made = [ids.generate_id() for _ in range(2000)]
    assert all(a < b for a, b in pairwise(made))
    assert all(value.version == 7 for value in made)
    assert abs(ids.timestamp_ms(made[-1]) - time.time_ns() // 1_000_000) < 60_000


# --- bounds -----------------------------------------------------------------


def test_floor_and_ceiling_bracket_every_id_of_their_ms() -> None:
    rng = random.Random(3)
    floor, ceiling = ids.id_floor(NOW_MS), ids.id_ceiling(NOW_MS)
    for _ in range(500):
        value = ids.new_id(NOW_MS, rand_bytes(rng))
        assert floor <= value <= ceiling
    assert ids.id_ceiling(NOW_MS - 1) < floor
    assert ceiling < ids.id_floor(NOW_MS + 1)
    assert floor.version == ceiling.version == 7
    assert floor == ids.new_id(NOW_MS, bytes(10))
    assert ceiling == ids.new_id(NOW_MS, b"\xff" * 10)


# --- Svix rendering ---------------------------------------------------------


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_svix_form_is_prefix_and_22_base62_digits(kind: IdKind) -> None:
    rng = random.Random(kind.value)
    for _ in range(200):
        text = ids.to_svix(kind, ids.new_id(rng.randrange(ids.MAX_TIMESTAMP_MS + 1), rand_bytes(rng)))
        prefix, _, digits = text.partition("_")
        assert prefix == kind.value
        assert len(digits) == ids.BASE62_LENGTH
        assert all(char.isascii() and char.isalnum() for char in digits)


def test_svix_form_of_a_known_value() -> None:
    value = ids.new_id(1_700_000_000_000, bytes(range(10)))
    assert str(value) == "018bcfe5-6800-7000-8408-0c1014181c20"
    assert ids.to_svix(IdKind.MESSAGE, value) == "msg_02usyDNX9I74nhYGV3TNYW"


def test_extreme_values_keep_fixed_length() -> None:
    assert ids.to_svix(IdKind.ENDPOINT, ids.id_floor(0)) == "ep_000000002dwHTRTFRxWLTM"  # leading zeros kept
    for value in (ids.id_floor(0), ids.id_ceiling(ids.MAX_TIMESTAMP_MS)):
        text = ids.to_svix(IdKind.ENDPOINT, value)
        assert len(text) == len("ep_") + ids.BASE62_LENGTH
        assert ids.parse_id(text, IdKind.ENDPOINT) == value


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_round_trip_both_forms(kind: IdKind) -> None:
    rng = random.Random(f"round-trip-{kind}")
    for _ in range(500):
        value = ids.new_id(rng.randrange(ids.MAX_TIMESTAMP_MS + 1), rand_bytes(rng))
        assert ids.parse_id(ids.to_svix(kind, value), kind) == value
        assert ids.parse_id(str(value), kind) == value
        assert ids.parse_id(str(value).upper(), kind) == value


def test_string_order_is_time_order_in_both_forms() -> None:
    rng = random.Random(42)
    start = NOW_MS - 10 * 365 * 86_400_000
    times = sorted(rng.sample(range(start, start + 20 * 365 * 86_400_000), 3000))
    made = [ids.new_id(ms, rand_bytes(rng)) for ms in times]
    shuffled = made[:]
    rng.shuffle(shuffled)
    for render in (lambda value: ids.to_svix(IdKind.MESSAGE, value), str):
        assert sorted(shuffled, key=render) == made
    assert sorted(shuffled) == made


def test_string_order_is_numeric_order_within_one_ms_too() -> None:
    rng = random.Random(5)
    made = [ids.new_id(NOW_MS + rng.randrange(3), rand_bytes(rng)) for _ in range(3000)]
    by_number = sorted(made, key=lambda value: value.int)
    assert sorted(made, key=lambda value: ids.to_svix(IdKind.ATTEMPT, value)) == by_number
    assert sorted(made, key=str) == by_number


def test_to_svix_refuses_non_v7() -> None:
    with pytest.raises(InvalidId, match="version 4"):
        ids.to_svix(IdKind.MESSAGE, uuid.UUID("e1949820-4d9e-4a2a-b34d-d4349cee45ea"))


def test_svix_digits_are_the_base62_number_most_significant_first() -> None:
    """The digits, read two at a time from a table, are the id's value in base 62, one divmod at a time."""
    rng = random.Random(62)
    for _ in range(2000):
        value = ids.new_id(rng.randrange(ids.MAX_TIMESTAMP_MS + 1), rand_bytes(rng))
        number, digits = value.int, []
        for _ in range(ids.BASE62_LENGTH):
            number, digit = divmod(number, 62)
            digits.append("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"[digit])
        assert ids.to_svix(IdKind.ATTEMPT, value) == "atmpt_" + "".join(reversed(digits))


def test_to_svix_refuses_other_variants_and_non_uuids() -> None:
    with pytest.raises(InvalidId, match="variant"):
        ids.to_svix(IdKind.MESSAGE, uuid.UUID(int=GOOD.int & ~(1 << 63)))
    with pytest.raises(TypeError):
        ids.to_svix(IdKind.MESSAGE, str(GOOD))  # type: ignore[arg-type]


# --- parse refusals ---------------------------------------------------------

GOOD = ids.new_id(NOW_MS, b"0123456789")
GOOD_MSG = ids.to_svix(IdKind.MESSAGE, GOOD)
GOOD_DIGITS = GOOD_MSG.removeprefix("msg_")


@pytest.mark.parametrize(
    ("text", "kind", "reason"),
    [
        ("", IdKind.MESSAGE, "empty message id"),
        (f"ep_{GOOD_DIGITS}", IdKind.MESSAGE, "wrong prefix 'ep_': message ids start with 'msg_'"),
        (f"msgep_{GOOD_DIGITS}", IdKind.MESSAGE, "wrong prefix 'msgep_': message ids start with 'msg_'"),
        (f"msg_{GOOD_DIGITS}", IdKind.MESSAGE_ENDPOINT, "wrong prefix 'msg_': message_endpoint ids start"),
        (f"MSG_{GOOD_DIGITS}", IdKind.MESSAGE, "wrong prefix 'MSG_'"),
        (f"_{GOOD_DIGITS}", IdKind.MESSAGE, "wrong prefix '_'"),
        ("msg_", IdKind.MESSAGE, "wrong length: expected 22 base62 characters after 'msg_', got 0"),
        (GOOD_MSG[:-1], IdKind.MESSAGE, "got 21"),
        (GOOD_MSG + "0", IdKind.MESSAGE, "got 23"),
        ("msg_" + GOOD_DIGITS[:5] + "-" + GOOD_DIGITS[6:], IdKind.MESSAGE, "bad character '-' at position 9"),
        ("msg_" + GOOD_DIGITS[:21] + "_", IdKind.MESSAGE, "bad character '_' at position 25"),
        ("msg_" + GOOD_DIGITS[:21] + "é", IdKind.MESSAGE, "bad character 'é' at position 25"),
        ("msg_" + GOOD_DIGITS[:21] + " ", IdKind.MESSAGE, "bad character ' ' at position 25"),
        ("msg_" + "z" * 22, IdKind.MESSAGE, "out of range"),
        ("msg_" + "8" + "0" * 21, IdKind.MESSAGE, "out of range"),
        ("abc", IdKind.ATTEMPT, "'abc' is not a valid attempt id"),
        (str(GOOD).replace("-", ""), IdKind.MESSAGE, "canonical UUID"),
        ("{" + str(GOOD)[1:-1] + "}", IdKind.MESSAGE, "bad character '{' at position 0"),
        (str(GOOD)[:8] + "x" + str(GOOD)[9:], IdKind.MESSAGE, "bad character 'x' at position 8: a UUID has '-'"),
        (str(GOOD)[:3] + "g" + str(GOOD)[4:], IdKind.MESSAGE, "bad character 'g' at position 3: a UUID has only hex"),
        ("e1949820-4d9e-4a2a-b34d-d4349cee45ea", IdKind.MESSAGE, "not a UUIDv7: .* is version 4"),
        ("00000000-0000-0000-0000-000000000000", IdKind.MESSAGE, "not a UUIDv7: .* variant"),
        ("018bcfe5-6800-7000-c408-0c1014181c20", IdKind.MESSAGE, "variant"),
        (ids.to_svix(IdKind.MESSAGE, GOOD)[:4] + "0" * 22, IdKind.MESSAGE, "not a UUIDv7"),
    ],
)
def test_parse_id_says_why(text: str, kind: IdKind, reason: str) -> None:
    with pytest.raises(InvalidId, match=reason.replace("(", r"\(").replace("{", r"\{")):
        ids.parse_id(text, kind)


def test_parse_id_refuses_non_text() -> None:
    with pytest.raises(InvalidId, match="message id must be text, got int"):
        ids.parse_id(12345, IdKind.MESSAGE)  # type: ignore[arg-type]


def test_the_largest_22_digit_value_in_range_parses() -> None:
    top = ids.id_ceiling(ids.MAX_TIMESTAMP_MS)
    text = ids.to_svix(IdKind.APPLICATION, top)
    assert text.startswith("app_7")
    assert ids.parse_id(text, IdKind.APPLICATION) == top


def test_invalid_id_is_a_value_error() -> None:
    assert issubclass(InvalidId, ValueError)


# --- deterministic ids ------------------------------------------------------

MSG = ids.new_id(NOW_MS, b"message-id")
EP = ids.new_id(NOW_MS - 99_000, b"endpoint!!")


def test_attempt_id_is_deterministic() -> None:
    assert ids.attempt_id(MSG, EP, 1, 0) == ids.attempt_id(MSG, EP, 1, 0)


def test_derivations_are_pinned() -> None:
    """Changing the derivation would make replays after an upgrade duplicate instead of overwrite."""
    assert str(MSG) == "0193433e-a800-76d6-95cd-cd859d94b5a5"
    assert str(EP) == "0193433d-2548-7656-b991-c1bda5b9d084"
    assert str(ids.attempt_id(MSG, EP, 1, 0)) == "0193433e-a800-71a3-9f25-8c3a58f4a661"
    assert str(ids.message_endpoint_id(MSG, EP)) == "0193433e-a800-7a7c-bd90-2aabadc5d062"


def test_attempt_id_is_a_uuidv7_at_the_message_time() -> None:
    value = ids.attempt_id(MSG, EP, 3, 2)
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert ids.timestamp_ms(value) == ids.timestamp_ms(MSG)
    assert ids.parse_id(ids.to_svix(IdKind.ATTEMPT, value), IdKind.ATTEMPT) == value


def test_attempt_id_depends_on_every_input() -> None:
    other_msg = ids.new_id(NOW_MS, b"Message-id")
    other_ep = ids.new_id(NOW_MS - 99_000, b"Endpoint!!")
    variants = {
        ids.attempt_id(MSG, EP, 1, 0),
        ids.attempt_id(other_msg, EP, 1, 0),
        ids.attempt_id(MSG, other_ep, 1, 0),
        ids.attempt_id(MSG, EP, 2, 0),
        ids.attempt_id(MSG, EP, 1, 1),
        ids.attempt_id(EP, MSG, 1, 0),
    }
    assert len(variants) == 6


def test_attempt_ids_do_not_collide_across_many_inputs() -> None:
    rng = random.Random(11)
    messages = [ids.new_id(NOW_MS, rand_bytes(rng)) for _ in range(20)]
    endpoints = [ids.new_id(NOW_MS, rand_bytes(rng)) for _ in range(10)]
    made = {
        ids.attempt_id(msg, ep, number, seq)
        for msg in messages
        for ep in endpoints
        for number in range(1, 6)
        for seq in range(3)
    }
    assert len(made) == 20 * 10 * 5 * 3


def test_attempts_sort_with_their_message() -> None:
    rng = random.Random(13)
    times = sorted(rng.sample(range(NOW_MS, NOW_MS + 10_000_000), 200))
    messages = [ids.new_id(ms, rand_bytes(rng)) for ms in times]
    rows = [(msg, ids.attempt_id(msg, EP, n, 0)) for msg in messages for n in (1, 2, 3)]
    rows.sort(key=lambda row: ids.to_svix(IdKind.ATTEMPT, row[1]))
    assert [msg for msg, _ in rows] == [msg for msg in messages for _ in range(3)]


@pytest.mark.parametrize(
    ("attempt_number", "trigger_seq"),
    [(0, 0), (-1, 0), (1 << 31, 0), (1, -1), (1, 1 << 31)],
)
def test_attempt_id_refuses_out_of_range_counters(attempt_number: int, trigger_seq: int) -> None:
    with pytest.raises(ValueError):
        ids.attempt_id(MSG, EP, attempt_number, trigger_seq)


def test_attempt_id_needs_a_v7_message_id() -> None:
    with pytest.raises(InvalidId, match="version 4"):
        ids.attempt_id(uuid.UUID("e1949820-4d9e-4a2a-b34d-d4349cee45ea"), EP, 1, 0)
    with pytest.raises(TypeError):
        ids.attempt_id(MSG, str(EP), 1, 0)  # type: ignore[arg-type]


def test_message_endpoint_id_is_deterministic_and_distinct() -> None:
    value = ids.message_endpoint_id(MSG, EP)
    assert value == ids.message_endpoint_id(MSG, EP)
    assert value.version == 7 and ids.timestamp_ms(value) == ids.timestamp_ms(MSG)
    assert value != ids.message_endpoint_id(uuid.UUID(int=MSG.int ^ 1), EP)
    assert value != ids.message_endpoint_id(MSG, ids.new_id(NOW_MS, bytes(10)))
    # domain-separated from attempt ids of the same pair
    assert value not in {ids.attempt_id(MSG, EP, n, s) for n in range(1, 4) for s in range(3)}
    assert ids.to_svix(IdKind.MESSAGE_ENDPOINT, value).startswith("msgep_")
