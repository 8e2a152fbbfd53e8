// Usage: node produce.js BOOTSTRAP_SERVERS TOPIC APPLICATION
const { randomUUID } = require("node:crypto");
const { Kafka, Partitioners, logLevel } = require("kafkajs");

async function main([brokers, topic, application]) {
  const kafka = new Kafka({ brokers: brokers.split(","), logLevel: logLevel.WARN });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  try {
    await producer.send({
      topic,
      messages: [
        {
          // A CloudEvent in structured mode: the value is the whole event.
          key: "inv_1001",
          headers: { "content-type": "application/cloudevents+json; charset=UTF-8" },
          value: JSON.stringify({
            specversion: "1.0",
            id: randomUUID(),
            source: "/billing",
            type: "invoice.paid",
            hookstreamapp: application,
            data: { invoiceId: "inv_1001", amountCents: 4200 },
          }),
        },
        {
          // A plain-JSON event: the value is a Svix MessageIn, the key names the application.
          key: application,
          value: JSON.stringify({ eventType: "invoice.voided", payload: { invoiceId: "inv_1002" } }),
        },
      ],
    });
  } finally {
    await producer.disconnect();
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
