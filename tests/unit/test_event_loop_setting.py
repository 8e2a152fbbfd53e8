"""HOOKSTREAM_EVENT_LOOP: uvloop by default, asyncio on request, anything else refused before a process starts."""

from __future__ import annotations

import asyncio

import pytest

from hookstream.foundation.settings import SettingsError, load_settings
from hookstream.runtime.dev import run_event_loop


def test_uvloop_by_default_and_asyncio_on_request() -> None:
    assert load_settings(env={}).resolved_event_loop == "uvloop"
    assert load_settings(env={"HOOKSTREAM_EVENT_LOOP": " AsyncIO "}).resolved_event_loop == "asyncio"


def test_another_value_is_refused() -> None:
    with pytest.raises(SettingsError, match="HOOKSTREAM_EVENT_LOOP"):
        load_settings(env={"HOOKSTREAM_EVENT_LOOP": "trio"}).resolved_event_loop  # noqa: B018


def test_asyncio_runs_on_asyncio_s_own_loop() -> None:
    seen: list[str] = []

    async def main() -> None:
        seen.append(type(asyncio.get_running_loop()).__module__)

    run_event_loop(main(), "asyncio")
    assert seen and seen[0].startswith("asyncio")
