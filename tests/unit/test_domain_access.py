import uuid

from hookstream.domain.access import OPERATOR, Scope, app_token_key, authenticate, issue_app_token, verify_app_token

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
