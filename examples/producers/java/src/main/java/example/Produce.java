package example;

import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/** Usage: Produce BOOTSTRAP_SERVERS TOPIC APPLICATION */
public final class Produce {
    public static void main(String[] args) throws Exception {
        String topic = args[1], application = args[2];
        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        config.put(ProducerConfig.ACKS_CONFIG, "all");
        config.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "zstd");
        config.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        config.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);

        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config)) {
            // A CloudEvent in binary mode: the attributes are ce_* headers, the value is the data.
            ProducerRecord<String, String> event = new ProducerRecord<>(topic, "inv_1001",
                    "{\"invoiceId\": \"inv_1001\", \"amountCents\": 4200}");
            header(event, "ce_specversion", "1.0");
            header(event, "ce_id", UUID.randomUUID().toString());
            header(event, "ce_source", "/billing");
            header(event, "ce_type", "invoice.paid");
            header(event, "ce_hookstreamapp", application);
            header(event, "content-type", "application/json");
            producer.send(event);

            // A plain-JSON event: the value is a Svix MessageIn, the key names the application.
            producer.send(new ProducerRecord<>(topic, application,
                    "{\"eventType\": \"invoice.voided\", \"payload\": {\"invoiceId\": \"inv_1002\"}}"));
            producer.flush();
        }
    }

    private static void header(ProducerRecord<String, String> record, String name, String value) {
        record.headers().add(name, value.getBytes(StandardCharsets.UTF_8));
    }
}
