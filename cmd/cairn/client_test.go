package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/cairnlog/cairn/cluster"
	"github.com/cairnlog/cairn/cluster/clustertest"
)

// testCluster starts a one-broker cairn cluster in this process, on loopback,
// and returns its seed broker once it is ready.
func testCluster(t *testing.T) string {
	t.Helper()
	return testClusterN(t, 1).seeds
}

// testBrokers is a cairn cluster started by testClusterN.
type testBrokers struct {
	seeds   string // the Kafka addresses, comma-separated
	brokers []*cluster.Broker
}

// testClusterN starts an n-broker cairn cluster in this process (the first
// broker founds it, the others join it by gossip) and returns the seed brokers
// once every broker is ready and knows all n. The brokers are closed when the
// test ends.
func testClusterN(t *testing.T, n int) *testBrokers {
	t.Helper()
	root := t.TempDir()
	logger := clustertest.Logger()
	brokers := make([]*cluster.Broker, 0, n)
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, b := range brokers {
			wg.Go(func() { b.Close() })
		}
		wg.Wait()
	})
	var seeds []string
	for id := int32(1); id <= int32(n); id++ {
		join := ""
		if id > 1 {
			join = brokers[0].GossipAddr()
		}
		cfg := clustertest.Config(root, id, join, logger)
		b, err := cluster.Start(cfg)
		if err != nil {
			t.Fatalf("start broker %d: %v", id, err)
		}
		brokers = append(brokers, b)
		seeds = append(seeds, b.KafkaAddr())
	}
	waitCluster(t, brokers, 30*time.Second)
	return &testBrokers{seeds: strings.Join(seeds, ","), brokers: brokers}
}

// converged waits until every partition is led by its preferred replica and
// every broker's copy of the metadata names the same topics, partitions,
// leaders and replicas. An admin command returns once the broker that took it
// has applied it; the others follow shortly, as Kafka's brokers do, and a new
// client may ask any of them.
func (c *testBrokers) converged(t *testing.T) {
	t.Helper()
	view := func(b *cluster.Broker) string { return fmt.Sprintf("%+v", b.Topics()) }
	waitFor(t, 10*time.Second, func() error {
		for _, ti := range c.brokers[0].Topics() {
			for _, p := range ti.Partitions {
				// The replica manager hands the leadership of a new
				// partition to its preferred replica, the first.
				if p.Leader < 0 || p.Leader != p.Replicas[0] {
					return fmt.Errorf("%s/%d led by %d, not yet by its preferred replica %d", ti.Name, p.Index, p.Leader, p.Replicas[0])
				}
			}
		}
		want := view(c.brokers[0])
		for _, b := range c.brokers[1:] {
			if got := view(b); got != want {
				return fmt.Errorf("broker %d has %s, broker %d %s", b.ID(), got, c.brokers[0].ID(), want)
			}
		}
		return nil
	})
}

// waitCluster waits until every broker is ready and knows every other one,
// re-checking every 20 ms (the cluster package offers nothing to wait on from
// outside), and fails the test after timeout.
func waitCluster(t *testing.T, brokers []*cluster.Broker, timeout time.Duration) {
	t.Helper()
	ready := func() error {
		for _, b := range brokers {
			if err := b.Ready(); err != nil {
				return fmt.Errorf("broker %d: %w", b.ID(), err)
			}
			if got := len(b.Brokers()); got != len(brokers) {
				return fmt.Errorf("broker %d knows %d brokers, want %d", b.ID(), got, len(brokers))
			}
		}
		return nil
	}
	waitFor(t, timeout, ready)
}

// waitFor waits until cond returns nil, re-checking it every 20 ms, and fails
// the test with cond's last error after timeout.
func waitFor(t *testing.T, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("not within %v: %v", timeout, err)
		}
	}
}

// cliResult is what one run of the command line printed and returned.
type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs `cairn args... --brokers brokers` with stdin, as main does but
// in-process.
func runCLI(t *testing.T, brokers, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runCLIWith(t.Context(), brokers, strings.NewReader(stdin), &stdout, &stderr, args...)
	return cliResult{stdout.String(), stderr.String(), err}
}

