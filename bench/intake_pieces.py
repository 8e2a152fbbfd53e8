"""Microseconds per intake record read in the role, outside any event loop: ``domain.intake.interpret`` and its parts.

The end-to-end intake figure (``bench/ingest.py``) moves with whatever else
the machine runs; these, timed as the best of many short rounds of CPU time,
do not, so a change to the intake path can be measured on a busy host. Each
record is a distinct 1 KiB record as the ingest benchmark produces it (a
CloudEvent in structured mode, a plain JSON ``MessageIn``), plus a CloudEvent
whose data is a nested order (objects, arrays, numbers, a timestamp). Per
record: ``interpret``, the strict JSON reader alone, and the Avro encoding of
the ``MessageAccepted`` the role then sends. To compare two commits, run it
from each checkout (``PYTHONPATH=<checkout>/services``).

    .venv/bin/python bench/intake_pieces.py
    .venv/bin/python bench/intake_pieces.py --quick
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
import timeit
import uuid
from collections.abc import Callable
from typing import Any

from harness import builders, report
from hookstream.domain.directory import Directory
from hookstream.domain.intake import Accepted, IntakeRecord, IntakeRules, interpret
from hookstream.domain.strict_json import read_json
from hookstream.log.codec import AvroCodec
from pipeline import PAYLOAD

ORDER = {
    "id": "ord_123", "total": 123.45, "currency": "EUR", "paid": True, "created": "2026-12-03T12:00:00Z",
    "customer": {"id": "cus_9", "email": "a@b.example", "name": "Ada Lovelace",
                 "address": {"line1": "1 Main St", "city": "London", "zip": "N1"}},
    "items": [{"sku": f"SKU-{i}", "qty": i, "price": 12.5 + i, "tags": ["a", "b"],
               "meta": {"color": "red", "size": None, "gift": False}} for i in range(6)],
    "note": "caf\u00e9 \u2603",
}  # fmt: skip


def best_us(step: Callable[[], object], number: int, repeat: int) -> float:
    """The best round of CPU time: a shared machine only ever adds to it."""
    return min(timeit.repeat(step, number=number, repeat=repeat, timer=time.process_time)) / number * 1e6


def records(shape: str, app_id: str, count: int) -> list[IntakeRecord]:
    def one(offset: int) -> IntakeRecord:
        if shape == "json":
            body: dict[str, Any] = {"eventType": "bench.event", "payload": PAYLOAD}
            headers = (("hookstream-application", app_id.encode()),)
        else:
            body = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/bench", "type": "bench.event",
                    "hookstreamapp": app_id, "data": PAYLOAD}  # fmt: skip
            if shape == "cloudevent_order":
                body |= {"source": "https://shop.example/orders", "time": "2026-12-03T12:00:00Z", "data": ORDER}
            headers = (("content-type", b"application/cloudevents+json"),)
        value = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        return IntakeRecord("hookstream.intake", 0, offset, 1_780_000_000_000, uuid.uuid4().bytes, value, headers)

    return [one(offset) for offset in range(count)]


def timings(batch: list[IntakeRecord], view: Directory, n: int, repeat: int) -> dict[str, Any]:
    rules, codec = IntakeRules(), AvroCodec()
    cycle = itertools.cycle(batch)
    accepted = interpret(batch[0], rules, view)
    assert isinstance(accepted, Accepted), accepted
    return {
        "bytes": len(batch[0].value or b""),
        "interpret_us": best_us(lambda: interpret(next(cycle), rules, view), n, repeat),
        "read_json_us": best_us(lambda: read_json(next(cycle).value or b"", rules.json_limits), n, repeat),
        "avro_encode_us": best_us(lambda: codec.encode("MessageAccepted", accepted.record), n, repeat),
    }


def main(args: argparse.Namespace) -> None:
    view = Directory()
    app = builders.application()
    view.apply("ApplicationUpserted", app)
    n, repeat = (50, 2) if args.quick else (500, args.repeat)
    rows = []
    for shape in ("cloudevent", "json", "cloudevent_order"):
        rows.append({"record": shape, **timings(records(shape, str(app["app_id"]), 1000), view, n, repeat)})
    report("intake_pieces", rows, quick=args.quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=30)
    main(parser.parse_args())
