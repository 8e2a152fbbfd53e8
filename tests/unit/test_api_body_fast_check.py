"""The fast check of a request body never calls valid what jsonschema (the body validator) refuses."""

from __future__ import annotations

import random
from typing import Any

import pytest

from hookstream.api import svix
from hookstream.api.spec import _BodyValidator, _fast_check
from hookstream.api.svix.messages import CREATE

ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 1.0, 2.5, 2**70, "", "a", "a.b-c_1", "bad name", "x" * 129,
                         "x" * 257, "a\n", "é", [], ["a"], ["a", "a"], ["a", 1], [1, True], list("abcdefghijk"),
                         {}, {"a": 1}, {"payload": {}}]  # fmt: skip


def _mutations(body: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for _ in range(300):
        mutated = dict(body)
        for _ in range(rng.randint(1, 3)):
            name = rng.choice([*body, "eventId", "channels", "tags", "extra", "uid", "name"])
            if rng.random() < 0.15:
                mutated.pop(name, None)
            else:
                mutated[name] = rng.choice(ODD_VALUES)
        out.append(mutated)
    return out


def test_a_message_body_the_check_passes_is_valid_and_an_invalid_one_never_passes() -> None:
    fast = _fast_check(CREATE.body)
    assert fast is not None
    validator = _BodyValidator(CREATE.body)
    good = {"eventType": "user.signup", "eventId": "evt-1", "payload": {"a": [1, 2]}, "channels": ["c1", "c2"],
            "tags": ["t/1"]}  # fmt: skip
    assert fast(good) and validator.is_valid(good)
    rng = random.Random(17)
    passed = 0
    for body in _mutations(good, rng):
        if fast(body):
            passed += 1
            assert validator.is_valid(body), body
    assert passed > 10  # the check does pass bodies, not only refuse them


BODIES = [op for op in svix.operations() if op.body is not None]


@pytest.mark.parametrize("operation", BODIES, ids=lambda op: op.operation_id)
def test_every_svix_body_schema_the_check_understands_agrees_with_jsonschema(operation: Any) -> None:
    fast = _fast_check(operation.body)
    if fast is None:
        return  # a keyword it does not know: jsonschema alone, as before
    validator = _BodyValidator(operation.body)
    rng = random.Random(operation.operation_id)
    for value in [*ODD_VALUES, *_mutations({name: "a" for name in operation.body.get("required", [])}, rng)]:
        if fast(value):
            assert validator.is_valid(value), value
