package cluster

import (
	"errors"
	"testing"
	"time"
)

func countSpread(ti TopicInfo) (replicas, leaders map[int32]int) {
	replicas, leaders = map[int32]int{}, map[int32]int{}
	for _, p := range ti.Partitions {
		for _, r := range p.Replicas {
			replicas[r]++
		}
		leaders[p.Leader]++
	}
	return replicas, leaders
}

func checkEven(t *testing.T, what string, counts map[int32]int, brokers, total int) {
	t.Helper()
	lo, hi := total/brokers, (total+brokers-1)/brokers
	sum := 0
	for id := int32(1); id <= int32(brokers); id++ {
		n := counts[id]
		sum += n
		if n < lo || n > hi {
			t.Errorf("%s: broker %d has %d, want %d..%d (all: %v)", what, id, n, lo, hi, counts)
		}
	}
	if sum != total {
		t.Errorf("%s: %d in all, want %d (%v)", what, sum, total, counts)
	}
}

func TestClusterSpreadAndFailover(t *testing.T) {
	for _, n := range []int{3, 5} {
		t.Run(map[int]string{3: "3brokers", 5: "5brokers"}[n], func(t *testing.T) {
			c := newTestCluster(t, n)
			b1 := c.broker(1)
			if b1.ClusterID() == "" {
				t.Fatal("no cluster id")
			}
			ctx := ctxTimeout(t, time.Minute)
			if err := b1.CreateTopic(ctx, "orders", 12, 3, map[string]string{"retention.ms": "3600000"}); err != nil {
				t.Fatalf("create topic: %v", err)
			}
			if err := c.broker(2).CreateTopic(ctx, "orders", 1, 1, nil); !errors.Is(err, ErrTopicExists) {
				t.Fatalf("create again through broker 2: %v, want ErrTopicExists", err)
			}
			if err := b1.CreateTopic(ctx, "toomany", 1, int16(n+1), nil); !errors.Is(err, ErrInvalidReplicationFactor) {
				t.Fatalf("rf %d on %d brokers: %v, want ErrInvalidReplicationFactor", n+1, n, err)
			}
			ti := c.waitLeaders("orders", time.Minute) // 36 replicas' elections, on a loaded machine
			replicas, leaders := countSpread(ti)
			checkEven(t, "replicas", replicas, n, 36)
			// Leaders follow placement: preferred-leader election moves them.
			c.waitFor(30*time.Second, "preferred leaders", func() bool {
				var ok bool
				if ti, ok = c.leadersAgree("orders"); !ok {
					return false
				}
				for _, p := range ti.Partitions {
					if p.Leader != p.Replicas[0] {
						return false
					}
				}
				return true
			})
			_, leaders = countSpread(ti)
			checkEven(t, "leaders", leaders, n, 12)

			// Kill the controller: another takes over, nothing is lost.
			ctrl := c.controller()
			if ctrl == nil {
				t.Fatal("no controller")
			}
			dead := ctrl.ID()
			clusterID := ctrl.ClusterID()
			start := time.Now()
			c.kill(dead)
			c.waitFor(15*time.Second, "new controller", func() bool {
				nc := c.controller()
				return nc != nil && nc.ID() != dead
			})
			t.Logf("%d brokers: new controller %v after the controller's kill", n, time.Since(start))
			for _, b := range c.live() {
				if b.ClusterID() != clusterID {
					t.Errorf("broker %d: cluster id %q, want %q", b.ID(), b.ClusterID(), clusterID)
				}
				if _, ok := b.Topic("orders"); !ok {
					t.Errorf("broker %d lost topic orders", b.ID())
				}
			}
			// Every partition the dead broker led has a new leader, named in
			// every live broker's metadata.
			ti = c.waitLeaders("orders", 20*time.Second)
			t.Logf("%d brokers: all partitions led again %v after the kill", n, time.Since(start))
			for _, p := range ti.Partitions {
				if p.Leader == dead {
					t.Errorf("partition %d still led by dead broker %d", p.Index, dead)
				}
			}
			// The dead broker is fenced and new topics avoid it.
			c.waitFor(10*time.Second, "dead broker fenced", func() bool { return len(c.broker(c.live()[0].ID()).Brokers()) == n-1 })
			if err := c.live()[0].CreateTopic(ctx, "after", 4, 2, nil); err != nil {
				t.Fatalf("create topic after the kill: %v", err)
			}
			ti = c.waitLeaders("after", 20*time.Second)
			for _, p := range ti.Partitions {
				for _, r := range p.Replicas {
					if r == dead {
						t.Errorf("new partition %d placed on dead broker %d", p.Index, dead)
					}
				}
			}
		})
	}
}
