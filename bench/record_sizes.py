"""What one message costs in Kafka bytes: one record of each kind on its path, encoded by the project's codec.

The sizing arithmetic of docs/scale.md. Values as the producers write them (Avro single-object encoding:
10 bytes of header + the schemaless body), keys (UUID text, 36 bytes) and the ``hookstream-outcome``
header of an attempt; Kafka's own per-record overhead (~10-20 bytes inside a batch, plus the batch header
amortised) and compression are not counted. No broker, no server: deterministic, runs in a second.

    .venv/bin/python bench/record_sizes.py
    .venv/bin/python bench/record_sizes.py --payload 4096
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from harness import report
from hookstream.domain.outcome import outcome_headers
from hookstream.domain.status import AttemptFacts, fold_attempt, message_record, pair_record
from hookstream.log.codec import AvroCodec

KEY = 36  # a UUID as text, the key of every record on the message's path
# What a delivery worker sends (Standard Webhooks headers and the client's own).
REQUEST_HEADERS = {
    "webhook-id": "msg_2xkq7Z3nL0vY8pR1sT4uW6aB9cD",
    "webhook-timestamp": "1764770000",
    "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
    "content-type": "application/json",
    "content-length": "1024",
    "user-agent": "hookstream/0.1",
}


def records(payload_bytes: int) -> list[tuple[str, str, dict[str, Any], list[tuple[str, bytes]]]]:
    """(topic, type, record, headers) of one message delivered to one endpoint at the first attempt."""
    from tests.support import builders  # importable once harness has put the checkout's root on the path

    app = builders.application()["app_id"]
    endpoint = builders.endpoint(app, "https://receiver.example/hook")
    message = builders.message(app, event_id="inv-1", channels=["billing"])
    message["payload"] = b'{"d":"' + b"x" * (payload_bytes - 8) + b'"}' if payload_bytes >= 8 else b"{}"
    task = builders.delivery_task(endpoint) | {
        "msg_id": message["msg_id"], "payload": message["payload"], "event_id": "inv-1",
        "accepted_at": message["accepted_at"],
    }  # fmt: skip
    attempt = builders.attempt(message, endpoint["endpoint_id"]) | {"request_headers": REQUEST_HEADERS}
    failed = builders.attempt(message, endpoint["endpoint_id"], status=503) | {
        "request_headers": REQUEST_HEADERS, "payload": message["payload"], "accepted_at": message["accepted_at"],
        "next_attempt_at": attempt["finished_at"] + timedelta(seconds=5),
    }  # fmt: skip
    folded = fold_attempt(None, AttemptFacts.of(attempt), failing_after=4)
    return [
        ("messages", "MessageAccepted", message, []),
        ("tasks", "DeliveryTask", task, []),
        ("attempts", "AttemptFinished", attempt, outcome_headers("AttemptFinished", attempt)),
        ("attempts (failed, carries the retry)", "AttemptFinished", failed, outcome_headers("AttemptFinished", failed)),
        ("status", "MessageEndpointStatus", pair_record(folded.message, folded.pair), []),
        ("status", "MessageStatus", message_record(folded.message), []),
    ]


def main(args: argparse.Namespace) -> None:
    codec = AvroCodec()
    rows = []
    for payload in (0, args.payload):
        for topic, name, record, headers in records(payload):
            value = len(codec.encode(name, record))
            header = sum(len(k) + len(v) for k, v in headers)
            rows.append({"payload B": payload, "topic": topic, "record": name, "value B": value,
                         "headers B": header, "key B": KEY, "total B": value + header + KEY})  # fmt: skip
    for payload in (0, args.payload):
        rows.append({"payload B": payload, "topic": "(all, first attempt succeeds)", "record": "one message",
                     "total B": sum(r["total B"] for r in rows if r["payload B"] == payload
                                    and r["record"] != "one message" and "failed" not in r["topic"])})  # fmt: skip
    report("record_sizes", rows, quick=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payload", type=int, default=1024, help="payload bytes of the measured message")
    main(parser.parse_args())
