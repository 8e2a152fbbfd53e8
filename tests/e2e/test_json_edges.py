"""Bodies at each limit's edge, through each dialect that takes messages, delivered as accepted.

The whole pipeline runs (real broker, chDB, router, delivery worker) and a
real aiohttp receiver on 127.0.0.1 gets the deliveries. Each payload sits
exactly at one limit of the strict reader (nesting depth, keys per object,
items per array) or holds what lenient readers alter (integers past 2**64 and
of thousands of digits, the largest and smallest doubles, escaped surrogate
pairs, U+0000, U+2028); the receiver parses each delivered body strictly
(RFC 8259, the same reader) and it must equal what the API accepted.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from svix.api import ApplicationIn, EndpointIn

from hookstream.api.spec import json_limits
from hookstream.domain.strict_json import MAX_INT_DIGITS, read_json
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.runtime.roles import ALL_ROLES
from tests.conftest import ReceiverFactory
from tests.support.svix_api import ServedApi

pytestmark = pytest.mark.e2e
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(
        secret_keys=new_key_text(), delivery_allowed_networks="127.0.0.1/32", projector_batch_s=0.1,
        api_rate_limit_per_s=0.0,
    )  # fmt: skip


@pytest.fixture
def api_roles() -> tuple[str, ...]:
    return ALL_ROLES


def edge_payloads(settings: Settings, envelope_depth: int) -> dict[str, str]:
    """Payload texts by case name; ``envelope_depth`` is how deep the payload sits in the request body."""
    limits = json_limits(settings)
    arrays = limits.max_depth - envelope_depth - 1  # the payload object itself is one level
    keys = ", ".join(f'"k{n}": {n}' for n in range(limits.max_object_keys - 1))
    numbers = (f'"big": {2**64}, "neg": {-(2**63) - 1}, "digits": {"9" * MAX_INT_DIGITS}, '
               '"max": 1.7976931348623157e308, "tiny": 5e-324, "tenth": 0.1, "zero": -0.0')  # fmt: skip
    texts = r'"pair": "\ud83d\ude00", "raw": "é😀", "nul": "\u0000", "ls": "\u2028", "esc": "\"\\\/"'
    return {
        "depth": '{"case": "depth", "d": ' + "[" * arrays + "1" + "]" * arrays + "}",
        "keys": '{"case": "keys", ' + keys + "}",  # with "case": exactly the limit
        "items": '{"case": "items", "a": [' + ",".join(["7"] * limits.max_array_items) + "]}",
        "numbers": '{"case": "numbers", ' + numbers + "}",
        "texts": '{"case": "texts", ' + texts + "}",
    }


async def _delivered_equal_accepted(api: ServedApi, receiver_bodies: list[bytes], accepted: dict[str, Any]) -> None:
    limits = json_limits(api.ctx.settings)
    delivered = [read_json(body, limits) for body in receiver_bodies]  # strict: no NaN, no lone surrogate
    by_case = {value["case"]: value for value in delivered}
    assert sorted(by_case) == sorted(accepted), sorted(by_case)
    for case, value in accepted.items():
        assert by_case[case] == value, f"{case}: delivered differs from accepted"
    numbers = by_case["numbers"]
    assert type(numbers["big"]) is int and numbers["digits"] == int("9" * MAX_INT_DIGITS), "integers kept exactly"


async def test_svix_messages_at_each_limit_arrive_as_accepted(api: ServedApi, receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain()
    app = await api.svix.application.create(ApplicationIn(name="edges", uid="edges"))
    await api.svix.endpoint.create(app.id, EndpointIn(url=receiver.url))
    payloads = edge_payloads(api.ctx.settings, envelope_depth=1)
    accepted: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}, timeout=60
    ) as http:
        for case, payload in payloads.items():
            body = '{"eventType": "edge.case", "payload": ' + payload + "}"
            answer = await http.post(f"/api/v1/app/{app.id}/msg", content=body.encode(), headers=JSON)
            assert answer.status_code == 202, (case, answer.text[:300])
            accepted[case] = json.loads(body)["payload"]
        over = '{"eventType": "edge.case", "payload": {"d": ' + "[" * (json_limits(api.ctx.settings).max_depth - 1)
        refused = await http.post(f"/api/v1/app/{app.id}/msg", content=over.encode(), headers=JSON)
        assert refused.status_code == 422 and "nests deeper" in refused.text, "one level more is refused"
    received = await receiver.wait_for(len(payloads), timeout_s=60)
    await _delivered_equal_accepted(api, [r.body for r in received], accepted)


async def test_outpost_events_at_each_limit_arrive_as_accepted(api: ServedApi, receivers: ReceiverFactory) -> None:
    receiver = await receivers.plain()
    payloads = edge_payloads(api.ctx.settings, envelope_depth=1)
    accepted: dict[str, Any] = {}
    async with httpx.AsyncClient(
        base_url=api.url, headers={"Authorization": f"Bearer {api.token}"}, timeout=60
    ) as http:
        assert (await http.put("/api/v1/tenants/edges", json={})).status_code == 201
        destination = {"type": "webhook", "id": "edges-dest", "topics": "*", "config": {"url": receiver.url}}
        assert (await http.post("/api/v1/tenants/edges/destinations", json=destination)).status_code == 201
        for case, payload in payloads.items():
            body = '{"tenant_id": "edges", "topic": "edge.case", "data": ' + payload + "}"
            answer = await http.post("/api/v1/publish", content=body.encode(), headers=JSON)
            assert answer.status_code in (200, 202), (case, answer.text[:300])
            accepted[case] = json.loads(body)["data"]
    received = await receiver.wait_for(len(payloads), timeout_s=60)
    await _delivered_equal_accepted(api, [r.body for r in received], accepted)
