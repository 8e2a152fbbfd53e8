"""Usage: python produce.py BOOTSTRAP_SERVERS TOPIC APPLICATION"""

import asyncio
import json
import sys
import uuid

from aiokafka import AIOKafkaProducer


async def main(bootstrap_servers: str, topic: str, application: str) -> None:
    async with AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all") as producer:
        # A CloudEvent in binary mode: the attributes are ce_* headers, the value is the data;
        # the header hookstream-application names the application.
        headers = {
            "ce_specversion": "1.0",
            "ce_id": str(uuid.uuid4()),
            "ce_source": "/billing",
            "ce_type": "invoice.paid",
            "content-type": "application/json",
            "hookstream-application": application,
        }
        await producer.send(
            topic,
            key=b"inv_1001",
            value=json.dumps({"invoiceId": "inv_1001", "amountCents": 4200}).encode(),
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
        # A plain-JSON event: the value is a Svix MessageIn, the key names the application.
        message = {"eventType": "invoice.voided", "payload": {"invoiceId": "inv_1002"}}
        await producer.send(topic, key=application.encode(), value=json.dumps(message).encode())
        # Leaving the block flushes what was sent.


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
