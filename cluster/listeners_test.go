package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseEndpoints(t *testing.T) {
	got, err := ParseEndpoints([]string{"internal://0.0.0.0:9092", " EXTERNAL://[::1]:19092", ""})
	want := []Endpoint{{"INTERNAL", "0.0.0.0:9092"}, {"EXTERNAL", "[::1]:19092"}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ParseEndpoints = %v, %v; want %v", got, err, want)
	}
	if _, err := ParseEndpoints([]string{"broker1:9092"}); err == nil {
		t.Fatal("a listener without a name parsed")
	}
}

func TestConfigListeners(t *testing.T) {
	l := func(s ...string) []Endpoint {
		es, err := ParseEndpoints(s)
		if err != nil {
			t.Fatal(err)
		}
		return es
	}
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string // "" for valid
	}{
		{"default", Config{}, ""},
		{"two listeners", Config{Listeners: l("A://0.0.0.0:9092", "B://0.0.0.0:19092"), AdvertisedListeners: l("A://broker1:9092", "B://localhost:19092")}, ""},
		{"some advertised", Config{Listeners: l("A://127.0.0.1:0", "B://127.0.0.1:0"), AdvertisedListeners: l("B://localhost:19092")}, ""},
		{"with kafka addr", Config{Listeners: l("A://:9092"), KafkaAddr: "localhost:9092"}, "listeners replace the kafka address"},
		{"with advertised kafka addr", Config{Listeners: l("A://:9092"), AdvertiseKafkaAddr: "h:9092"}, "listeners replace the kafka address"},
		{"advertised alone", Config{AdvertisedListeners: l("A://h:9092")}, "without listeners"},
		{"unknown advertised", Config{Listeners: l("A://:9092"), AdvertisedListeners: l("B://h:9092")}, "advertised listener B://h:9092: no listener B (listeners: A)"},
		{"duplicate name", Config{Listeners: l("A://:9092", "a://:9093")}, "listener A named twice"},
		{"duplicate advertised", Config{Listeners: l("A://:9092"), AdvertisedListeners: l("A://h:9092", "A://g:9092")}, "advertised listener A named twice"},
		{"bad name", Config{Listeners: []Endpoint{{"A-B", ":9092"}}}, `name "A-B"`},
		{"no port", Config{Listeners: l("A://broker1")}, "listener A://broker1: address broker1: missing port"},
		{"bad port", Config{Listeners: l("A://broker1:99999")}, `port "99999"`},
		{"same port", Config{Listeners: l("A://:9092", "B://127.0.0.1:9092")}, "listeners A and B both bind port 9092"},
		{"advertised wildcard", Config{Listeners: l("A://:9092"), AdvertisedListeners: l("A://0.0.0.0:9092")}, "not an address clients can dial"},
		{"advertised port 0", Config{Listeners: l("A://:9092"), AdvertisedListeners: l("A://h:0")}, "port 0"},
		{"advertised kafka addr port 0", Config{AdvertiseKafkaAddr: "h:0"}, "port 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// A broker record written before named listeners (no "listeners" field) reads
// as one PLAINTEXT listener at its kafka address, in a command and in a
// snapshot; one with listeners keeps them.
func TestBrokerRecordListenersCompat(t *testing.T) {
	old := append([]byte{commandVersion, byte(cmdRegisterBroker)},
		`{"id":1,"kafka_addr":"broker1:9092","internal_addr":"broker1:9093","gossip_addr":"broker1:7946","state":"registered"}`...)
	c, err := decodeCommand(old)
	if err != nil {
		t.Fatal(err)
	}
	s := newMetaState()
	s.apply(c)
	if got, want := s.Brokers[1].endpoints(), []Endpoint{{DefaultListenerName, "broker1:9092"}}; !slices.Equal(got, want) {
		t.Fatalf("old record endpoints = %v, want %v", got, want)
	}
	ls := []Endpoint{{"INTERNAL", "broker2:9092"}, {"EXTERNAL", "localhost:29092"}}
	s.apply(command{typ: cmdRegisterBroker, body: &BrokerRecord{ID: 2, KafkaAddr: "broker2:9092", State: BrokerRegistered, Listeners: ls}})
	restored, _, err := decodeSnapshot(encodeSnapshot(s, 7))
	if err != nil {
		t.Fatal(err)
	}
	if !restored.Brokers[1].equal(*s.Brokers[1]) || !restored.Brokers[2].equal(*s.Brokers[2]) || !slices.Equal(restored.Brokers[2].endpoints(), ls) {
		t.Fatalf("snapshot round trip: %+v %+v", restored.Brokers[1], restored.Brokers[2])
	}
	// A reader that predates listeners ignores the field.
	var prior struct {
		ID        int32  `json:"id"`
		KafkaAddr string `json:"kafka_addr"`
	}
	if err := json.Unmarshal(encodeCommand(cmdRegisterBroker, s.Brokers[2])[2:], &prior); err != nil || prior.KafkaAddr != "broker2:9092" {
		t.Fatalf("old reader: %+v, %v", prior, err)
	}
}

// listenerConfig is broker id's config with one loopback Kafka listener per
// name instead of KafkaAddr.
func (c *testCluster) listenerConfig(id int32, names ...string) Config {
	cfg := c.config(id)
	cfg.KafkaAddr = ""
	for _, n := range names {
		cfg.Listeners = append(cfg.Listeners, Endpoint{Name: n, Addr: "127.0.0.1:0"})
	}
	return cfg
}

// listenerAddrs returns the advertised addresses of listener on every live
// broker that has it.
func (c *testCluster) listenerAddrs(listener string) []string {
	var out []string
	for _, b := range c.live() {
		for _, e := range b.KafkaListeners() {
			if e.Name == listener {
				out = append(out, e.Addr)
			}
		}
	}
	slices.Sort(out)
	return out
}

// listenerClient is a franz-go client bootstrapping on listener's addresses;
// it fails the test if it ever dials an address that is not one of the live
// brokers' listener addresses (looked up at the dial: a broker that joins
// later, with that listener, is a legitimate target).
func (c *testCluster) listenerClient(listener string, opts ...kgo.Opt) *kgo.Client {
	c.t.Helper()
	var mu sync.Mutex
	var stray []string
	var allowed []string
	d := &net.Dialer{Timeout: 5 * time.Second}
	opts = append(opts, kgo.SeedBrokers(c.listenerAddrs(listener)...), kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
		if addrs := c.listenerAddrs(listener); !slices.Contains(addrs, host) {
			mu.Lock()
			stray, allowed = append(stray, host), addrs
			mu.Unlock()
		}
		return d.DialContext(ctx, network, host)
	}))
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		cl.Close()
		mu.Lock()
		defer mu.Unlock()
		if len(stray) > 0 {
			c.t.Errorf("client of %s dialed %v, outside %v", listener, stray, allowed)
		}
	})
	return cl
}

