package cluster

import (
	"fmt"
	"slices"
)

// place assigns replicas to count new partitions numbered from first, over the
// live brokers. Leaders go round-robin, as in Kafka: the leader (first
// replica) of partition p is live[(start+p) % n], start being a per-topic
// offset (the cluster's running topic count) so that successive topics do
// not all put partition 0 on the same broker. Each follower goes to the
// broker, not yet in the partition, with the fewest replicas of this call
// so far (counting every leader from the start), ties broken by ring order
// after the leader. So over n brokers,
// leaders differ by at most one per broker, and so do replicas.
//
// It is deterministic (the metadata FSM calls it on every replica) and
// allocates only from counts it has bounded.
func place(live []int32, first, count int32, rf int16, start int32) ([][]int32, error) {
	n := int32(len(live))
	if rf < 1 || int32(rf) > n {
		return nil, fmt.Errorf("%w: %d with %d live brokers", ErrInvalidReplicationFactor, rf, n)
	}
	if count < 1 || first < 0 || first+count > MaxPartitions {
		return nil, fmt.Errorf("%w: %d", ErrInvalidPartitions, first+count)
	}
	if start < 0 {
		start = -start
	}
	brokers := slices.Clone(live)
	slices.Sort(brokers)
	// load counts replicas by ring position: every leader first, so that
	// followers fill around them.
	load := make([]int, n)
	for i := range count {
		load[(start+first+i)%n]++
	}
	out := make([][]int32, count)
	for i := range count {
		lead := (start + first + i) % n
		pos := []int32{lead}
		for len(pos) < int(rf) {
			best := int32(-1)
			for d := int32(1); d < n; d++ {
				c := (lead + d) % n
				if slices.Contains(pos, c) {
					continue
				}
				if best < 0 || load[c] < load[best] {
					best = c
				}
			}
			pos = append(pos, best)
			load[best]++
		}
		r := make([]int32, rf)
		for j, p := range pos {
			r[j] = brokers[p]
		}
		out[i] = r
	}
	return out, nil
}
