"""What the outcome header saves the status fold and the scheduler, per record on ``attempts`` (no broker).

Each reader's own read path, called as its faust agent calls it, on a record with the ``hookstream-outcome``
header and on the same record without it (the path every record took before the header): the status fold's
``facts_of`` (decode + ``AttemptFacts.of``, or the header), the scheduler's ``needs_decoding`` then
``decode_event`` + ``next_task`` when it must. Also the writer's price: building the header in the delivery
process, beside the Avro encoding it already does. Microseconds per record, the best of ``--repeat`` rounds
(a shared machine only ever adds time).

    .venv/bin/python bench/outcome_header.py
    .venv/bin/python bench/outcome_header.py --records 20000 --repeat 7
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from harness import report
from hookstream.domain.outcome import outcome_headers
from hookstream.domain.schedule import delay_tiers, parse_schedule
from hookstream.domain.status import skip_record
from hookstream.domain.tiers import next_task
from hookstream.log.codec import AvroCodec
from hookstream.log.streams import decode_event
from hookstream.scheduler.retries import needs_decoding
from hookstream.status.fold import facts_of

SCHEDULE = parse_schedule("0s,5s,5m,30m,2h,5h,10h,10h")
TIERS = delay_tiers(SCHEDULE)


def records() -> dict[str, tuple[str, dict[str, Any]]]:
    """One record of each kind the readers see: (type, record)."""
    from tests.support import builders  # importable once harness has put the checkout's root on the path

    app = builders.application()["app_id"]
    endpoint = builders.endpoint(app, "https://receiver.example/hook")
    message = builders.message(app, event_id="inv-1", channels=["billing"])
    success = builders.attempt(message, endpoint["endpoint_id"])
    failed = builders.attempt(message, endpoint["endpoint_id"], status=503) | {
        "next_attempt_at": success["finished_at"] + timedelta(seconds=5), "payload": message["payload"],
        "accepted_at": message["accepted_at"],
    }  # fmt: skip
    skipped = skip_record(builders.delivery_task(endpoint), "skip-1", "endpoint_disabled", datetime.now(UTC))
    return {"success": ("AttemptFinished", success), "failed, retry": ("AttemptFinished", failed),
            "skipped": ("DeliverySkipped", skipped)}  # fmt: skip


def event(value: bytes, headers: list[tuple[str, bytes]]) -> Any:
    """What the agents read of a faust event: ``event.message.value`` and ``.headers``."""
    return SimpleNamespace(message=SimpleNamespace(value=value, headers=tuple(headers), key=b"k"))


def finish(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (the fold's read path, when nothing is dead-lettered)."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the read path suspended")


def best_us(step: Callable[[], object], count: int, repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        started = time.perf_counter_ns()
        for _ in range(count):
            step()
        rounds.append((time.perf_counter_ns() - started) / count / 1000)
    return min(rounds)


def main(args: argparse.Namespace) -> None:
    codec = AvroCodec()
    ctx = SimpleNamespace(codec=codec)
    now = datetime.now(UTC)

    def scheduler(e: Any) -> object:  # schedule_one's read path, without the send
        if not needs_decoding(e):
            return None
        name, record = decode_event(codec, e)
        return None if name == "DeliverySkipped" else next_task(record, SCHEDULE, TIERS, now)

    rows = []
    for kind, (name, record) in records().items():
        value = codec.encode(name, record)
        headers = outcome_headers(name, record)
        with_header, without = event(value, headers), event(value, [])
        assert finish(facts_of(ctx, with_header)) == finish(facts_of(ctx, without))  # type: ignore[arg-type]
        assert (scheduler(with_header) is None) == (scheduler(without) is None) == (kind != "failed, retry")
        fold_before = best_us(lambda e=without: finish(facts_of(ctx, e)), args.records, args.repeat)  # type: ignore[misc]
        fold_after = best_us(lambda e=with_header: finish(facts_of(ctx, e)), args.records, args.repeat)  # type: ignore[misc]
        rows.append({
            "record": kind, "value_bytes": len(value), "header_bytes": len(headers[0][1]),
            "fold_decode_us": fold_before, "fold_header_us": fold_after,
            "scheduler_decode_us": best_us(lambda e=without: scheduler(e), args.records, args.repeat),  # type: ignore[misc]
            "scheduler_header_us": best_us(lambda e=with_header: scheduler(e), args.records, args.repeat),  # type: ignore[misc]
            "write_encode_us": best_us(lambda: codec.encode(name, record), args.records, args.repeat),  # noqa: B023
            "write_header_us": best_us(lambda: outcome_headers(name, record), args.records, args.repeat),  # noqa: B023
        })  # fmt: skip
    report("outcome_header", rows, quick=args.quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=5000, help="records per timed round")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best is reported")
    parser.add_argument("--quick", action="store_true", help="a few records: proves the benchmark runs")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.records, arguments.repeat = 50, 1
    main(arguments)
