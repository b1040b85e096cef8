package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The admin HTTP listener:
//
//	GET /livez       200 while the process runs
//	GET /readyz      200 when Ready() is nil, else 503 with the reason
//	GET /v1/cluster  JSON of ClusterView: brokers, topics, partitions (with
//	                 the high watermark of local replicas) and reassignments
//	                 in progress (with progress, for those led here)
//	GET /metrics     Prometheus text exposition of the broker's registry
//	                 (metrics.go)
func (b *Broker) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(b.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := b.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(b.View(ctx))
	})
	return mux
}

// Ready returns nil when the broker serves current metadata: its copy has
// applied everything the metadata leader is known to have committed, it is
// registered, and every replica the metadata assigns to it is open.
func (b *Broker) Ready() error {
	if !b.meta.caughtUp() {
		return fmt.Errorf("%w: metadata not caught up with its leader", ErrNotReady)
	}
	var state BrokerState
	b.meta.fsm.view(func(s *metaState) {
		if r, ok := s.Brokers[b.id]; ok {
			state = r.State
		}
	})
	if state != BrokerRegistered {
		return fmt.Errorf("%w: broker %d not registered (state %v)", ErrNotReady, b.id, state)
	}
	want, _ := b.replicas.assignments()
	missing := 0
	for tp, w := range want {
		if lr := b.replicas.get(tp); lr == nil || lr.topicID != w.topicID {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("%w: %d assigned replicas not open yet", ErrNotReady, missing)
	}
	return nil
}

// ClusterView is the /v1/cluster document.
type ClusterView struct {
	ClusterID     string             `json:"cluster_id"`
	Broker        int32              `json:"broker"`
	Controller    int32              `json:"controller"`
	Ready         bool               `json:"ready"`
	Brokers       []BrokerRecord     `json:"brokers"`
	Topics        []TopicView        `json:"topics"`
	Reassignments []ReassignmentView `json:"reassignments"`
	MetadataRaft  map[string]any     `json:"metadata_raft"`
}

// TopicView is a topic in ClusterView.
type TopicView struct {
	Name       string            `json:"name"`
	ID         UUID              `json:"id"`
	Configs    map[string]string `json:"configs,omitempty"`
	Partitions []PartitionView   `json:"partitions"`
}

// PartitionView is a partition in ClusterView. HighWatermark and
// LogStartOffset are set (non-nil) only for replicas hosted here.
type PartitionView struct {
	Partition      int32   `json:"partition"`
	Replicas       []int32 `json:"replicas"`
	Target         []int32 `json:"target,omitempty"`
	Leader         int32   `json:"leader"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	HighWatermark  *int64  `json:"high_watermark,omitempty"`
	LogStartOffset *int64  `json:"log_start_offset,omitempty"`
}

// ReassignmentView is a reassignment in progress. Progress (bytes copied to
// the new replicas against the leader's log size) is known only on the
// partition's leader.
type ReassignmentView struct {
	Topic       string   `json:"topic"`
	Partition   int32    `json:"partition"`
	Replicas    []int32  `json:"replicas"`
	Target      []int32  `json:"target"`
	StartedMs   int64    `json:"started_ms"`
	LeaderBytes *int64   `json:"leader_bytes,omitempty"`
	CopiedBytes *int64   `json:"copied_bytes,omitempty"`
	ProgressPct *float64 `json:"progress_percent,omitempty"`
}

// View returns the cluster as this broker sees it.
func (b *Broker) View(ctx context.Context) ClusterView {
	v := ClusterView{Broker: b.id, Controller: b.ControllerID(), Ready: b.Ready() == nil, Brokers: []BrokerRecord{}, Topics: []TopicView{}, Reassignments: []ReassignmentView{}}
	var starts map[TopicPartition]int64
	b.meta.fsm.view(func(s *metaState) {
		v.ClusterID = s.ClusterID
		for _, r := range s.Brokers {
			v.Brokers = append(v.Brokers, *r)
		}
		starts = map[TopicPartition]int64{}
		for name, t := range s.Topics {
			for i, p := range t.Partitions {
				if p.Target != nil {
					starts[TopicPartition{name, int32(i)}] = p.ReassignStartMs
				}
			}
		}
	})
	slices.SortFunc(v.Brokers, func(a, c BrokerRecord) int { return int(a.ID) - int(c.ID) })
	st := b.meta.group.Status()
	v.MetadataRaft = map[string]any{"state": st.State.String(), "term": st.Term, "commit_index": st.CommitIndex, "applied_index": st.AppliedIndex, "leader": st.LeaderID}
	_, addrs := b.replicas.assignments()
	for _, t := range b.Topics() {
		tv := TopicView{Name: t.Name, ID: t.ID, Configs: t.Configs}
		for _, p := range t.Partitions {
			pv := PartitionView{Partition: p.Index, Replicas: p.Replicas, Target: p.Target, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch}
			lr := b.replicas.get(TopicPartition{t.Name, p.Index})
			if lr != nil {
				hw, start := lr.p.HighWatermark(), lr.p.LogStartOffset()
				pv.HighWatermark, pv.LogStartOffset = &hw, &start
			}
			tv.Partitions = append(tv.Partitions, pv)
			if p.Target == nil {
				continue
			}
			rv := ReassignmentView{Topic: t.Name, Partition: p.Index, Replicas: p.Replicas, Target: p.Target, StartedMs: starts[TopicPartition{t.Name, p.Index}]}
			if lr != nil && lr.p.IsLeader() {
				total := lr.p.Log().Size()
				var copied int64
				var n int64
				for _, id := range p.Target {
					if contains(p.Replicas, id) {
						continue
					}
					if rs, err := b.replicas.peerStatus(ctx, addrs[id], lr.group); err == nil {
						copied += rs.SizeBytes
					}
					n++
				}
				rv.LeaderBytes, rv.CopiedBytes = &total, &copied
				if n > 0 && total > 0 {
					pct := min(100, 100*float64(copied)/float64(n*total))
					rv.ProgressPct = &pct
				}
			}
			v.Reassignments = append(v.Reassignments, rv)
		}
		v.Topics = append(v.Topics, tv)
	}
	return v
}
