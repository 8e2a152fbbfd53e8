"""What traces cost a message while they are off (no OTLP endpoint set), per hop, against the code before them.

Off, each hop reads ``tracing.ENABLED`` and goes on as before, through one more coroutine call where the
traced path wraps the old body in a span (``accept_message`` -> ``_accept``, the router's ``handle`` ->
``_route``, ``deliver`` -> ``_deliver``), plus an ``Event`` carrying its record's headers and the
scheduler copying the trace headers of an attempt to its retry. Each line times the code as it is now
against the same code without the addition (the old body called directly, no check): nanoseconds per
call, the best of ``--repeat`` rounds (a shared machine only ever adds time). The real bodies are stubbed
to nothing where they would need a broker, so the difference is all the addition's.

    .venv/bin/python bench/tracing_off.py
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

from hookstream.api.accept import _accept, accept_message
from hookstream.foundation import tracing
from hookstream.log.consumer import Event
from hookstream.log.streams import message_headers

Thunk = Callable[[], Coroutine[Any, Any, Any]]


async def _noop(*_: Any) -> None:
    return None


def _accept_ctx() -> Any:
    recent = SimpleNamespace(add_message=lambda record: None)
    return SimpleNamespace(commands=SimpleNamespace(message=_noop), recent=recent)


class Hop:
    """A hop's shape now (check, then the body in its own coroutine) and before (the body inline)."""

    async def now(self, event: Any) -> None:
        if not tracing.ENABLED:
            await self._body(event)
            return

    async def before(self, event: Any) -> None:
        return None

    async def _body(self, event: Any) -> None:
        return None


async def _time_async(call: Thunk, calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        await call()
    return (time.perf_counter_ns() - started) / calls


def _time_sync(call: Callable[[], Any], calls: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(calls):
        call()
    return (time.perf_counter_ns() - started) / calls


async def main(calls: int, repeat: int) -> None:
    assert not tracing.ENABLED, "run without OTEL_EXPORTER_OTLP_ENDPOINT: this measures traces off"
    ctx, record = _accept_ctx(), {"event_id": None, "msg_id": "m", "app_id": "a", "event_type": "t"}
    hop = Hop()
    retry_message = SimpleNamespace(headers=[("hookstream-outcome", b'["a1",true]')])
    rows: list[tuple[str, Thunk | Callable[[], Any], Thunk | Callable[[], Any]]] = [
        ("accept_message (API, per message)", lambda: accept_message(ctx, record), lambda: _accept(ctx, record)),
        ("router handle -> _route (per message)", lambda: hop.now(None), lambda: hop.before(None)),
        ("deliver -> _deliver (per attempt)", lambda: hop.now(None), lambda: hop.before(None)),
        ("current_headers() off (API, router: per message)", tracing.current_headers, lambda: None),
        ("Event with its headers (every consumed record)",
         lambda: Event("t", 0, 1, b"k", "M", {}, ()), lambda: Event("t", 0, 1, b"k", "M", {})),
        ("scheduler copies trace headers (per retry)",
         lambda: tracing.trace_headers(message_headers(retry_message)), lambda: None),
    ]  # fmt: skip
    print(f"{'hop':52} {'now ns':>8} {'before ns':>10} {'added ns':>9}")
    total = 0.0
    for name, now_call, before_call in rows:
        is_async = asyncio.iscoroutine(probe := now_call())
        if is_async:
            await probe
        best_now = best_before = float("inf")
        for _ in range(repeat):
            if is_async:
                best_now = min(best_now, await _time_async(now_call, calls))  # type: ignore[arg-type]
                best_before = min(best_before, await _time_async(before_call, calls))  # type: ignore[arg-type]
            else:
                best_now = min(best_now, _time_sync(now_call, calls))
                best_before = min(best_before, _time_sync(before_call, calls))
        added = best_now - best_before
        if "retry" not in name:
            total += added * (2 if "current_headers" in name else 1)
        print(f"{name:52} {best_now:8.0f} {best_before:10.0f} {added:9.0f}")
    print(
        f"\nadded per message delivered once (accept, route, an attempt, two header reads, its Events): ~{total:.0f} ns"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.repeat))
