package cluster

import (
	"slices"
	"testing"
	"time"
)

// TestFollowerProgress walks the ISR rule by hand: a follower is in sync while
// it has, within the lag time, applied what the leader had applied at some
// sample.
func TestFollowerProgress(t *testing.T) {
	const lag = 10 * time.Second
	t0 := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	replicas := []int32{3, 1, 2} // leader 1 is not the preferred replica
	fp := newFollowerProgress(7, replicas, t0)
	check := func(now time.Time, want ...int32) {
		t.Helper()
		if got := fp.isr(1, replicas, now, lag); !slices.Equal(got, want) {
			t.Fatalf("ISR at +%s = %v, want %v", now.Sub(t0), got, want)
		}
	}
	// A new leader gives every replica the benefit of the doubt.
	check(t0, 3, 1, 2)

	// The leader moves on one index a second; follower 2 keeps up a second
	// behind, follower 3 stops at index 4.
	for s := 0; s <= 30; s++ {
		fp.sample(at(s), uint64(100+s), lag)
		if s > 0 {
			fp.observe(2, uint64(100+s-1))
		}
		if s <= 4 {
			fp.observe(3, uint64(100+s))
		}
	}
	check(at(14), 3, 1, 2) // 3 was last caught up at +4: exactly the lag
	check(at(15), 1, 2)
	check(at(30), 1, 2)

	// Samples older than the lag are gone, but for the newest before the cut.
	if n := len(fp.samples); n != 11 || !fp.samples[0].at.Equal(at(20)) {
		t.Fatalf("kept %d samples from %v, want 11 from +20s", n, fp.samples[0].at.Sub(t0))
	}
	// Follower 3 catching up to an index the leader had 5 s ago is back in.
	fp.observe(3, 125)
	check(at(30), 3, 1, 2)
	// An index older than every kept sample counts for nothing.
	fp.observe(4, 50)
	if _, ok := fp.caughtUp[4]; ok {
		t.Fatal("a follower below every sample was marked caught up")
	}
	// A replica not known at election (added by a reassignment) is out until
	// it catches up.
	check(at(30), 3, 1, 2)
	if got := fp.isr(1, []int32{1, 2, 3, 4}, at(30), lag); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Fatalf("ISR with a new replica = %v", got)
	}
}

func TestISROf(t *testing.T) {
	for _, tc := range []struct {
		replicas, isr, want []int32
	}{
		{[]int32{1, 2, 3}, nil, []int32{1, 2, 3}},           // never reported: all
		{[]int32{1, 2, 3}, []int32{3, 1}, []int32{1, 3}},    // replicas order
		{[]int32{4, 2, 3}, []int32{1, 2, 3}, []int32{2, 3}}, // reassigned since: 1 left, 4 not reported
		{[]int32{1, 2}, []int32{}, []int32{}},
	} {
		if got := isrOf(PartitionRecord{Replicas: tc.replicas, ISR: tc.isr}); !slices.Equal(got, tc.want) {
			t.Errorf("isrOf(replicas %v, isr %v) = %v, want %v", tc.replicas, tc.isr, got, tc.want)
		}
	}
}

// TestISRFollowsFollowers kills a follower of an RF3 partition and restarts
// it: every broker's view of the ISR drops it once it stops catching up for
// the lag time, and takes it back once it has caught up again.
func TestISRFollowsFollowers(t *testing.T) {
	c := newTunedCluster(t, 3, false, func(cfg *Config) {
		cfg.ReplicaLagMax = 2 * time.Second
		cfg.ReplicaStatusEvery = 100 * time.Millisecond
	})
	ctx := ctxTimeout(t, 2*time.Minute)
	if err := c.broker(1).CreateTopic(ctx, "isr", 1, 3, nil); err != nil {
		t.Fatal(err)
	}
	ti := c.waitLeaders("isr", 30*time.Second)
	replicas := ti.Partitions[0].Replicas
	follower := replicas[0]
	if follower == ti.Partitions[0].Leader {
		follower = replicas[1]
	}
	everyoneSays := func(want []int32) func() bool {
		return func() bool {
			for _, b := range c.live() {
				ti, ok := b.Topic("isr")
				if !ok || !slices.Equal(ti.Partitions[0].ISR, want) {
					return false
				}
			}
			return true
		}
	}
	c.waitFor(30*time.Second, "the full ISR", everyoneSays(replicas))

	c.kill(follower)
	killed := time.Now()
	without := slices.DeleteFunc(slices.Clone(replicas), func(id int32) bool { return id == follower })
	c.waitFor(30*time.Second, "the ISR without the killed follower", everyoneSays(without))
	// Its last catch-up may date from a sample taken up to one poll RPC
	// timeout (1 s) before it died, so it can leave that much before 2 s.
	if took := time.Since(killed); took < 800*time.Millisecond {
		t.Fatalf("follower left the ISR %s after it died, well before the lag time of 2s", took)
	}

	underReplicated := func() float64 {
		n, _ := scrapeAll(t, c).sum("cairn_partition_under_replicated", nil)
		return n
	}
	if n := underReplicated(); n != 1 {
		t.Fatalf("cairn_partition_under_replicated summed over the brokers = %v with a follower out of the ISR, want 1", n)
	}

	c.restart(follower)
	c.waitFor(60*time.Second, "the restarted follower back in the ISR", everyoneSays(replicas))
	c.waitFor(30*time.Second, "no partition under-replicated", func() bool { return underReplicated() == 0 })
}
