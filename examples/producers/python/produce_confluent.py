"""Usage: python produce_confluent.py BOOTSTRAP_SERVERS TOPIC APPLICATION"""

import json
import sys
import uuid

from confluent_kafka import Producer


def delivered(error, message) -> None:
    if error is not None:
        sys.exit(f"not delivered: {error}")


def main(bootstrap_servers: str, topic: str, application: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all", "compression.type": "lz4"})
    # A CloudEvent in structured mode: the value is the whole event, the extension hookstreamapp names the application.
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/billing",
        "type": "invoice.paid",
        "hookstreamapp": application,
        "data": {"invoiceId": "inv_1001", "amountCents": 4200},
    }
    producer.produce(
        topic,
        key="inv_1001",
        value=json.dumps(event),
        headers={"content-type": "application/cloudevents+json; charset=UTF-8"},
        on_delivery=delivered,
    )
    # A plain-JSON event: the value is a Svix MessageIn, the key names the application.
    message = {"eventType": "invoice.voided", "payload": {"invoiceId": "inv_1002"}}
    producer.produce(topic, key=application, value=json.dumps(message), on_delivery=delivered)
    if producer.flush(30) > 0:
        sys.exit("not flushed within 30 s")


if __name__ == "__main__":
    main(*sys.argv[1:4])
