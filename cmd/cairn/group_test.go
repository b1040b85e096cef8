package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestClientGroup(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "orders", "-p", "2")
	mustRun(t, brokers, "a\nb\nc\n", "produce", "orders", "-p", "0")
	mustRun(t, brokers, "d\n", "produce", "orders", "-p", "1")

	// A group consume of two records commits exactly those two.
	r := mustRun(t, brokers, "", "consume", "orders", "--group", "audit", "-n", "2", "-o", "start")
	if got := strings.Count(r.stdout, "\n"); got != 2 {
		t.Fatalf("consume -n 2 printed %q", r.stdout)
	}

	r = mustRun(t, brokers, "", "group", "list")
	if !strings.Contains(r.stdout, "GROUP  STATE  PROTOCOL-TYPE  COORDINATOR\naudit  Empty  consumer") {
		t.Fatalf("group list:\n%s", r.stdout)
	}

	var descs []groupDescription
	decodeJSON(t, mustRun(t, brokers, "", "group", "describe", "audit", "--format", "json").stdout, &descs)
	d := descs[0]
	var committed, lag int64
	for _, p := range d.Partitions {
		if p.Committed > 0 {
			committed += p.Committed
		}
		lag += p.Lag
	}
	if d.State != "Empty" || len(d.Members) != 0 || committed != 2 || d.TotalLag != 2 || lag != 2 {
		t.Fatalf("group describe: %+v", d)
	}
	r = mustRun(t, brokers, "", "group", "describe", "audit")
	for _, want := range []string{"GROUP audit\n", "STATE Empty\n", "MEMBERS 0\n", "TOTAL-LAG 2\n", "TOPIC   PARTITION  COMMITTED  LOG-END  LAG"} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("group describe lacks %q:\n%s", want, r.stdout)
		}
	}

	// seek previews by default and changes nothing.
	r = mustRun(t, brokers, "", "group", "seek", "audit", "--to", "start", "--topics", "orders")
	lines := strings.Split(r.stdout, "\n")
	if len(lines) != 4 || lines[0] != "TOPIC   PARTITION  CURRENT  NEW" || !strings.HasSuffix(lines[1], " 0") || !strings.HasSuffix(lines[2], " 0") {
		t.Fatalf("seek preview:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "preview only") {
		t.Fatalf("seek preview stderr: %q", r.stderr)
	}
	decodeJSON(t, mustRun(t, brokers, "", "group", "describe", "audit", "--format", "json").stdout, &descs)
	if descs[0].TotalLag != 2 {
		t.Fatalf("a preview moved the group: %+v", descs[0])
	}
	// --execute moves it.
	mustRun(t, brokers, "", "group", "seek", "audit", "--to", "end", "--execute")
	decodeJSON(t, mustRun(t, brokers, "", "group", "describe", "audit", "--format", "json").stdout, &descs)
	if descs[0].TotalLag != 0 {
		t.Fatalf("seek --to end --execute left lag: %+v", descs[0])
	}
	var plan []seekPlan
	decodeJSON(t, mustRun(t, brokers, "", "group", "seek", "audit", "--to", "-1", "--format", "json").stdout, &plan)
	if len(plan) != 2 || plan[0].Current != 3 || plan[0].New != 2 || plan[1].Current != 1 || plan[1].New != 0 {
		t.Fatalf("seek --to -1 plan: %+v", plan)
	}
	mustFail(t, brokers, "", "has no committed offsets", "group", "seek", "nobody", "--to", "start")
	mustFail(t, brokers, "", "--to is required", "group", "seek", "audit")

	// A group with a live member: seek --execute is refused.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	assigned := make(chan struct{})
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumerGroup("live"), kgo.ConsumeTopics("orders"),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { close(assigned) }),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	go cl.PollFetches(ctx) // joins the group
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the consumer was never assigned partitions")
	}
	mustFail(t, brokers, "", "group live is Stable with 1 member: stop its consumers before seeking",
		"group", "seek", "live", "--to", "start", "--topics", "orders", "--execute")
	r = mustRun(t, brokers, "", "group", "describe", "live")
	if !strings.Contains(r.stdout, "MEMBERS 1\n") || !strings.Contains(r.stdout, "orders/0,orders/1") {
		t.Fatalf("describe of a live group lacks its member and assignment:\n%s", r.stdout)
	}

	r = mustRun(t, brokers, "", "group", "delete", "audit")
	if r.stdout != "GROUP  STATUS\naudit  OK\n" {
		t.Fatalf("group delete:\n%s", r.stdout)
	}
	mustFail(t, brokers, "", "GROUP_ID_NOT_FOUND", "group", "describe", "audit")
}
