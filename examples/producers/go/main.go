// Usage: go run . BOOTSTRAP_SERVERS TOPIC APPLICATION
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers, topic, application := os.Args[1], os.Args[2], os.Args[3]
	client, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	// A CloudEvent in structured mode: the value is the whole event, the extension hookstreamapp names the application.
	event, _ := json.Marshal(map[string]any{
		"specversion":     "1.0",
		"id":              rand.Text(),
		"source":          "/billing",
		"type":            "invoice.paid",
		"hookstreamapp":   application,
		"datacontenttype": "application/json",
		"data":            map[string]any{"invoiceId": "inv_1001", "amountCents": 4200},
	})
	// A plain-JSON event: the value is a Svix MessageIn, the header hookstream-application names the application.
	message, _ := json.Marshal(map[string]any{
		"eventType": "invoice.voided",
		"payload":   map[string]any{"invoiceId": "inv_1002"},
	})
	results := client.ProduceSync(context.Background(),
		&kgo.Record{Key: []byte("inv_1001"), Value: event, Headers: []kgo.RecordHeader{
			{Key: "content-type", Value: []byte("application/cloudevents+json; charset=UTF-8")}}},
		&kgo.Record{Value: message, Headers: []kgo.RecordHeader{
			{Key: "hookstream-application", Value: []byte(application)}}},
	)
	if err := results.FirstErr(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("produced 2 records")
}
