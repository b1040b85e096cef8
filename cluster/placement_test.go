package cluster

import (
	"errors"
	"testing"
)

func TestPlace(t *testing.T) {
	for _, tc := range []struct {
		brokers, partitions int
		rf                  int16
	}{
		{1, 1, 1}, {3, 12, 3}, {5, 12, 3}, {4, 12, 3}, {5, 7, 2}, {6, 100, 3}, {3, 1, 1}, {7, 30, 5},
	} {
		var live []int32
		for i := range tc.brokers {
			live = append(live, int32(10+i))
		}
		for start := int32(0); start < 3; start++ {
			assign, err := place(live, 0, int32(tc.partitions), tc.rf, start)
			if err != nil {
				t.Fatalf("%+v: %v", tc, err)
			}
			replicas, leaders := map[int32]int{}, map[int32]int{}
			for p, r := range assign {
				if len(r) != int(tc.rf) {
					t.Fatalf("%+v: partition %d has %d replicas", tc, p, len(r))
				}
				seen := map[int32]bool{}
				for _, id := range r {
					if seen[id] {
						t.Fatalf("%+v: partition %d names %d twice: %v", tc, p, id, r)
					}
					seen[id] = true
					replicas[id]++
				}
				leaders[r[0]]++
			}
			spread := func(what string, m map[int32]int) {
				lo, hi := 1<<30, 0
				for _, id := range live {
					lo, hi = min(lo, m[id]), max(hi, m[id])
				}
				if hi-lo > 1 {
					t.Errorf("%+v start %d: %s uneven: %v", tc, start, what, m)
				}
			}
			spread("replicas", replicas)
			spread("leaders", leaders)
		}
	}
	if _, err := place([]int32{1, 2}, 0, 3, 3, 0); !errors.Is(err, ErrInvalidReplicationFactor) {
		t.Errorf("rf 3 on 2 brokers: %v", err)
	}
	if _, err := place([]int32{1, 2}, 0, 0, 1, 0); !errors.Is(err, ErrInvalidPartitions) {
		t.Errorf("0 partitions: %v", err)
	}
}
