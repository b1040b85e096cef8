package netns

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// cairnBinary returns $CAIRN_BINARY, or a cairn built into a temporary
// directory.
func cairnBinary(t *testing.T) string {
	if b := os.Getenv("CAIRN_BINARY"); b != "" {
		return b
	}
	bin := filepath.Join(t.TempDir(), "cairn")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/cairnlog/cairn/cmd/cairn")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build cairn: %v\n%s", err, out)
	}
	return bin
}

// startCluster starts a cluster of n nodes for t, closed at its end.
func startCluster(t *testing.T, n int) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("netns: starts broker processes in network namespaces; skipped with -short")
	}
	if err := Supported(); err != nil {
		t.Skipf("netns: this machine cannot run the cluster: %v", err)
	}
	bin := cairnBinary(t)
	began := time.Now()
	dir := t.TempDir()
	c, err := Start(t.Context(), Config{Binary: bin, Dir: dir, Nodes: n, Logf: t.Logf})
	if err != nil {
		for id := 1; id <= n; id++ {
			if b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("node%d.log", id))); err == nil {
				t.Logf("node %d log tail:\n%s", id, tail(string(b), 40))
			}
		}
		if keep := os.Getenv("CAIRN_NETNS_KEEP"); keep != "" {
			_ = os.CopyFS(filepath.Join(keep, t.Name()), os.DirFS(dir))
		}
		t.Fatal(err)
	}
	t.Logf("%d nodes ready in %v", n, time.Since(began).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if t.Failed() {
			for _, id := range c.Nodes() {
				if b, err := os.ReadFile(c.LogPath(id)); err == nil {
					t.Logf("node %d log tail:\n%s", id, tail(string(b), 40))
				}
			}
		}
	})
	return c
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(l[max(0, len(l)-lines):], "\n")
}

// produce sends count records with value prefix to topic, acks=all, and
// fails t unless every one is acknowledged within a minute.
func produce(t *testing.T, c *Cluster, topic, prefix string, count int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RequestTimeoutOverhead(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var recs []*kgo.Record
	for i := range count {
		recs = append(recs, kgo.StringRecord(fmt.Sprintf("%s-%d", prefix, i)))
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce %s: %v", prefix, err)
	}
}

// consume reads topic from the start until it has want records, for at most
// a minute, and returns their values.
func consume(t *testing.T, c *Cluster, topic string, want int) map[string]bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	got := map[string]bool{}
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records within a minute", len(got), want)
		}
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)] = true })
	}
	return got
}

// reach checks Reachable(from, to) for each pair.
func reach(t *testing.T, c *Cluster, want bool, pairs ...[2]int32) {
	t.Helper()
	for _, p := range pairs {
		if got := c.Reachable(t.Context(), p[0], p[1]); got != want {
			t.Errorf("Reachable(%d, %d) = %v, want %v", p[0], p[1], got, want)
		}
	}
}

