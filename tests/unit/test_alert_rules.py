"""The shipped Prometheus alert rules parse, and read only metrics hookstream exports."""

from __future__ import annotations

import re
from pathlib import Path

import promql_parser
import yaml

from hookstream.delivery.metrics import DeliveryMetrics
from hookstream.foundation.ops import Metrics
from hookstream.foundation.settings import load_settings
from hookstream.log.lag import LagGauges
from hookstream.projector.service import ProjectorMetrics
from hookstream.router.service import RouterMetrics
from hookstream.scheduler.retries import SchedulerMetrics
from hookstream.status.processor import StatusMetrics

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _exported() -> set[str]:
    registry = Metrics().registry
    for metrics in (DeliveryMetrics, ProjectorMetrics, RouterMetrics, SchedulerMetrics, StatusMetrics):
        metrics(registry)
    LagGauges(load_settings(env={}), {"router": ()}, registry, dead_letters=True)
    families = list(registry.collect())  # a labelled family has no sample until a label set is used
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    return {family.name + suffix for family in families for suffix in suffixes.get(family.type, ("",))}


def _rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_every_rule_is_complete_and_its_expression_parses():
    rules = _rules()
    assert {rule["alert"] for rule in rules} >= {
        "HookstreamConsumerLagGrowing", "HookstreamEndpointDisabled", "HookstreamDeadLettersArriving",
        "HookstreamStoreDown",
    }  # fmt: skip
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        promql_parser.parse(rule["expr"])  # raises on a syntax error


def test_rules_read_only_metrics_hookstream_exports():
    exported = _exported()
    for rule in _rules():
        named = set(re.findall(r"\bhookstream_[a-z_]+", rule["expr"]))
        assert named, rule["alert"]
        assert named <= exported, (rule["alert"], named - exported)
