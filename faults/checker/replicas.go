package checker

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cairnlog/cairn/log"
)

// identityFile is the file naming the topic a replica directory belongs to
// (cluster.partitionIdentityFile).
const identityFile = "cairn-partition.json"

// maxReplicaBatchBytes bounds the buffer one batch may take while comparing:
// a corrupt length field must not make the checker allocate gigabytes.
const maxReplicaBatchBytes = 64 << 20

// CompareReplicas compares, for each partition of topic in hwm, the replicas
// found in the data directories dirs (node id to data directory): each node's
// replica is <dir>/<topic>-<partition>, as cluster lays them out. It reads the
// .log segment files directly and never writes (it does not use log.Open,
// which recovers). Run it on stopped or quiet nodes: a segment deleted while
// it reads is reported as missing data.
//
// For partition p with high watermark h = hwm[p], it walks every replica's
// batches with base offset below h, from the highest log start offset of
// the replicas (retention or a snapshot may have removed a replica's early
// segments; only the range every replica holds is compared), and reports:
//
//   - replica-divergence: the first batch at which the replicas' bytes
//     differ, exactly, leader epoch included (cairn's replicas are
//     byte-identical), naming the nodes on each side; one per partition, as
//     the comparison stops there. Also: a replica ending before h, with the
//     reason (end of data, a torn or corrupt header, an offset gap), and a
//     partition no replica of which holds data up to h.
//   - replica-corrupt: a batch below h whose CRC-32C or header is invalid, on
//     any replica, even when all agree.
//
// A node with no directory for the partition holds no replica (it was moved
// away, or never had one) and is not compared. The violations' Offset is the
// base offset of the batch concerned.
func CompareReplicas(dirs map[int32]string, topic string, hwm map[int32]int64) []Violation {
	var out []Violation
	for _, p := range sortedKeys(hwm) {
		out = append(out, comparePartition(dirs, topic, p, hwm[p])...)
	}
	return out
}

