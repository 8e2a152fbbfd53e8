"""Microseconds per call of the per-delivery pieces of the delivery process, outside any event loop.

The end-to-end figure (``bench/delivery_cpu.py``) moves by ±20 % with what
else the machine runs; these pieces, timed as the best of many short rounds,
do not, so a change to one of them can be measured on a busy host. Each piece
is called as the delivery process calls it, once per delivery unless noted:
the partitioner (per record produced: a message's ten attempts share its key),
``attempt_record`` of a success (with the retry policy), the outcome header,
the destination check, Standard Webhooks signing, and ``AvroCodec.encode`` of
the attempt and ``decode`` of the task. To compare two commits, run it from
each checkout (``PYTHONPATH=<checkout>/services``).

    .venv/bin/python bench/delivery_pieces.py
    .venv/bin/python bench/delivery_pieces.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import timeit
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from harness import report
from hookstream.delivery import client
from hookstream.delivery.ssrf import AddressPolicy
from hookstream.domain.attempt import AttemptTimes, Exchange, attempt_record
from hookstream.domain.classify import classify
from hookstream.domain.outcome import outcome_headers
from hookstream.domain.retry import RetryPolicy
from hookstream.domain.signing import webhook_headers
from hookstream.log.codec import AvroCodec
from hookstream.log.producer import EventProducer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def best_us(step: Callable[[], object], number: int, repeat: int) -> float:
    """The best round: a shared machine only ever adds time."""
    return min(timeit.repeat(step, number=number, repeat=repeat)) / number * 1e6


async def partitioner() -> Callable[..., int]:
    """The producer's partitioner, as the process's ``EventProducer`` configures it (aiokafka wants a loop)."""
    return EventProducer("127.0.0.1:9", AvroCodec())._producer._partitioner  # never started: no connection


def main(args: argparse.Namespace) -> None:
    from tests.support import builders  # importable once harness has put the checkout's root on the path

    codec = AvroCodec()
    app = builders.application()["app_id"]
    endpoint = builders.endpoint(app, "http://127.0.0.1:9/hook/0")
    task = builders.delivery_task(endpoint)
    task_bytes = codec.encode("DeliveryTask", task)
    policy = RetryPolicy.parse("0s,5s,5m,30m,2h,5h,10h,10h", 0.2, "1s", "1h")
    exchange = Exchange(status=200, reason="OK", headers={"Content-Type": "text/plain"}, body=b"ok", body_size=2,
                        total_us=900, connected=True, request_headers={"content-type": "application/json"})  # fmt: skip
    verdict = classify(exchange.outcome())
    now = datetime.now(UTC)

    def record() -> dict:
        return attempt_record(task, url=endpoint["url"], exchange=exchange, verdict=verdict,
                              request_headers={"content-type": "application/json"},
                              times=AttemptTimes(now, now, now), worker_id="w", retry_policy=policy)  # fmt: skip

    attempt = record()
    partition = asyncio.run(partitioner())
    keys, partitions = [str(uuid.uuid4()).encode() for _ in range(100)], list(range(12))

    def partition_1000() -> None:
        for key in keys:
            for _ in range(10):
                partition(key, partitions, partitions)

    address_policy = AddressPolicy.from_setting("127.0.0.0/8")
    n, repeat = (20, 2) if args.quick else (500, args.repeat)
    body = task["payload"]
    rows = [
        {"piece": "partitioner, per record", "us": best_us(partition_1000, max(1, n // 100), repeat) / 1000},
        {"piece": "attempt_record (success)", "us": best_us(record, n, repeat)},
        {"piece": "outcome header", "us": best_us(lambda: outcome_headers("AttemptFinished", attempt), n, repeat)},
        {"piece": "destination check", "us": best_us(lambda: client._check_destination(endpoint["url"],
                                                                                      address_policy), n, repeat)},
        {"piece": "signing headers", "us": best_us(lambda: webhook_headers("msg_x", 1, body, [SECRET]), n, repeat)},
        {"piece": "encode AttemptFinished", "us": best_us(lambda: codec.encode("AttemptFinished", attempt), n, repeat)},
        {"piece": "decode DeliveryTask", "us": best_us(lambda: codec.decode(task_bytes), n, repeat)},
    ]  # fmt: skip
    for row in rows:
        row["us"] = round(row["us"], 2)
    report("delivery_pieces", rows, quick=args.quick)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=40, help="rounds per piece; the best is reported")
    parser.add_argument("--quick", action="store_true", help="a few calls: proves the benchmark runs")
    main(parser.parse_args())
