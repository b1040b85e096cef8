package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
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

	// The group is Empty once the consumer has left. (Kafka keeps its
	// protocol type, "consumer"; cairn forgets it with the last member.)
	r = mustRun(t, brokers, "", "group", "list")
	lines := strings.Split(r.stdout, "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "GROUP STATE PROTOCOL-TYPE COORDINATOR" ||
		!strings.HasPrefix(lines[1], "audit  Empty  ") || !strings.HasSuffix(lines[1], "  1") {
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
	lines = strings.Split(r.stdout, "\n")
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

// TestClientGroupLagSeconds: a group committed mid-partition reports, per
// partition, the records behind and the age of the oldest record it has not
// consumed, from the timestamps the producer set.
func TestClientGroupLagSeconds(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "aged", "-p", "2")

	// Partition 0: five records a minute apart, the newest a minute old.
	// Partition 1: two records, both consumed.
	now := time.Now()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.DefaultProduceTopic("aged"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// The partitions elect leaders just after the topic is created: look
		// again soon rather than kgo's default of 5 s.
		kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Partition: 0, Value: []byte{'a' + byte(i)}, Timestamp: now.Add(time.Duration(i-5) * time.Minute)})
	}
	recs = append(recs, &kgo.Record{Partition: 1, Value: []byte("x")}, &kgo.Record{Partition: 1, Value: []byte("y")})
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	// The group has consumed offsets 0 and 1 of partition 0 (the oldest
	// unconsumed record is offset 2, three minutes old) and all of partition
	// 1.
	commits := make(kadm.Offsets)
	commits.AddOffset("aged", 0, 2, -1)
	commits.AddOffset("aged", 1, 2, -1)
	if err := kadm.NewClient(cl).CommitAllOffsets(t.Context(), "aged-group", commits); err != nil {
		t.Fatalf("commit: %v", err)
	}

	// The age is taken during the command: between these bounds, give or take
	// the millisecond timestamps.
	oldest := recs[2].Timestamp
	ageWithin := func(secs, slack float64, before, after time.Time) bool {
		return secs >= before.Sub(oldest).Seconds()-slack && secs <= after.Sub(oldest).Seconds()+slack
	}
	before := time.Now()
	var descs []groupDescription
	decodeJSON(t, mustRun(t, brokers, "", "group", "describe", "aged-group", "--format", "json").stdout, &descs)
	after := time.Now()
	d := descs[0]
	if len(d.Partitions) != 2 {
		t.Fatalf("describe: partitions %+v, want the topic's two", d.Partitions)
	}
	p0, p1 := d.Partitions[0], d.Partitions[1]
	if p0.Committed != 2 || p0.LogEnd != 5 || p0.Lag != 3 || !ageWithin(p0.LagSeconds, 0.01, before, after) {
		t.Errorf("partition 0: %+v, want lag 3 records, %.3fs to %.3fs", p0, before.Sub(oldest).Seconds(), after.Sub(oldest).Seconds())
	}
	if ts, err := time.Parse(time.RFC3339Nano, p0.OldestUnconsumed); err != nil || !ts.Equal(oldest.Truncate(time.Millisecond)) {
		t.Errorf("partition 0 oldest unconsumed at %q (%v), want %v", p0.OldestUnconsumed, err, oldest)
	}
	if p1.Committed != 2 || p1.LogEnd != 2 || p1.Lag != 0 || p1.LagSeconds != 0 || p1.OldestUnconsumed != "" {
		t.Errorf("partition 1: %+v, want caught up", p1)
	}
	if d.TotalLag != 3 || d.MaxLagSeconds != p0.LagSeconds {
		t.Errorf("group: total lag %d, max %.3fs; want 3, %.3fs", d.TotalLag, d.MaxLagSeconds, p0.LagSeconds)
	}

	before = time.Now()
	r := mustRun(t, brokers, "", "group", "describe", "aged-group")
	after = time.Now()
	lines := strings.Split(r.stdout, "\n")
	var rows [][]string
	for _, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && (f[0] == "TOPIC" || f[0] == "aged") {
			rows = append(rows, f)
		}
	}
	if len(rows) != 3 || strings.Join(rows[0], " ") != "TOPIC PARTITION COMMITTED LOG-END LAG LAG-SECONDS MEMBER-ID ERROR" ||
		strings.Join(rows[2], " ") != "aged 1 2 2 0 0.0" {
		t.Fatalf("describe:\n%s", r.stdout)
	}
	if secs, err := strconv.ParseFloat(rows[1][5], 64); err != nil || rows[1][4] != "3" || !ageWithin(secs, 0.06, before, after) {
		t.Errorf("partition 0 row %q, want lag 3 and %.1fs to %.1fs", rows[1], before.Sub(oldest).Seconds(), after.Sub(oldest).Seconds())
	}
	if !strings.Contains(r.stdout, "MAX-LAG-SECONDS "+rows[1][5]+"\n") {
		t.Errorf("describe lacks MAX-LAG-SECONDS %s:\n%s", rows[1][5], r.stdout)
	}
}