func TestClusterFaults(t *testing.T) {
	c := startCluster(t, 3)
	x := c.Subnet()
	if backends := iptablesBackends(t.Context()); len(backends) > 0 {
		out, err := run(t.Context(), "", backends[0], "-S", "FORWARD")
		if err != nil || !strings.Contains(out, ruleComment(x)) {
			t.Errorf("br_netfilter on, but no FORWARD rule for %s in %s: %v\n%s", bridgeName(x), backends[0], err, out)
		}
	}

	const topic = "netns"
	adm := kadm.NewClient(mustClient(t, c))
	defer adm.Close()
	if _, err := adm.CreateTopic(t.Context(), 3, 3, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	produce(t, c, topic, "healthy", 10)
	if got := consume(t, c, topic, 10); len(got) != 10 {
		t.Fatalf("consumed %d records, want 10", len(got))
	}

	t.Run("isolate", func(t *testing.T) {
		if err := c.Isolate(3); err != nil {
			t.Fatal(err)
		}
		reach(t, c, false, [2]int32{3, 1}, [2]int32{3, 2}, [2]int32{1, 3}, [2]int32{2, 3})
		reach(t, c, true, [2]int32{1, 2}, [2]int32{2, 1}, [2]int32{HostID, 3})
		produce(t, c, topic, "isolated", 10) // the majority {1, 2} takes writes
	})
	t.Run("partition-bridge-client", func(t *testing.T) {
		heal(t, c)
		if err := c.PartitionGroups([][]int32{{1, 3}, {2}}); err != nil {
			t.Fatal(err)
		}
		reach(t, c, false, [2]int32{2, 1}, [2]int32{3, 2})
		reach(t, c, true, [2]int32{1, 3})
		heal(t, c)
		if err := c.Bridge(1, 2, 3); err != nil {
			t.Fatal(err)
		}
		reach(t, c, false, [2]int32{1, 3}, [2]int32{3, 1})
		reach(t, c, true, [2]int32{1, 2}, [2]int32{2, 3})
		heal(t, c)
		if err := c.CutClient(1); err != nil {
			t.Fatal(err)
		}
		reach(t, c, false, [2]int32{HostID, 1})
		reach(t, c, true, [2]int32{2, 1}, [2]int32{HostID, 2})
		heal(t, c)
		reach(t, c, true, [2]int32{HostID, 1}, [2]int32{1, 3}, [2]int32{3, 1}, [2]int32{2, 3})
	})
	t.Run("kill-restart", func(t *testing.T) {
		began := time.Now()
		step := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			t.Logf("%s: %v", what, time.Since(began).Round(time.Millisecond))
			began = time.Now()
		}
		step("ready after heal", c.WaitReady(t.Context()))
		step("kill node 2", c.Kill(2))
		if s := c.Status(2); s != Killed {
			t.Fatalf("node 2 is %v after Kill, want killed", s)
		}
		produce(t, c, topic, "killed", 10)
		step("produce without node 2", nil)
		step("start node 2", c.Start(2))
		step("ready", c.WaitReady(t.Context()))
		step("restart node 1 (SIGTERM)", c.Restart(t.Context(), 1))
		step("ready", c.WaitReady(t.Context()))
		if got := consume(t, c, topic, 30); len(got) != 30 {
			t.Fatalf("consumed %d records, want 30", len(got))
		}
		step("consume 30", nil)
	})
	t.Run("add-remove", func(t *testing.T) {
		id, err := c.AddNode(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if id != 4 || len(c.Brokers()) != 4 {
			t.Fatalf("AddNode = %d, brokers %v; want node 4 of 4", id, c.Brokers())
		}
		reach(t, c, true, [2]int32{4, 1}, [2]int32{1, 4}, [2]int32{HostID, 4})
		produce(t, c, topic, "four", 10)
		if err := c.RemoveNode(t.Context(), 4); err != nil {
			t.Fatal(err)
		}
		if s := c.Status(4); s != Removed || len(c.Nodes()) != 3 {
			t.Fatalf("after RemoveNode node 4 is %v, nodes %v", s, c.Nodes())
		}
		if out, _ := run(t.Context(), "", "ip", "netns", "list"); strings.Contains(out, c.Namespace(4)) {
			t.Fatalf("namespace %s left after RemoveNode:\n%s", c.Namespace(4), out)
		}
	})

	// Close leaves nothing behind: no process, namespace, link or rule.
	var pids []int
	c.mu.Lock()
	for _, n := range c.mu.nodes {
		pids = append(pids, n.proc.cmd.Process.Pid)
	}
	c.mu.Unlock()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("pid %d still exists after Close", pid)
		}
	}
	assertNoLeftovers(t, x)
}

func heal(t *testing.T, c *Cluster) {
	t.Helper()
	if err := c.Heal(); err != nil {
		t.Fatal(err)
	}
}

