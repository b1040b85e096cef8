package cluster

import (
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestShutdownAndDecommission: a graceful shutdown hands over every
// partition and the metadata leadership before the broker stops, and a
// decommissioned metadata voter is replaced by a non-voter.
func TestShutdownAndDecommission(t *testing.T) {
	c := newTestCluster(t, 4)
	ctx := ctxTimeout(t, time.Minute)
	c.waitFor(20*time.Second, "three metadata voters and a non-voter", func() bool {
		ctrl := c.controller()
		m := metaVoters(ctrl)
		return ctrl != nil && countVoters(m) == 3 && len(m) == 4
	})
	if err := c.broker(1).CreateTopic(ctx, "handover", 8, 3, nil); err != nil {
		t.Fatal(err)
	}
	c.waitFor(30*time.Second, "preferred leaders", func() bool {
		ti, ok := c.leadersAgree("handover")
		if !ok {
			return false
		}
		for _, p := range ti.Partitions {
			if p.Leader != p.Replicas[0] {
				return false
			}
		}
		return true
	})

	// Shut the controller down gracefully: when Shutdown returns, another
	// broker leads the metadata and every partition it led, with no
	// election timeout to wait for.
	ctrl := c.controller()
	id := ctrl.ID()
	var led []int32
	ti, _ := ctrl.Topic("handover")
	for _, p := range ti.Partitions {
		if p.Leader == id {
			led = append(led, p.Index)
		}
	}
	c.mu.Lock()
	c.brokers[id] = nil
	c.mu.Unlock()
	start := time.Now()
	if err := ctrl.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	took := time.Since(start)
	// TransferLeadership returns once the old leader stepped down; the
	// target may still be finishing its election.
	c.waitFor(5*time.Second, "partitions led elsewhere", func() bool {
		for _, p := range led {
			found := false
			for _, b := range c.live() {
				if lp := b.LocalPartition("handover", p); lp != nil && lp.IsLeader() {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
	t.Logf("graceful shutdown of broker %d took %v; the %d partitions it led were led elsewhere %v after it began", id, took, len(led), time.Since(start))
	c.waitFor(5*time.Second, "new controller", func() bool { return c.controller() != nil })
	c.waitLeaders("handover", 20*time.Second)

	// Decommission a remaining metadata voter: it leaves the group and the
	// last non-voter is promoted, so the group keeps three voters.
	ctrl = c.controller()
	var victim int32 = -1
	for sid, s := range metaVoters(ctrl) {
		n, _ := strconv.Atoi(sid)
		if s == raft.Voter && int32(n) != ctrl.ID() && int32(n) != id {
			victim = int32(n)
			break
		}
	}
	if victim < 0 {
		t.Fatal("no voter to decommission")
	}
	if err := ctrl.Decommission(ctx, victim); err != nil {
		t.Fatal(err)
	}
	c.waitFor(20*time.Second, "voter replaced", func() bool {
		nc := c.controller()
		if nc == nil {
			return false
		}
		m := metaVoters(nc)
		_, in := m[strconv.Itoa(int(victim))]
		return !in && countVoters(m) == 3
	})
}