func sortedKeys[V any](m map[int32]V) []int32 {
	keys := make([]int32, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// comparePartition compares the replicas of one partition.
func comparePartition(dirs map[int32]string, topic string, p int32, hwm int64) []Violation {
	var out []Violation
	report := func(cat Category, offset int64, nodes []int32, format string, args ...any) {
		out = append(out, Violation{Category: cat, Topic: topic, Partition: p, Offset: offset, Nodes: nodes,
			Message: fmt.Sprintf(format, args...)})
	}
	var reps []*replicaLog
	defer func() {
		for _, r := range reps {
			r.close()
		}
	}()
	topicIDs := map[string][]int32{}
	for _, node := range sortedKeys(dirs) {
		dir := filepath.Join(dirs[node], fmt.Sprintf("%s-%d", topic, p))
		r, id, err := openReplica(node, dir, topic, p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			report(ReplicaDivergence, -1, []int32{node}, "replica unreadable: %v", err)
			continue
		}
		if id != "" {
			topicIDs[id] = append(topicIDs[id], node)
		}
		reps = append(reps, r)
	}
	if len(topicIDs) > 1 {
		report(ReplicaDivergence, -1, nil, "replicas name different topic ids: %v", topicIDs)
	}
	if len(reps) == 0 {
		if hwm > 0 {
			report(ReplicaDivergence, -1, nil, "no replica found, high watermark %d", hwm)
		}
		return out
	}
	// Compare from the highest log start: the range every replica holds.
	start := int64(0)
	for _, r := range reps {
		start = max(start, r.start())
	}
	active := slices.Clone(reps)
	reached := 0 // replicas that hold every batch below hwm
	corrupt := map[int32]bool{}
	// drop removes a replica that ended, reporting it when it ended short.
	drop := func(r *replicaLog) {
		active = slices.DeleteFunc(active, func(q *replicaLog) bool { return q == r })
		end := r.end(start)
		if end >= hwm {
			reached++
			return
		}
		why := "end of its log"
		if r.err != nil {
			why = r.err.Error()
		}
		report(ReplicaDivergence, end, []int32{r.node},
			"node %d holds offsets up to %d only, high watermark %d (compared from %d): %s", r.node, end, hwm, start, why)
	}
	// Skip what lies below start.
	for _, r := range slices.Clone(active) {
		for {
			b, ok := r.peek(hwm)
			if !ok {
				drop(r)
				break
			}
			if b.h.LastOffset() >= start {
				break
			}
			r.advance()
		}
	}
	for len(active) > 0 {
		var cur []*replicaLog
		for _, r := range slices.Clone(active) {
			if _, ok := r.peek(hwm); ok {
				cur = append(cur, r)
			} else {
				drop(r)
			}
		}
		if len(cur) == 0 {
			break
		}
		for _, r := range cur {
			if r.batch.err != nil && !corrupt[r.node] {
				corrupt[r.node] = true
				report(ReplicaCorrupt, r.batch.h.BaseOffset, []int32{r.node},
					"node %d: batch at offset %d (%s, position %d) invalid: %v",
					r.node, r.batch.h.BaseOffset, filepath.Base(r.batch.file), r.batch.pos, r.batch.err)
			}
		}
		if v, ok := diverge(cur, start); ok {
			v.Topic, v.Partition = topic, p
			out = append(out, v)
			return out
		}
		for _, r := range cur {
			r.advance()
		}
	}
	if reached == 0 && hwm > start {
		report(ReplicaDivergence, start, nil, "no replica holds the data up to high watermark %d", hwm)
	}
	return out
}

// diverge compares the current batch of each replica and describes the
// first difference, if any.
func diverge(cur []*replicaLog, start int64) (Violation, bool) {
	type side struct {
		nodes []int32
		b     *replicaBatch
	}
	var sides []side
	for _, r := range cur {
		i := slices.IndexFunc(sides, func(s side) bool { return bytes.Equal(s.b.data, r.batch.data) })
		if i < 0 {
			sides = append(sides, side{b: &r.batch})
			i = len(sides) - 1
		}
		sides[i].nodes = append(sides[i].nodes, r.node)
	}
	if len(sides) == 1 {
		return Violation{}, false
	}
	var nodes []int32
	var desc []string
	ref := sides[0].b
	for _, s := range sides {
		nodes = append(nodes, s.nodes...)
		d := fmt.Sprintf("nodes %v: base offset %d, %d bytes, leader epoch %d", s.nodes, s.b.h.BaseOffset,
			len(s.b.data), s.b.h.PartitionLeaderEpoch)
		if s.b != ref {
			d += fmt.Sprintf(", first difference at byte %d", firstDiff(ref.data, s.b.data))
		}
		if s.b.err != nil {
			d += ", invalid: " + s.b.err.Error()
		}
		desc = append(desc, d)
	}
	slices.Sort(nodes)
	offset := ref.h.BaseOffset
	for _, s := range sides {
		offset = min(offset, s.b.h.BaseOffset)
	}
	return Violation{Category: ReplicaDivergence, Offset: offset, Nodes: nodes,
		Message: fmt.Sprintf("first differing batch (compared from %d): %s", start, strings.Join(desc, "; "))}, true
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// replicaBatch is one batch read from a replica.
type replicaBatch struct {
	h    log.BatchHeader
	data []byte // the whole batch; valid until the next advance
	file string
	pos  int64
	err  error // the batch is invalid (CRC, header)
}

// replicaLog reads one replica's batches in offset order, segment after
// segment.
type replicaLog struct {
	node  int32
	dir   string
	bases []int64 // segment base offsets, ascending

	seg  int // index in bases of the open segment
	f    *os.File
	r    *bufio.Reader
	pos  int64 // position in the open segment
	size int64 // size of the open segment

	next    int64 // offset the next batch must start at; -1 before the first
	batch   replicaBatch
	peeked  bool
	stopped bool  // no more batches below hwm
	err     error // why the replica stopped early, nil at end of data or hwm
}

// openReplica lists the segments of the replica in dir and reads its
// identity: the topic id, or "" when the file is absent. The error wraps
// fs.ErrNotExist when dir does not exist.
func openReplica(node int32, dir, topic string, p int32) (*replicaLog, string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, "", err
	}
	var id string
	if b, err := os.ReadFile(filepath.Join(dir, identityFile)); err == nil {
		var ident struct {
			Topic     string          `json:"topic"`
			TopicID   json.RawMessage `json:"topic_id"`
			Partition int32           `json:"partition"`
		}
		if err := json.Unmarshal(b, &ident); err != nil {
			return nil, "", fmt.Errorf("%s: %w", identityFile, err)
		}
		if ident.Topic != topic || ident.Partition != p {
			return nil, "", fmt.Errorf("%s names %s-%d", identityFile, ident.Topic, ident.Partition)
		}
		id = string(ident.TopicID)
	}
	r := &replicaLog{node: node, dir: dir, next: -1}
	for _, e := range entries {
		digits, ok := strings.CutSuffix(e.Name(), ".log")
		if !ok || len(digits) != 20 || e.IsDir() {
			continue
		}
		base, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || base < 0 {
			continue
		}
		r.bases = append(r.bases, base)
	}
	slices.Sort(r.bases)
	return r, id, nil
}

// start is the replica's log start offset: its first segment's base.
func (r *replicaLog) start() int64 {
	if len(r.bases) == 0 {
		return 0
	}
	return r.bases[0]
}

// end is the offset after the last batch read, or from when none was.
func (r *replicaLog) end(from int64) int64 {
	if r.next < 0 {
		return max(from, r.start())
	}
	return r.next
}

// advance consumes the peeked batch.
func (r *replicaLog) advance() { r.peeked = false }

// peek returns the next batch with base offset below hwm, or false when there
// is none: the replica ended (r.err says why, if early) or reached hwm.
func (r *replicaLog) peek(hwm int64) (*replicaBatch, bool) {
	if r.peeked {
		return &r.batch, true
	}
	if r.stopped {
		return nil, false
	}
	if err := r.read(hwm); err != nil {
		r.stopped = true
		if err != io.EOF {
			r.err = err
		}
		r.close()
		return nil, false
	}
	r.peeked = true
	return &r.batch, true
}

// read reads the next batch into r.batch; io.EOF means no more below hwm.
func (r *replicaLog) read(hwm int64) error {
	for r.f == nil || r.pos == r.size {
		if r.f != nil {
			r.close()
			r.seg++
		}
		if r.seg >= len(r.bases) {
			return io.EOF
		}
		if err := r.openSegment(); err != nil {
			return err
		}
	}
	name := r.f.Name()
	if r.size-r.pos < log.BatchHeaderSize {
		return fmt.Errorf("%s: torn header at position %d", filepath.Base(name), r.pos)
	}
	buf := slices.Grow(r.batch.data[:0], log.BatchHeaderSize)[:log.BatchHeaderSize]
	if _, err := io.ReadFull(r.r, buf); err != nil {
		return fmt.Errorf("%s: read at %d: %w", filepath.Base(name), r.pos, err)
	}
	base := int64(binary.BigEndian.Uint64(buf))
	if base >= hwm && (r.next < 0 || base == r.next) {
		return io.EOF
	}
	h, err := log.ParseBatchHeader(buf)
	switch {
	case err != nil:
		return fmt.Errorf("%s: header at position %d: %w", filepath.Base(name), r.pos, err)
	case r.next >= 0 && base != r.next:
		return fmt.Errorf("%s: batch at position %d has offset %d, expected %d", filepath.Base(name), r.pos, base, r.next)
	case r.pos == 0 && base != r.bases[r.seg]:
		return fmt.Errorf("%s: first batch has offset %d", filepath.Base(name), base)
	case int64(h.Size()) > r.size-r.pos:
		return fmt.Errorf("%s: batch at position %d of %d bytes, file ends %d bytes later",
			filepath.Base(name), r.pos, h.Size(), r.size-r.pos)
	case h.Size() > maxReplicaBatchBytes:
		return fmt.Errorf("%s: batch at position %d of %d bytes", filepath.Base(name), r.pos, h.Size())
	}
	buf = slices.Grow(buf, h.Size()-len(buf))[:h.Size()]
	if _, err := io.ReadFull(r.r, buf[log.BatchHeaderSize:]); err != nil {
		return fmt.Errorf("%s: read at %d: %w", filepath.Base(name), r.pos, err)
	}
	r.batch = replicaBatch{h: h, data: buf, file: name, pos: r.pos}
	if _, err := log.ValidateBatches(buf, 0); err != nil {
		r.batch.err = err
	}
	r.pos += int64(h.Size())
	r.next = h.LastOffset() + 1
	return nil
}

func (r *replicaLog) openSegment() error {
	path := filepath.Join(r.dir, fmt.Sprintf("%020d.log", r.bases[r.seg]))
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if r.r == nil {
		r.r = bufio.NewReaderSize(f, 1<<20)
	} else {
		r.r.Reset(f)
	}
	r.f, r.pos, r.size = f, 0, fi.Size()
	return nil
}

func (r *replicaLog) close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}
