"""docker-compose.yml cannot run here (no Docker engine), so its wiring is checked statically."""

from pathlib import Path

import yaml

from hookstream.foundation.settings import all_env_names
from hookstream.runtime.kafka_dist import pinned_kafka_version

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_every_hookstream_variable_is_a_real_setting() -> None:
    services = _compose()["services"]
    hookstream_services = [name for name, spec in services.items() if "build" in spec]
    assert hookstream_services, "compose should build hookstream's own image"
    known = all_env_names()
    for name in hookstream_services:
        environment = services[name]["environment"]
        assert environment, f"{name} sets no environment"
        unknown = sorted(set(environment) - known)
        assert not unknown, f"{name} sets variables that no setting reads: {unknown}"


def test_kafka_image_matches_the_pinned_broker_version() -> None:
    image = _compose()["services"]["kafka"]["image"]
    assert image == f"apache/kafka:{pinned_kafka_version()}"


def test_dockerfile_is_where_compose_builds_from() -> None:
    for spec in _compose()["services"].values():
        if "build" in spec:
            assert (ROOT / spec["build"]["context"] / spec["build"]["dockerfile"]).exists()


def test_every_role_runs_in_its_own_container() -> None:
    from hookstream.runtime.roles import ALL_ROLES, API_ROLE

    commands = [spec.get("command") for spec in _compose()["services"].values() if "build" in spec]
    roles = sorted(command[2] for command in commands if command and command[:2] == ["run", "--roles"])
    assert roles == sorted((*ALL_ROLES, API_ROLE))
