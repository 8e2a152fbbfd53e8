"""schemathesis against the served ``/openapi.json``: every operation of every dialect, valid and invalid input.

The API is served for real on 127.0.0.1 (real broker and chDB; no pipeline
roles, so nothing generated is ever delivered and no name is resolved), with
a seeded application, endpoint, message and attempt so reads have something
to find. Each operation gets ``HOOKSTREAM_FUZZ_EXAMPLES`` positive and as
many negative cases (default 10), authenticated with the operator token, and
the whole run stops generating after ``HOOKSTREAM_FUZZ_SECONDS`` (default
75). Checks: no 5xx, the status is one the document declares, the content
type and body match the declared schema, declared headers are present. All
failures are collected and reported together, one line per operation and
check, with the request that caused it.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from clickhouse_connect.driver import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from svix.api import ApplicationIn, EndpointIn, EventTypeIn, MessageIn

from hookstream.domain.ids import IdKind, parse_id
from hookstream.foundation.secrets import new_key_text
from hookstream.foundation.settings import Settings
from hookstream.projector.rows import attempt_row, message_row
from hookstream.projector.store import write_rows
from tests.support import builders
from tests.support.svix_api import ServedApi

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("HOOKSTREAM_FUZZ_EXAMPLES", "10"))
SECONDS = float(os.environ.get("HOOKSTREAM_FUZZ_SECONDS", "75"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@dataclass
class FuzzReport:
    cases: int = 0
    per_operation: dict[str, int] = field(default_factory=dict)
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (operation, check title) -> first example


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.replace(secret_keys=new_key_text(), api_rate_limit_per_s=0.0)


async def seed(api: ServedApi, clickhouse: Client) -> None:
    """Something for every read to find: an event type, an application with an endpoint, a message, an attempt."""
    await api.svix.event_type.create(EventTypeIn(name="invoice.paid", description="An invoice was paid"))
    app = await api.svix.application.create(ApplicationIn(name="fuzz", uid="fuzz"))
    ep = await api.svix.endpoint.create(app.id, EndpointIn(url="http://127.0.0.1:9/hook", uid="fuzz-ep"))
    msg = await api.svix.message.create(app.id, MessageIn(event_type="invoice.paid", event_id="fuzz-evt", payload={}))
    app_uuid, ep_uuid = parse_id(app.id, IdKind.APPLICATION), parse_id(ep.id, IdKind.ENDPOINT)
    record = builders.message(str(app_uuid), event_id="fuzz-evt", msg_id=parse_id(msg.id, IdKind.MESSAGE))
    attempt = builders.attempt(record, str(ep_uuid))
    write_rows(clickhouse, {"messages": [message_row(record).values], "attempts": [attempt_row(attempt).values]})


def _record(report: FuzzReport, label: str, case: Case, error: Failure | FailureGroup) -> None:
    failures = error.exceptions if isinstance(error, FailureGroup) else [error]
    for failure in failures:
        key = (label, failure.title)
        if key not in report.failures:
            report.failures[key] = f"{failure.message.strip()[:600]}\n    request: {case.as_curl_command()}"


@dataclass
class Target:
    url: str
    session: requests.Session
    headers: dict[str, str]
    deadline: float


def fuzz_operation(target: Target, operation: APIOperation, mode: GenerationMode, report: FuzzReport) -> None:
    label = operation.label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def one(case: Case) -> None:
        if time.monotonic() > target.deadline and report.per_operation[label]:
            return  # the time bound: later operations still get their first case
        report.cases += 1
        report.per_operation[label] += 1
        try:
            case.call_and_validate(base_url=target.url, session=target.session, headers=target.headers, checks=CHECKS)
        except (Failure, FailureGroup) as error:
            _record(report, label, case, error)

    try:
        one()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE, label  # an operation that takes no input has no invalid one


def fuzz(url: str, token: str) -> FuzzReport:
    """Synchronous (schemathesis is): run in a thread while the event loop serves the API."""
    doc = requests.get(f"{url}/openapi.json", timeout=30).json()
    report = FuzzReport()
    with requests.Session() as session:
        target = Target(url, session, {"Authorization": f"Bearer {token}"}, time.monotonic() + SECONDS)
        for result in schemathesis.openapi.from_dict(doc).get_all_operations():
            operation = result.ok()
            report.per_operation[operation.label] = 0
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                fuzz_operation(target, operation, mode, report)
    return report


async def test_every_operation_survives_fuzzing(api: ServedApi, clickhouse: Client) -> None:
    await seed(api, clickhouse)
    report = await asyncio.to_thread(fuzz, api.url, api.token)
    print(f"\nfuzz: {report.cases} cases over {len(report.per_operation)} operations ({EXAMPLES} per mode)")
    assert len(report.per_operation) >= 70, sorted(report.per_operation)
    assert all(report.per_operation.values()), report.per_operation
    problems = [f"{label} [{title}]: {example}" for (label, title), example in sorted(report.failures.items())]
    assert not problems, f"{len(problems)} problems:\n" + "\n\n".join(problems)
