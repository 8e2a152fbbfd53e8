"""Where a command run beside ``hookstream dev`` finds ClickHouse: a configured URL, the store, or the directory."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pytest

from hookstream.foundation.settings import Settings
from hookstream.runtime.clickhouse import ClickHouseUnavailable
from hookstream.runtime.local_kafka import free_port
from hookstream.runtime.store_process import cli_clickhouse_url, directory_held, running_store_url, store_url
from hookstream.store.users import READER, WRITER, load_users


def _settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(data_dir=tmp_path, store_port=free_port()).replace(**changes)


def test_a_configured_url_is_used_as_is(tmp_path: Path) -> None:
    settings = _settings(tmp_path, clickhouse_url="http://u:p@db:8123")
    assert running_store_url(settings, READER) is None
    assert cli_clickhouse_url(settings, READER) == "http://u:p@db:8123"


def test_without_a_store_the_free_directory_is_opened_directly(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    load_users(settings.resolved_store_data_dir)  # a store ran here once; none answers now
    assert running_store_url(settings, READER) is None
    assert cli_clickhouse_url(settings, WRITER) == settings.resolved_clickhouse_url


def test_a_held_directory_without_a_store_is_refused_saying_what_to_set(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    settings.resolved_store_data_dir.mkdir(parents=True)
    with (settings.resolved_store_data_dir / "status").open("a") as status:
        fcntl.flock(status, fcntl.LOCK_EX)  # as a running engine holds it
        assert directory_held(settings.resolved_store_data_dir)
        with pytest.raises(ClickHouseUnavailable, match=r"held by another process.*HOOKSTREAM_STORE_PORT"):
            cli_clickhouse_url(settings, READER)
    assert not directory_held(settings.resolved_store_data_dir)


def test_store_url_carries_each_users_own_password(tmp_path: Path) -> None:
    users, _ = load_users(tmp_path)
    assert store_url(tmp_path, 8124, READER) == f"http://analytics:{users.reader.password}@127.0.0.1:8124"
    assert store_url(tmp_path, 8124, WRITER) == f"http://hookstream:{users.writer.password}@127.0.0.1:8124"
