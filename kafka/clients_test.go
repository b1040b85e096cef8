package kafka

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	kafkago "github.com/segmentio/kafka-go"
)

// clientRecord is record i of the sarama and kafka-go tests.
func clientRecord(i int) (key, value []byte) {
	return fmt.Appendf(nil, "key-%d", i), fmt.Appendf(nil, "value-%d-%s", i, payload[:200])
}

func TestSarama(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, n = 4, 2000
	b.createTopic("sarama", parts, nil)

	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "sarama-kafka-test"
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer([]string{b.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var msgs []*sarama.ProducerMessage
	for i := range n {
		k, v := clientRecord(i)
		msgs = append(msgs, &sarama.ProducerMessage{
			Topic: "sarama", Partition: int32(i % parts), Key: sarama.ByteEncoder(k), Value: sarama.ByteEncoder(v),
			Headers: []sarama.RecordHeader{{Key: []byte("i"), Value: []byte(strconv.Itoa(i))}},
		})
	}
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatalf("send: %v", err)
	}

	cons, err := sarama.NewConsumer([]string{b.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	deadline := time.After(testDeadline)
	for p := range int32(parts) {
		pc, err := cons.ConsumePartition("sarama", p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for i := int(p); i < n; i += parts {
			select {
			case m := <-pc.Messages():
				k, v := clientRecord(i)
				if !bytes.Equal(m.Key, k) || !bytes.Equal(m.Value, v) || m.Offset != int64(i/parts) ||
					len(m.Headers) != 1 || string(m.Headers[0].Value) != strconv.Itoa(i) {
					t.Fatalf("partition %d offset %d: key %q, want %q", p, m.Offset, m.Key, k)
				}
			case err := <-pc.Errors():
				t.Fatalf("consume %d: %v", p, err)
			case <-deadline:
				t.Fatalf("partition %d: record %d did not arrive", p, i)
			}
		}
		pc.Close()
	}
}

func TestKafkaGo(t *testing.T) {
	b := startBroker(t, Config{})
	const parts, n = 4, 1000
	for _, acks := range []kafkago.RequiredAcks{kafkago.RequireAll, kafkago.RequireNone} {
		topic := "kafkago-" + strings.ToLower(acks.String())
		t.Run(topic, func(t *testing.T) {
			b.createTopic(topic, parts, nil)
			w := &kafkago.Writer{
				Addr:         kafkago.TCP(b.addr),
				Topic:        topic,
				RequiredAcks: acks,
				Compression:  kafkago.Lz4,
				BatchTimeout: 5 * time.Millisecond,
				// Its own transport: the shared default caches metadata
				// from before this subtest's topic existed.
				Transport: &kafkago.Transport{},
				// Key "key-i" goes to partition i % parts, keeping order.
				Balancer: kafkago.BalancerFunc(func(m kafkago.Message, partitions ...int) int {
					i, _ := strconv.Atoi(strings.TrimPrefix(string(m.Key), "key-"))
					return partitions[i%len(partitions)]
				}),
			}
			defer w.Close()
			ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
			defer cancel()
			msgs := make([]kafkago.Message, n)
			for i := range n {
				k, v := clientRecord(i)
				msgs[i] = kafkago.Message{Key: k, Value: v, Headers: []kafkago.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}}}
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				t.Fatalf("write: %v", err)
			}
			for p := range parts {
				r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{b.addr}, Topic: topic, Partition: p, MaxWait: 500 * time.Millisecond})
				if err := r.SetOffset(0); err != nil {
					t.Fatal(err)
				}
				// With acks=0 kafka-go sends a partition's batches without
				// waiting, possibly on several connections, so their order
				// is the client's to lose: check each arrives once.
				seen := map[int]bool{}
				for i := p; i < n; i += parts {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						t.Fatalf("partition %d: read record %d: %v", p, i, err)
					}
					j := i
					if acks == kafkago.RequireNone {
						j, _ = strconv.Atoi(strings.TrimPrefix(string(m.Key), "key-"))
						if seen[j] || j%parts != p {
							t.Fatalf("partition %d: record %d again or misplaced", p, j)
						}
						seen[j] = true
					} else if m.Offset != int64(i/parts) {
						t.Fatalf("partition %d: offset %d, want %d", p, m.Offset, i/parts)
					}
					k, v := clientRecord(j)
					if !bytes.Equal(m.Key, k) || !bytes.Equal(m.Value, v) ||
						len(m.Headers) != 1 || string(m.Headers[0].Value) != strconv.Itoa(j) {
						t.Fatalf("partition %d offset %d: key %q, want %q", p, m.Offset, m.Key, k)
					}
				}
				r.Close()
			}
		})
	}
}

// TestSaramaAdminConfigs drives the topic admin path of sarama's ClusterAdmin,
// whose AlterConfig sends the whole-set AlterConfigs (API 33).
func TestSaramaAdminConfigs(t *testing.T) {
	b := startBroker(t, Config{})
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	adm, err := sarama.NewClusterAdmin([]string{b.addr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	ms := func(s string) *string { return &s }
	if err := adm.CreateTopic("sarama-admin", &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1,
		ConfigEntries: map[string]*string{"cleanup.policy": ms("compact"), "retention.ms": ms("60000")}}, false); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := adm.AlterConfig(sarama.TopicResource, "sarama-admin", map[string]*string{"retention.bytes": ms("1048576")}, false); err != nil {
		t.Fatalf("alter config: %v", err)
	}
	entries, err := adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: "sarama-admin"})
	if err != nil {
		t.Fatalf("describe config: %v", err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Value
	}
	// The whole set replaced: the two configs set at creation are defaults again.
	if got["retention.bytes"] != "1048576" || got["cleanup.policy"] != "delete" || got["retention.ms"] != "604800000" {
		t.Fatalf("configs after AlterConfig: %v", got)
	}
	err = adm.AlterConfig(sarama.TopicResource, "sarama-admin", map[string]*string{"flush.ms": ms("1")}, false)
	if !errors.Is(err, sarama.ErrInvalidConfig) {
		t.Fatalf("alter an unsupported config: %v, want INVALID_CONFIG", err)
	}
}
