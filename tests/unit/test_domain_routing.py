import uuid
from datetime import UTC, datetime

from hookstream.domain.dedupe import DedupeIndex
from hookstream.domain.directory import Directory
from hookstream.domain.routing import Routed, UnknownApplication, route
from tests.support import builders

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def _view() -> tuple[Directory, dict, list[dict]]:
    view = Directory()
    app = builders.application()
    view.apply("ApplicationUpserted", app)
    endpoints = [
        builders.endpoint(app["app_id"], "https://e/all"),
        builders.endpoint(app["app_id"], "https://e/paid", event_types=["invoice.paid"]),
        builders.endpoint(app["app_id"], "https://e/eu", channels=["eu"]),
        builders.endpoint(app["app_id"], "https://e/off", disabled=True),
        builders.endpoint(app["app_id"], "https://e/big", payload_filter={"data": {"amount": {"$gte": 100}}}),
    ]
    for ep in endpoints:
        view.apply("EndpointUpserted", ep)
    return view, app, endpoints


def _urls(decision, view: Directory) -> set[str]:  # type: ignore[no-untyped-def]
    assert isinstance(decision, Routed)
    return {view.endpoints[uuid.UUID(task["endpoint_id"])].url for task in decision.tasks}


def test_fan_out_follows_types_channels_filters_and_disabled() -> None:
    view, app, _ = _view()
    paid = builders.message(app["app_id"], "invoice.paid", payload={"amount": 150})
    assert _urls(route(paid, view, NOW), view) == {"https://e/all", "https://e/paid", "https://e/big"}
    created_eu = builders.message(app["app_id"], "invoice.created", payload={"amount": 5}, channels=["eu"])
    assert _urls(route(created_eu, view, NOW), view) == {"https://e/all", "https://e/eu"}


def test_tasks_are_first_attempts_due_now_carrying_the_message() -> None:
    view, app, _ = _view()
    msg = builders.message(app["app_id"], "invoice.paid", event_id="evt-1", payload={"amount": 1})
    decision = route(msg, view, NOW)
    assert isinstance(decision, Routed)
    task = decision.tasks[0]
    assert task["attempt_number"] == 1 and task["trigger"] == "scheduled" and task["trigger_seq"] == 0
    assert task["due_at"] == NOW and task["payload"] == msg["payload"] and task["event_id"] == "evt-1"
    assert task["msg_id"] == msg["msg_id"] and task["accepted_at"] == msg["accepted_at"]


def test_a_named_destination_gets_the_message_alone_and_only_if_it_matches() -> None:
    view, app, endpoints = _view()
    all_, paid = endpoints[0]["endpoint_id"], endpoints[1]["endpoint_id"]
    msg = builders.message(app["app_id"], "invoice.paid", payload={"amount": 150})
    assert _urls(route({**msg, "destination_id": paid}, view, NOW), view) == {"https://e/paid"}
    created = builders.message(app["app_id"], "invoice.created")
    assert _urls(route({**created, "destination_id": paid}, view, NOW), view) == set(), "not subscribed to it"
    assert _urls(route({**created, "destination_id": "no-such"}, view, NOW), view) == set()
    assert _urls(route({**created, "destination_id": None}, view, NOW), view) == {"https://e/all"}
    assert _urls(route({**created, "destination_id": all_}, view, NOW), view) == {"https://e/all"}


def test_tasks_carry_the_message_eligibility_for_retry() -> None:
    view, app, _ = _view()
    msg = builders.message(app["app_id"], "invoice.paid", payload={"amount": 150})
    for eligible in (True, False):
        decision = route({**msg, "eligible_for_retry": eligible}, view, NOW)
        assert isinstance(decision, Routed) and {t["eligible_for_retry"] for t in decision.tasks} == {eligible}
    decision = route(msg, view, NOW)  # a record written before the field existed
    assert isinstance(decision, Routed) and all(t["eligible_for_retry"] for t in decision.tasks)


def test_unknown_application() -> None:
    view, _, _ = _view()
    other = str(uuid.uuid4())
    assert route(builders.message(other), view, NOW) == UnknownApplication(f"application {other} does not exist")
    assert isinstance(route(builders.message("nope"), view, NOW), UnknownApplication)


def test_dedupe_window() -> None:
    index = DedupeIndex(window_us=1_000)
    assert index.check("a", "e1", "m1", 0) is None
    assert index.check("a", "e1", "m1", 10) is None, "the same message replayed is not a duplicate"
    assert index.check("a", "e1", "m2", 500).msg_id == "m1"
    assert index.check("b", "e1", "m3", 500) is None, "event ids are unique per application"
    assert index.check("a", None, "m4", 600) is None
    assert index.check("a", "e1", "m5", 1_200) is None, "outside the window the id is fresh again"
    assert index.check("a", "e1", "m6", 1_300).msg_id == "m5"
    assert len(index) == 2


def test_a_message_for_one_endpoint_reaches_only_that_one_and_only_if_it_matches() -> None:
    view, app, endpoints = _view()
    everyone, paid = endpoints[0]["endpoint_id"], endpoints[1]["endpoint_id"]
    only = {"destination_id": paid}
    msg = builders.message(app["app_id"], "invoice.paid", payload={"amount": 150}) | only
    assert _urls(route(msg, view, NOW), view) == {"https://e/paid"}
    other = builders.message(app["app_id"], "invoice.created", payload={"amount": 150}) | only
    assert _urls(route(other, view, NOW), view) == set()
    to_all = builders.message(app["app_id"], "x") | {"destination_id": everyone}
    assert _urls(route(to_all, view, NOW), view) == {"https://e/all"}
