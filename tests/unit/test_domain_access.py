import uuid

from hookstream.domain.access import (
    OPERATOR,
    Generation,
    Scope,
    app_token_key,
    authenticate,
    issue_app_token,
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
