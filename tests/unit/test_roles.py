import pytest

from hookstream.runtime.roles import ALL_ROLES, API_ROLE, STORE_ROLE, parse_roles


def test_no_roles_named_means_every_role_and_the_api() -> None:
    assert parse_roles("") == (*ALL_ROLES, API_ROLE)
    assert set(ALL_ROLES) == {"router", "deliver", "schedule", "status", "project", "intake"}


def test_named_roles_are_kept_in_order() -> None:
    assert parse_roles(" api , deliver ") == ("api", "deliver")


def test_the_store_runs_only_when_named() -> None:
    assert STORE_ROLE not in parse_roles("")
    assert parse_roles("store,project") == ("store", "project")


def test_unknown_role_is_named_with_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown roles delivr: choose from router, deliver, .*api"):
        parse_roles("router,delivr")
