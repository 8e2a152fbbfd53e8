from pathlib import Path

import pytest

from hookstream.foundation.settings import (
    Settings,
    SettingsError,
    all_env_names,
    load_settings,
    settings_env,
    settings_table,
)


def test_empty_environment_gives_safe_defaults() -> None:
    settings = load_settings(env={})
    assert settings == Settings().replace(kafka_jars_dir=Path.home() / ".cache/hookstream/kafka")
    assert settings.uses_local_kafka
    assert settings.resolved_clickhouse_url == f"chdb://{(Path('.hookstream') / 'clickhouse').resolve()}"
    assert settings.http_host == "127.0.0.1"


def test_environment_overrides_and_types() -> None:
    settings = load_settings(
        env={
            "HOOKSTREAM_HTTP_PORT": "9001",
            "HOOKSTREAM_DATA_DIR": "/tmp/x",
            "HOOKSTREAM_KAFKA_START_TIMEOUT_S": "2.5",
        }
    )
    assert settings.http_port == 9001
    assert settings.data_dir == Path("/tmp/x")
    assert settings.kafka_start_timeout_s == 2.5


def test_conventional_names_are_aliases_and_prefixed_names_win() -> None:
    settings = load_settings(env={"KAFKA_BOOTSTRAP_SERVERS": "k:9092", "CLICKHOUSE_URL": "http://ch:8123"})
    assert settings.kafka_bootstrap_servers == "k:9092"
    assert not settings.uses_local_kafka
    assert settings.resolved_clickhouse_url == "http://ch:8123"
    both = load_settings(env={"KAFKA_BOOTSTRAP_SERVERS": "a:1", "HOOKSTREAM_KAFKA_BOOTSTRAP_SERVERS": "b:2"})
    assert both.kafka_bootstrap_servers == "b:2"


def test_toml_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "hookstream.toml"
    config.write_text('http_port = 7000\ntopic_namespace = "prod."\n')
    settings = load_settings(env={"HOOKSTREAM_CONFIG": str(config), "HOOKSTREAM_HTTP_PORT": "7001"})
    assert settings.topic_namespace == "prod."
    assert settings.http_port == 7001


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"HOOKSTREAM_HTTP_PORT": "eighty"}, "HOOKSTREAM_HTTP_PORT"),
        ({"HOOKSTREAM_KAFKA_START_TIMEOUT_S": "soon"}, "HOOKSTREAM_KAFKA_START_TIMEOUT_S"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(env=env)


def test_toml_unknown_key_and_wrong_type_are_errors(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("http_prot = 1\n")
    with pytest.raises(SettingsError, match="unknown settings http_prot"):
        load_settings(env={}, config_file=config)
    config.write_text('http_port = "x"\n')
    with pytest.raises(SettingsError, match="http_port"):
        load_settings(env={}, config_file=config)
    config.write_text("http_port = true\n")
    with pytest.raises(SettingsError, match="expected an integer"):
        load_settings(env={}, config_file=config)


def test_readme_lists_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert settings_table() in readme, "README's settings table is stale: paste `hookstream settings` into it"
    for name in all_env_names():
        assert f"`{name}`" in readme


def test_settings_env_gives_a_child_process_exactly_the_same_settings(tmp_path: Path) -> None:
    """`hookstream dev` hands its resolved settings (file and derived values included) to its role processes."""
    config = tmp_path / "hookstream.toml"
    config.write_text('retry_schedule = "0s,1s"\ndelivery_svix_headers = true\n')
    parent = load_settings(env={"HOOKSTREAM_RETRY_JITTER": "0.05", "KAFKA_BOOTSTRAP_SERVERS": "k:9092"},
                           config_file=config).replace(data_dir=tmp_path / "d", secret_keys="a,b")  # fmt: skip
    child = load_settings(env=settings_env(parent))
    assert child == parent
    assert (child.retry_schedule, child.delivery_svix_headers, child.retry_jitter) == ("0s,1s", True, 0.05)
    assert set(settings_env(parent)) <= all_env_names()
