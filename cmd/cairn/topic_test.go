package main

import (
	"strings"
	"testing"
)

func TestClientTopicLifecycle(t *testing.T) {
	c := testClusterN(t, 3)
	brokers := c.seeds

	r := mustRun(t, brokers, "", "topic", "create", "orders", "payments", "-p", "3", "-r", "3", "-c", "retention.ms=3600000")
	want := "TOPIC     STATUS\norders    OK\npayments  OK\n"
	if r.stdout != want {
		t.Fatalf("create printed\n%s\nwant\n%s", r.stdout, want)
	}
	r = mustFail(t, brokers, "", "create topic orders: TOPIC_ALREADY_EXISTS", "topic", "create", "orders", "fresh")
	if !strings.Contains(r.stdout, "fresh   OK") {
		t.Fatalf("a failed create should still report the others:\n%s", r.stdout)
	}
	c.converged(t)

	r = mustRun(t, brokers, "", "topic", "list")
	if !strings.HasPrefix(r.stdout, "TOPIC") || !strings.Contains(r.stdout, "orders    3           3\n") {
		t.Fatalf("list printed\n%s", r.stdout)
	}
	var listed []struct {
		Topic      string `json:"topic"`
		Partitions int    `json:"partitions"`
		Replicas   int    `json:"replicas"`
	}
	decodeJSON(t, mustRun(t, brokers, "", "topic", "list", "--format", "json").stdout, &listed)
	if len(listed) != 3 || listed[1].Topic != "orders" || listed[1].Partitions != 3 || listed[1].Replicas != 3 {
		t.Fatalf("list --format json: %+v", listed)
	}

	mustRun(t, brokers, "a\nb\n", "produce", "orders", "-p", "1")
	r = mustRun(t, brokers, "", "topic", "describe", "orders")
	for _, line := range []string{
		"TOPIC orders\n", "PARTITIONS 3\n", "REPLICAS 3\n",
		"PARTITION  LEADER  EPOCH  REPLICAS  ISR    LOG-START  HIGH-WATERMARK  ERROR\n",
		"retention.ms",
	} {
		if !strings.Contains(r.stdout, line) {
			t.Fatalf("describe lacks %q:\n%s", line, r.stdout)
		}
	}
	var descs []topicDescription
	decodeJSON(t, mustRun(t, brokers, "", "topic", "describe", "orders", "--format", "json").stdout, &descs)
	d := descs[0]
	if len(d.Partitions) != 3 || len(d.Partitions[1].Replicas) != 3 || len(d.Partitions[1].ISR) != 3 ||
		d.Partitions[1].Leader < 0 || d.Partitions[1].LogStart != 0 || d.Partitions[1].HighWatermark != 2 {
		t.Fatalf("describe --format json partitions: %+v", d.Partitions)
	}
	if v := configValue(d, "retention.ms"); v != "3600000" {
		t.Fatalf("retention.ms = %q, want 3600000", v)
	}

	// A list, as Kafka Streams sets on windowed changelogs.
	mustRun(t, brokers, "", "topic", "alter-config", "orders", "--set", "cleanup.policy=compact,delete", "--delete", "retention.ms")
	c.converged(t)
	decodeJSON(t, mustRun(t, brokers, "", "topic", "describe", "orders", "--format", "json").stdout, &descs)
	if v := configValue(descs[0], "cleanup.policy"); v != "compact,delete" {
		t.Fatalf("cleanup.policy = %q after --set, want compact,delete", v)
	}
	if v := configValue(descs[0], "retention.ms"); v == "3600000" {
		t.Fatalf("retention.ms still %s after --delete", v)
	}
	mustFail(t, brokers, "", "nothing to change", "topic", "alter-config", "orders")

	mustRun(t, brokers, "", "topic", "add-partitions", "orders", "-n", "5")
	c.converged(t)
	decodeJSON(t, mustRun(t, brokers, "", "topic", "describe", "orders", "--format", "json").stdout, &descs)
	if len(descs[0].Partitions) != 5 {
		t.Fatalf("after add-partitions -n 5: %d partitions", len(descs[0].Partitions))
	}
	mustFail(t, brokers, "", "INVALID_PARTITIONS", "topic", "add-partitions", "orders", "-n", "2")

	r = mustRun(t, brokers, "", "topic", "delete", "orders", "fresh")
	if r.stdout != "TOPIC   STATUS\norders  OK\nfresh   OK\n" {
		t.Fatalf("delete printed\n%s", r.stdout)
	}
	c.converged(t)
	r = mustRun(t, brokers, "", "topic", "list")
	if strings.Contains(r.stdout, "orders") || !strings.Contains(r.stdout, "payments") {
		t.Fatalf("list after delete:\n%s", r.stdout)
	}
	mustFail(t, brokers, "", "UNKNOWN_TOPIC_OR_PARTITION", "topic", "delete", "orders")
}

func configValue(d topicDescription, name string) string {
	for _, c := range d.Configs {
		if c.Name == name && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}
