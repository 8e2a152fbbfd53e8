import base64
import uuid

import pytest

from hookstream.domain.access import (
    ALL_CAPABILITIES,
    CAPABILITIES,
    CREATE_ATTEMPTS,
    FULL_ACCESS,
    MANAGE_ENDPOINT,
    MANAGE_SECRET,
    OPERATOR,
    VIEW_BASE,
    VIEW_SECRET,
    Generation,
    Scope,
    app_token_key,
    authenticate,
    granted,
    issue_app_token,
    permits,
    verify_app_token,
)

KEY = app_token_key("hs_op_secret")
APP = uuid.UUID("0190f3a4-0000-7000-8000-000000000001")
OTHER = uuid.UUID("0190f3a4-0000-7000-8000-000000000002")


def test_operator_token_is_operator_scope() -> None:
    assert authenticate("hs_op_secret", "hs_op_secret", 0) == OPERATOR
    assert OPERATOR.allows(APP) and OPERATOR.allows(str(OTHER))


def test_app_token_round_trip_and_scope() -> None:
    token = issue_app_token(KEY, APP, expires_at=2_000)
    scope = authenticate("hs_op_secret", token, 1_999)
    assert scope == Scope(APP)
    assert scope.allows(APP) and scope.allows(str(APP))
    assert not scope.allows(OTHER)
    assert not scope.is_operator


def test_app_token_expires() -> None:
    token = issue_app_token(KEY, APP, expires_at=2_000)
    assert verify_app_token(KEY, token, 2_000) is None


def test_tampered_forged_and_foreign_tokens_are_refused() -> None:
    token = issue_app_token(KEY, APP, expires_at=2_000)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert verify_app_token(KEY, tampered, 0) is None
    assert verify_app_token(app_token_key("another operator"), token, 0) is None
    assert verify_app_token(KEY, "hs_app_!!!", 0) is None
    assert verify_app_token(KEY, "hs_app_" + "A" * 10, 0) is None
    assert authenticate("hs_op_secret", "", 0) is None
    assert authenticate("hs_op_secret", "hs_op_secreT", 0) is None


def test_a_new_generation_refuses_the_tokens_of_the_ones_before_and_keeps_generation_zero_compatible() -> None:
    key, app, other, now = app_token_key("operator"), uuid.uuid4(), uuid.uuid4(), 1_000.0
    old = issue_app_token(key, app, 2_000)
    assert old == issue_app_token(key, app, 2_000, generation=0)  # tokens issued before generations existed
    bumped = {app: Generation(1)}

    def generations(app_id: uuid.UUID) -> Generation:
        return bumped.get(app_id, Generation())

    assert verify_app_token(key, old, now, generations) is None
    new = issue_app_token(key, app, 2_000, generation=1)
    assert verify_app_token(key, new, now, generations) == Scope(app)
    assert verify_app_token(key, new, now) is None  # a view that has not seen the bump refuses the new one
    assert verify_app_token(key, issue_app_token(key, other, 2_000), now, generations) == Scope(other)
    bumped[app] = Generation(2, previous_until=1_500.0)  # the generation before keeps working until then
    assert verify_app_token(key, new, now, generations) == Scope(app)
    assert verify_app_token(key, new, 1_500.0, generations) is None
    assert verify_app_token(key, old, now, generations) is None  # only the one generation before


def test_a_narrowed_token_carries_its_capabilities_signed_and_a_full_one_is_unchanged() -> None:
    full = issue_app_token(KEY, APP, 2_000)
    assert issue_app_token(KEY, APP, 2_000, capabilities=ALL_CAPABILITIES) == full
    assert verify_app_token(KEY, full, 0) == Scope(APP, ALL_CAPABILITIES)
    narrowed = issue_app_token(KEY, APP, 2_000, capabilities=frozenset({VIEW_BASE, VIEW_SECRET}))
    assert len(narrowed) > len(full)
    assert verify_app_token(KEY, narrowed, 0) == Scope(APP, frozenset({VIEW_BASE, VIEW_SECRET}))
    raw = bytearray(base64.urlsafe_b64decode(narrowed[len("hs_app_") :] + "=" * (-len(narrowed) % 4)))
    raw[24] = 0b111111  # every capability, with the MAC of two
    widened = "hs_app_" + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert verify_app_token(KEY, widened, 0) is None
    dropped = "hs_app_" + base64.urlsafe_b64encode(bytes(raw[:24] + raw[25:])).decode().rstrip("=")
    assert verify_app_token(KEY, dropped, 0) is None, "removing the byte does not make a full token"


def test_granted_capabilities_read_only_and_refusals() -> None:
    assert granted(None) == ALL_CAPABILITIES
    assert granted(None, read_only=True) == granted(list(CAPABILITIES), read_only=True) == {VIEW_BASE}
    assert granted(["ViewBase", "CreateAttempts"]) == {VIEW_BASE, CREATE_ATTEMPTS}
    with pytest.raises(ValueError, match="ViewBase is always required"):
        granted(["ManageEndpoint"])
    with pytest.raises(ValueError, match="unknown"):
        granted(["ViewBase", "Everything"])


@pytest.mark.parametrize(
    ("capabilities", "operation", "method", "lacking"),
    [
        ({VIEW_BASE}, "v1.endpoint.list", "GET", None),
        ({VIEW_BASE}, "v1.authentication.logout", "POST", None),
        ({VIEW_BASE}, "v1.endpoint.get-secret", "GET", VIEW_SECRET),
        ({VIEW_BASE}, "v1.endpoint.create", "POST", MANAGE_ENDPOINT),
        ({VIEW_BASE}, "v1.message.create", "POST", FULL_ACCESS),  # no capability covers it: only a full token
        ({VIEW_BASE, VIEW_SECRET}, "v1.endpoint.get-secret", "GET", None),
        ({VIEW_BASE, VIEW_SECRET}, "v1.endpoint.rotate-secret", "POST", MANAGE_SECRET),
        ({VIEW_BASE, MANAGE_SECRET}, "v1.endpoint.get-secret", "GET", None),
        ({VIEW_BASE, MANAGE_ENDPOINT}, "v1.endpoint.rotate-secret", "POST", None),
        ({VIEW_BASE, MANAGE_ENDPOINT}, "v1.endpoint.delete", "DELETE", None),
        ({VIEW_BASE, MANAGE_ENDPOINT}, "v1.message-attempt.resend", "POST", CREATE_ATTEMPTS),
        ({VIEW_BASE, CREATE_ATTEMPTS}, "v1.endpoint.replay-missing", "POST", None),
        ({VIEW_BASE, CREATE_ATTEMPTS}, "v1.endpoint.patch", "PATCH", MANAGE_ENDPOINT),
        (ALL_CAPABILITIES, "v1.message.create", "POST", None),
        ({VIEW_BASE}, "", "DELETE", FULL_ACCESS),  # an operation the table does not know: only a full token
        ({VIEW_BASE}, "", "GET", None),
    ],
)
def test_what_each_capability_permits(capabilities, operation, method, lacking) -> None:
    assert permits(frozenset(capabilities), operation, method) == lacking
