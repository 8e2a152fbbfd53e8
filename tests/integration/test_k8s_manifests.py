"""deploy/k8s, rendered by kustomize's library and checked against the Kubernetes API schemas, offline.

Nothing here reaches a cluster: each rendered resource is validated against
the OpenAPI-derived JSON schemas of two Kubernetes versions (strict: an
unknown field fails), then the wiring is checked against the code it runs:
the roles, the settings each variable names, the health path and port, and
the consumer groups the autoscalers read.
"""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import kubernetes_validate
import pytest

from hookstream.foundation.settings import all_env_names, load_settings
from hookstream.log.lag import groups_of
from hookstream.runtime.roles import ALL_ROLES, API_ROLE
from tests.support.k8s import build_renderer, render

pytestmark = pytest.mark.integration

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
VERSIONS = ("1.29.0", "1.33.0")


@pytest.fixture(scope="module")
def renderer() -> Path:
    return build_renderer()


@pytest.fixture(scope="module")
def overlay(renderer: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """The example overlay as an operator fills it in: secrets.env made from its example."""
    tree = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, tree)
    folder = tree / "overlays" / "existing-cluster"
    example = (folder / "secrets.env.example").read_text()
    key = base64.b64encode(os.urandom(32)).decode()
    filled = example.replace("HOOKSTREAM_OPERATOR_TOKEN=", "HOOKSTREAM_OPERATOR_TOKEN=0123456789abcdef").replace(
        "HOOKSTREAM_SECRET_KEYS=", f"HOOKSTREAM_SECRET_KEYS={key}"
    )
    (folder / "secrets.env").write_text(filled)
    return render(renderer, folder)


def _of(resources: list[dict], kind: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def _env_sources(resources: list[dict]) -> dict[str, str]:
    env = {}
    for config in _of(resources, "ConfigMap").values():
        env.update(config["data"])
    for secret in _of(resources, "Secret").values():
        env.update({name: base64.b64decode(value).decode() for name, value in secret.get("data", {}).items()})
    return env


def test_every_resource_is_valid_for_the_kubernetes_api(renderer: Path, overlay: list[dict]):
    base = render(renderer, K8S / "base")
    for version in VERSIONS:
        for resource in [*base, *overlay]:
            kubernetes_validate.validate(resource, version, strict=True)


def test_one_deployment_per_role_with_probes_resources_and_a_disruption_budget(overlay: list[dict]):
    deployments = _of(overlay, "Deployment")
    budgets = _of(overlay, "PodDisruptionBudget")
    env = _env_sources(overlay)
    port = int(env["HOOKSTREAM_HTTP_PORT"])
    roles = {}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["args"][:2] == ["run", "--roles"], name
        roles[container["args"][2]] = name
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        assert {p["containerPort"] for p in container["ports"]} == {port}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        selected = [
            b
            for b in budgets.values()
            if b["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, f"{name}: one PodDisruptionBudget, got {len(selected)}"
    assert sorted(roles) == sorted((*ALL_ROLES, API_ROLE))


def test_every_variable_is_a_real_setting_and_the_values_load(overlay: list[dict]):
    env = _env_sources(overlay)
    assert set(env) <= all_env_names(), sorted(set(env) - all_env_names())
    settings = load_settings(env=env)  # raises on a value of the wrong type or shape
    assert settings.kafka_bootstrap_servers.count(",") == 2 and settings.clickhouse_url.startswith("https://")


def test_the_overlay_wires_its_generated_secret_namespace_and_image(overlay: list[dict]):
    (secret,) = _of(overlay, "Secret")  # the generated name carries a content hash...
    for deployment in _of(overlay, "Deployment").values():
        assert deployment["metadata"]["namespace"] == "hookstream"
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        refs = {ref["secretRef"]["name"] for ref in container["envFrom"] if "secretRef" in ref}
        assert refs == {secret}, "...and every pod must read it by that name"
        assert container["image"].startswith("registry.example.com/hookstream:")


def test_router_and_delivery_scale_on_their_own_groups_lag(overlay: list[dict]):
    env = _env_sources(overlay)
    namespace = env["HOOKSTREAM_TOPIC_NAMESPACE"]
    deployments = _of(overlay, "Deployment")
    scalers = _of(overlay, "HorizontalPodAutoscaler").values()
    scaled = {}
    for scaler in scalers:
        target = deployments[scaler["spec"]["scaleTargetRef"]["name"]]
        role = target["spec"]["template"]["spec"]["containers"][0]["args"][2]
        (metric,) = scaler["spec"]["metrics"]
        assert metric["external"]["metric"]["name"] == "hookstream_consumer_lag"
        group = metric["external"]["metric"]["selector"]["matchLabels"]["group"]
        assert group in {namespace + g for g in groups_of([role])}, (role, group)
        assert scaler["spec"]["maxReplicas"] <= int(env["HOOKSTREAM_TOPIC_PARTITIONS"])
        scaled[role] = group
    assert sorted(scaled) == ["deliver", "router"]