func runCLIWith(ctx context.Context, brokers string, stdin *strings.Reader, stdout, stderr interface{ Write([]byte) (int, error) }, args ...string) error {
	root := rootCommand()
	if brokers != "" {
		args = append(args, "--brokers", brokers)
	}
	// A loaded machine (CI's two cores under -race) can take longer than
	// the 10 s default to elect a new topic's leaders.
	if !slices.Contains(args, "--timeout") {
		args = append(args, "--timeout", "60s")
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// mustRun runs the command line and fails the test if it returns an error.
func mustRun(t *testing.T, brokers, stdin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, brokers, stdin, args...)
	if r.err != nil {
		t.Fatalf("cairn %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

// mustFail runs the command line, wants an error whose one line contains want.
func mustFail(t *testing.T, brokers, stdin, want string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, brokers, stdin, args...)
	if r.err == nil {
		t.Fatalf("cairn %s: succeeded, want an error containing %q\nstdout:\n%s", strings.Join(args, " "), want, r.stdout)
	}
	msg := r.err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Fatalf("cairn %s: error %q, want one line containing %q", strings.Join(args, " "), msg, want)
	}
	return r
}

// decodeJSON unmarshals a command's JSON output into v.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not the JSON wanted: %v\n%s", err, out)
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// onWrite, if set, is called with the contents after each write.
	onWrite func(string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.onWrite != nil {
		b.onWrite(b.buf.String())
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestClientCommandsHaveExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	client := map[string]bool{"topic": true, "produce": true, "consume": true, "group": true, "cluster": true}
	for _, c := range rootCommand().Commands() {
		if client[c.Name()] {
			walk(c)
		}
	}

	r := mustRun(t, "", "", "topic", "create", "--help")
	if !strings.Contains(r.stdout, "Example") || !strings.Contains(r.stdout, "--brokers") {
		t.Fatalf("help lacks Example or the global flags:\n%s", r.stdout)
	}
}

func TestClientBadFlagsAndInput(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "t", "-p", "1")
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"unknown flag: --bogus", []string{"topic", "list", "--bogus"}},
		{`--format "yaml"`, []string{"topic", "list", "--format", "yaml"}},
		{`offset "1x"`, []string{"consume", "t", "-o", "1x"}},
		{"--compression", []string{"produce", "t", "--compression", "brotli"}},
		{"--acks 2", []string{"produce", "t", "--acks", "2"}},
		{"unknown verb %x", []string{"consume", "t", "--format", "%x"}},
		{"UNKNOWN_TOPIC_OR_PARTITION", []string{"consume", "nope", "-o", ":end"}},
		{"UNKNOWN_TOPIC_OR_PARTITION", []string{"topic", "describe", "nope"}},
		{"TOPIC_ALREADY_EXISTS", []string{"topic", "create", "t"}},
		{"accepts 1 arg", []string{"produce"}},
		{"-c \"x\": want key=value", []string{"topic", "create", "u", "-c", "x"}},
		{"--group", []string{"consume", "t", "--group", "g", "-o", "0:1"}},
	} {
		mustFail(t, brokers, "", tc.want, tc.args...)
	}
	mustFail(t, "", "", "--brokers is empty", "topic", "list", "--brokers", " , ")
}

func TestClientUnreachableCluster(t *testing.T) {
	// A port nothing listens on: the command gives up within --timeout.
	mustFail(t, "127.0.0.1:1", "", "list topics: unable to dial", "topic", "list", "--timeout", "500ms")
}

func TestRetriable(t *testing.T) {
	shards := func(errs ...error) error {
		se := &kadm.ShardErrors{Name: "ListOffsets"}
		for _, err := range errs {
			se.Errs = append(se.Errs, kadm.ShardError{Err: err})
		}
		return se
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{kerr.LeaderNotAvailable, true},
		{fmt.Errorf("list: %w", kerr.NotLeaderForPartition), true},
		{kerr.UnknownTopicOrPartition, false},
		{kerr.TopicAuthorizationFailed, false},
		{context.DeadlineExceeded, false},
		{shards(kerr.LeaderNotAvailable, kerr.NotLeaderForPartition), true},
		{shards(kerr.LeaderNotAvailable, kerr.UnknownTopicOrPartition), false},
		{shards(), false},
	} {
		if got := retriable(tc.err); got != tc.want {
			t.Errorf("retriable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
