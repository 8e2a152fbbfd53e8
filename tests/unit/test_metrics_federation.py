"""The dev process serves its role processes' metrics: one exposition, each family once, samples labelled."""

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hookstream.foundation.ops import federate


def _exposition(attempts: float, in_flight: float) -> str:
    registry = CollectorRegistry()
    Counter("hookstream_delivery_attempts_total", "attempts", ["outcome"], registry=registry).labels("success").inc(
        attempts
    )
    Gauge("hookstream_delivery_in_flight", "in flight", registry=registry).set(in_flight)
    Gauge("hookstream_dependency_up", "up", ["dependency"], registry=registry).labels("kafka").set(0)
    return generate_latest(registry).decode()


def _own() -> str:
    registry = CollectorRegistry()
    Gauge("hookstream_dependency_up", "up", ["dependency"], registry=registry).labels("kafka").set(1)
    return generate_latest(registry).decode()


def test_families_of_other_processes_are_served_once_with_a_process_label() -> None:
    own = _own()
    text = own + federate(own, {"p1": _exposition(3, 1), "p2": _exposition(5, 2)}).decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    attempts = {s.labels["process"]: s.value for s in families["hookstream_delivery_attempts"].samples
                if s.name.endswith("_total")}  # fmt: skip
    assert attempts == {"p1": 3, "p2": 5}
    assert {s.labels["process"]: s.value for s in families["hookstream_delivery_in_flight"].samples} == {
        "p1": 1,
        "p2": 2,
    }
    assert text.count("# TYPE hookstream_delivery_attempts_total counter") == 1


def test_a_family_this_process_has_is_not_taken_from_the_others() -> None:
    own = _own()
    text = own + federate(own, {"p1": _exposition(1, 0)}).decode()
    up = [s for f in text_string_to_metric_families(text) if f.name == "hookstream_dependency_up" for s in f.samples]
    assert [(s.labels, s.value) for s in up] == [({"dependency": "kafka"}, 1.0)]


def test_a_process_that_did_not_answer_adds_nothing() -> None:
    assert federate(_own(), {"p1": ""}) == b""
