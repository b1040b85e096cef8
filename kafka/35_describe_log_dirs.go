package kafka

// DescribeLogDirs, API key 35, versions 0-4.
//
// Each broker answers for the replicas it hosts, as Kafka does (admin tools
// ask every broker): one log directory, the data directory, with the size of
// each replica's log. A null topic list means every topic; topics and
// partitions this broker does not host are left out. Offset lag is 0 (cairn
// has no future replicas moving between directories). v2 is flexible; v3 adds
// the top-level error code; v4 the directory's total and usable bytes.

import (
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

func (h *Handler) describeLogDirs(ctx context.Context, req *wire.Request) wire.Reply {
	r := req.Body.(*kmsg.DescribeLogDirsRequest)
	resp := kmsg.NewPtrDescribeLogDirsResponse()
	resp.Version = r.Version
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, dir.TotalBytes, dir.UsableBytes = h.b.LogDir()

	wanted := map[string][]int32{} // nil: every partition
	if r.Topics == nil {
		for _, ti := range h.b.Topics() {
			wanted[ti.Name] = nil
		}
	} else {
		for _, rt := range r.Topics {
			wanted[rt.Topic] = append(append([]int32{}, wanted[rt.Topic]...), rt.Partitions...)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(wanted)) {
		parts := wanted[name]
		ti, ok := h.b.Topic(name)
		if !ok {
			continue
		}
		if parts == nil {
			for _, p := range ti.Partitions {
				parts = append(parts, p.Index)
			}
		}
		st := kmsg.NewDescribeLogDirsResponseDirTopic()
		st.Topic = name
		seen := map[int32]bool{}
		for _, idx := range parts {
			if seen[idx] {
				continue
			}
			seen[idx] = true
			p := h.b.LocalPartition(name, idx)
			if p == nil {
				continue
			}
			sp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
			sp.Partition, sp.Size = idx, p.Log().Size()
			st.Partitions = append(st.Partitions, sp)
		}
		if len(st.Partitions) > 0 {
			dir.Topics = append(dir.Topics, st)
		}
	}
	resp.Dirs = append(resp.Dirs, dir)
	return wire.Respond(resp)
}