func mustClient(t *testing.T, c *Cluster) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// TestCleanup builds a cluster's network without brokers, as a crashed run
// leaves it, and checks Cleanup removes all of it.
func TestCleanup(t *testing.T) {
	if testing.Short() {
		t.Skip("netns: changes the host's network; skipped with -short")
	}
	if err := Supported(); err != nil {
		t.Skipf("netns: this machine cannot run the cluster: %v", err)
	}
	x, lock, err := pickSubnet(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := setupBridge(ctx, x); err != nil {
		t.Fatal(err)
	}
	if _, err := addForwardRules(ctx, x); err != nil {
		t.Fatal(err)
	}
	for id := int32(1); id <= 2; id++ {
		if err := setupNode(ctx, x, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := Cleanup(x); !errors.Is(err, ErrSubnetInUse) {
		t.Fatalf("Cleanup of a locked subnet = %v, want ErrSubnetInUse", err)
	}
	lock.Close() // as when the process dies
	if err := Cleanup(x); err != nil {
		t.Fatal(err)
	}
	assertNoLeftovers(t, x)
}

// assertNoLeftovers fails t if anything of subnet x exists.
func assertNoLeftovers(t *testing.T, x byte) {
	t.Helper()
	ctx := t.Context()
	if out, _ := run(ctx, "", "ip", "netns", "list"); strings.Contains(out, fmt.Sprintf("cairn%dn", x)) {
		t.Errorf("namespaces left:\n%s", out)
	}
	if out, _ := run(ctx, "", "ip", "-o", "link", "show"); strings.Contains(out, bridgeName(x)+":") || strings.Contains(out, bridgeName(x)+"v") {
		t.Errorf("links left:\n%s", out)
	}
	for _, cmd := range []string{"iptables", "iptables-legacy"} {
		if out, err := run(ctx, "", cmd, "-S", "FORWARD"); err == nil && strings.Contains(out, ruleComment(x)+" ") {
			t.Errorf("%s rule left:\n%s", cmd, out)
		}
	}
}

// TestNemesisOnCluster runs a few nemesis steps against a real cluster while
// a producer writes, then heals and reads every acknowledged record back.
func TestNemesisOnCluster(t *testing.T) {
	c := startCluster(t, 3)
	const topic = "nemesis"
	adm := kadm.NewClient(mustClient(t, c))
	defer adm.Close()
	if _, err := adm.CreateTopic(t.Context(), 3, 3, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...), kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordDeliveryTimeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, stop := context.WithCancel(t.Context())
	acked := make(chan string, 1<<16)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(acked)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			r := kgo.StringRecord(fmt.Sprintf("v-%d", i))
			cl.Produce(ctx, r, func(r *kgo.Record, err error) {
				if err == nil {
					acked <- string(r.Value)
				}
			})
			select {
			case <-tick.C:
			case <-ctx.Done():
			}
		}
		cl.Flush(context.WithoutCancel(ctx))
	})

	var faults []string
	var mu sync.Mutex
	n := NewNemesis(c, rand.New(rand.NewPCG(7, 7)), func(fault, detail string) {
		mu.Lock()
		defer mu.Unlock()
		faults = append(faults, fault)
		t.Logf("nemesis: %s %s", fault, detail)
	})
	n.Settle = 60 * time.Second
	for range 5 {
		if err := n.Step(t.Context()); err != nil {
			t.Fatal(err)
		}
		select { // hold the fault set for a while, as a campaign would
		case <-time.After(4 * time.Second):
		case <-t.Context().Done():
		}
	}
	if err := n.Heal(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop()
	wg.Wait()
	want := map[string]bool{}
	for v := range acked {
		want[v] = true
	}
	got := consume(t, c, topic, len(want))
	for v := range want {
		if !got[v] {
			t.Errorf("acknowledged record %s not read back", v)
		}
	}
	t.Logf("%d records acknowledged and read back; faults %v", len(want), faults)
}