// Every broker has two Kafka listeners. A client bootstrapping on either is
// told only that listener's addresses, by Metadata, DescribeCluster and
// FindCoordinator, and produces and consumes (in a group) through it alone. A
// broker without the second listener is left out of that listener's
// answers, and a partition it leads is LISTENER_NOT_FOUND there, as in Kafka.
func TestKafkaTwoListeners(t *testing.T) {
	c := &testCluster{t: t, root: t.TempDir(), brokers: map[int32]*Broker{}, cfgs: map[int32]Config{}, kafka: true}
	t.Cleanup(c.closeAll)
	for id := int32(1); id <= 3; id++ {
		c.start(c.listenerConfig(id, "CLIENT", "EXTERNAL"))
	}
	c.waitReady(3, 30*time.Second)
	ctx := ctxTimeout(t, 2*time.Minute)

	client, external := c.listenerAddrs("CLIENT"), c.listenerAddrs("EXTERNAL")
	if len(client) != 3 || len(external) != 3 || slices.ContainsFunc(client, func(a string) bool { return slices.Contains(external, a) }) {
		t.Fatalf("listener addresses: CLIENT %v, EXTERNAL %v", client, external)
	}
	const topic = "events"
	for i, listener := range []string{"CLIENT", "EXTERNAL"} {
		addrs := c.listenerAddrs(listener)
		admin := kadm.NewClient(c.listenerClient(listener))
		if i == 0 {
			if _, err := admin.CreateTopic(ctx, 3, 3, nil, topic); err != nil {
				t.Fatal(err)
			}
			c.waitLeaders(topic, 30*time.Second)
		}
		m, err := admin.BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range m.Brokers {
			got = append(got, net.JoinHostPort(b.Host, fmt.Sprint(b.Port)))
		}
		slices.Sort(got)
		if !slices.Equal(got, addrs) {
			t.Fatalf("%s: metadata brokers %v, want %v", listener, got, addrs)
		}

		prod := c.listenerClient(listener, kgo.DefaultProduceTopic(topic), kgo.RequiredAcks(kgo.AllISRAcks()))
		const records = 100
		for j := range records {
			if err := prod.ProduceSync(ctx, kgo.StringRecord(fmt.Sprintf("%s-%d", listener, j))).FirstErr(); err != nil {
				t.Fatalf("%s: produce: %v", listener, err)
			}
		}
		group := "readers-" + listener
		cons := c.listenerClient(listener, kgo.ConsumeTopics(topic), kgo.ConsumerGroup(group),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		seen := 0
		for seen < records*(i+1) {
			fs := cons.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("%s: consumed %d of %d: %v", listener, seen, records*(i+1), err)
			}
			seen += fs.NumRecords()
		}
		if err := cons.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("%s: commit: %v", listener, err)
		}
		coord := kmsg.NewPtrFindCoordinatorRequest()
		coord.CoordinatorKey = group
		resp, err := coord.RequestWith(ctx, cons)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("%s: FindCoordinator: %+v, %v", listener, resp, err)
		}
		if a := net.JoinHostPort(resp.Host, fmt.Sprint(resp.Port)); !slices.Contains(addrs, a) {
			t.Fatalf("%s: coordinator at %s, not one of %v", listener, a, addrs)
		}
		t.Logf("%s: %d records produced, %d consumed in group %s, coordinator %d", listener, records, seen, group, resp.NodeID)
	}

	// Broker 4 has CLIENT only.
	c.start(c.listenerConfig(4, "CLIENT"))
	c.waitReady(4, 30*time.Second)
	ext := c.listenerClient("EXTERNAL")
	cli := c.listenerClient("CLIENT")
	const spread = "spread"
	if _, err := kadm.NewClient(cli).CreateTopic(ctx, 8, 1, nil, spread); err != nil {
		t.Fatal(err)
	}
	ti := c.waitLeaders(spread, 30*time.Second)
	if !slices.ContainsFunc(ti.Partitions, func(p PartitionInfo) bool { return p.Leader == 4 }) {
		t.Fatalf("no partition of %s led by broker 4: %+v", spread, ti.Partitions)
	}
	dc := kmsg.NewPtrDescribeClusterRequest()
	for _, tc := range []struct {
		cl          *kgo.Client
		wantBrokers int
	}{{cli, 4}, {ext, 3}} {
		dresp, err := dc.RequestWith(ctx, tc.cl)
		if err != nil || len(dresp.Brokers) != tc.wantBrokers {
			t.Fatalf("DescribeCluster: %d brokers (%v), want %d", len(dresp.Brokers), err, tc.wantBrokers)
		}
		mreq := kmsg.NewPtrMetadataRequest()
		mt := kmsg.NewMetadataRequestTopic()
		mt.Topic = kmsg.StringPtr(spread)
		mreq.Topics = append(mreq.Topics, mt)
		mresp, err := mreq.RequestWith(ctx, tc.cl)
		if err != nil || len(mresp.Brokers) != tc.wantBrokers || len(mresp.Topics) != 1 {
			t.Fatalf("Metadata: %+v, %v", mresp, err)
		}
		for _, p := range mresp.Topics[0].Partitions {
			onFour := ti.Partitions[p.Partition].Leader == 4
			switch {
			case tc.wantBrokers == 3 && onFour && (p.Leader != -1 || p.ErrorCode != kerr.ListenerNotFound.Code || !slices.Equal(p.OfflineReplicas, []int32{4})):
				t.Fatalf("EXTERNAL: partition %d led by broker 4: leader %d, error %d, offline %v; want -1, LISTENER_NOT_FOUND, [4]",
					p.Partition, p.Leader, p.ErrorCode, p.OfflineReplicas)
			case (tc.wantBrokers == 4 || !onFour) && (p.Leader != ti.Partitions[p.Partition].Leader || p.ErrorCode != 0):
				t.Fatalf("partition %d: leader %d, error %d; want %d", p.Partition, p.Leader, p.ErrorCode, ti.Partitions[p.Partition].Leader)
			}
		}
	}
}
