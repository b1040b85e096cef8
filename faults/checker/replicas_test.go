package checker

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cairnlog/cairn/log"
)

const (
	testBatches   = 40
	recsPerBatch  = 3
	testEndOffset = testBatches * recsPerBatch
)

// writeLog writes a genuine log with package log into dir: testBatches
// batches of recsPerBatch records in segments of at most 1 KiB, with leader
// epoch 3.
func writeLog(t *testing.T, dir string) {
	t.Helper()
	l, err := log.Open(dir, log.Config{MaxSegmentBytes: 1024}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range testBatches {
		var values [][]byte
		for j := range recsPerBatch {
			values = append(values, fmt.Appendf(nil, "value-%d-%d", i, j))
		}
		b := log.AppendBatch(nil, log.BatchSpec{FirstTimestamp: int64(1000 + i), Values: values,
			Idempotent: true, ProducerID: 7, BaseSequence: int32(i * recsPerBatch)})
		if _, err := l.Append(b, 3); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// cluster lays out three nodes' data directories holding identical replicas
// of partition 0 of topic "t", plus an unrelated topic's replica.
func cluster(t *testing.T) map[int32]string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	writeLog(t, src)
	dirs := map[int32]string{}
	for _, node := range []int32{1, 2, 3} {
		data := filepath.Join(t.TempDir(), fmt.Sprintf("node-%d", node))
		copyDir(t, src, filepath.Join(data, "t-0"))
		identity := `{"topic":"t","topic_id":"AAAAAAAAAAAAAAAAAAAAAA","partition":0}`
		if err := os.WriteFile(filepath.Join(data, "t-0", identityFile), []byte(identity), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(data, "t-0", "raft"), 0o755); err != nil {
			t.Fatal(err)
		}
		if node == 2 { // another topic, whose name extends "t"
			copyDir(t, src, filepath.Join(data, "t-00"))
		}
		dirs[node] = data
	}
	return dirs
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// segments lists the .log files of the replica of partition 0 in data.
func segments(t *testing.T, data string) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(data, "t-0", "*.log"))
	if err != nil || len(logs) < 3 {
		t.Fatalf("want at least 3 segments, have %v (%v)", logs, err)
	}
	slices.Sort(logs)
	return logs
}

// batchAt returns the position and header of the k-th batch of a segment.
func batchAt(t *testing.T, path string, k int) (int64, log.BatchHeader) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pos := 0
	for i := 0; ; i++ {
		h, err := log.ParseBatchHeader(b[pos:])
		if err != nil {
			t.Fatal(err)
		}
		if i == k {
			return int64(pos), h
		}
		pos += h.Size()
	}
}

// patch overwrites bytes of a file at pos.
func patch(t *testing.T, path string, pos int64, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

func flip(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	patch(t, path, pos, []byte{b[pos] ^ 0x40})
}

type wantViolation struct {
	cat    Category
	offset int64
	nodes  []int32
	text   string // in the message
}

func TestCompareReplicas(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, dirs map[int32]string) (hwm int64, want []wantViolation)
	}{
		{"identical", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			return testEndOffset, nil
		}},
		{"record byte flipped", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			seg := segments(t, dirs[2])[1]
			pos, h := batchAt(t, seg, 1)
			flip(t, seg, pos+log.BatchHeaderSize+5)
			return testEndOffset, []wantViolation{
				{ReplicaCorrupt, h.BaseOffset, []int32{2}, "crc"},
				{ReplicaDivergence, h.BaseOffset, []int32{1, 2, 3}, "nodes [1 3]: base offset"},
			}
		}},
		{"leader epoch differs", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			seg := segments(t, dirs[3])[2]
			pos, h := batchAt(t, seg, 0)
			patch(t, seg, pos+12, []byte{0, 0, 0, 4}) // outside the CRC
			return testEndOffset, []wantViolation{
				{ReplicaDivergence, h.BaseOffset, []int32{1, 2, 3}, "nodes [3]: base offset " + fmt.Sprint(h.BaseOffset) + ", 1"},
			}
		}},
		{"replica truncated", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			segs := segments(t, dirs[3])
			last := segs[len(segs)-1]
			pos, h := batchAt(t, last, 0)
			if err := os.Truncate(last, pos+h.LastOffset()-h.BaseOffset+20); err != nil {
				t.Fatal(err)
			}
			return testEndOffset, []wantViolation{
				{ReplicaDivergence, h.BaseOffset, []int32{3}, "holds offsets up to " + fmt.Sprint(h.BaseOffset) + " only"},
			}
		}},
		{"replica moved away", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			if err := os.RemoveAll(filepath.Join(dirs[3], "t-0")); err != nil {
				t.Fatal(err)
			}
			return testEndOffset, nil
		}},
		{"early segments removed by retention", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			for _, seg := range segments(t, dirs[1])[:2] {
				if err := os.Remove(seg); err != nil {
					t.Fatal(err)
				}
			}
			return testEndOffset, nil
		}},
		{"divergence above the high watermark", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			segs := segments(t, dirs[2])
			last := segs[len(segs)-1]
			pos, h := batchAt(t, last, 0)
			flip(t, last, pos+log.BatchHeaderSize+5)
			return h.BaseOffset, nil
		}},
		{"torn tail above the high watermark", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			segs := segments(t, dirs[1])
			f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(make([]byte, 30))
			f.Close()
			return testEndOffset, nil
		}},
		{"every replica short", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			return testEndOffset + 5, []wantViolation{
				{ReplicaDivergence, testEndOffset, []int32{1}, "end of its log"},
				{ReplicaDivergence, testEndOffset, []int32{2}, "end of its log"},
				{ReplicaDivergence, testEndOffset, []int32{3}, "end of its log"},
				{ReplicaDivergence, 0, nil, "no replica holds"},
			}
		}},
		{"corrupt everywhere alike", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			var base int64
			for _, node := range []int32{1, 2, 3} {
				seg := segments(t, dirs[node])[0]
				pos, h := batchAt(t, seg, 0)
				flip(t, seg, pos+log.BatchHeaderSize+1)
				base = h.BaseOffset
			}
			return testEndOffset, []wantViolation{
				{ReplicaCorrupt, base, []int32{1}, "crc"},
				{ReplicaCorrupt, base, []int32{2}, "crc"},
				{ReplicaCorrupt, base, []int32{3}, "crc"},
			}
		}},
		{"corrupt header", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			seg := segments(t, dirs[1])[1]
			pos, h := batchAt(t, seg, 1)
			patch(t, seg, pos+16, []byte{9}) // magic
			return testEndOffset, []wantViolation{
				{ReplicaDivergence, h.BaseOffset, []int32{1}, "magic 9"},
			}
		}},
		{"segment missing in the middle", func(t *testing.T, dirs map[int32]string) (int64, []wantViolation) {
			segs := segments(t, dirs[2])
			if err := os.Remove(segs[1]); err != nil {
				t.Fatal(err)
			}
			end := segmentEnd(t, segs[0])
			return testEndOffset, []wantViolation{
				{ReplicaDivergence, end, []int32{2}, fmt.Sprintf("expected %d", end)},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dirs := cluster(t)
			hwm, want := tt.mutate(t, dirs)
			got := CompareReplicas(dirs, "t", map[int32]int64{0: hwm})
			t.Log(violationsText(got))
			if len(got) != len(want) {
				t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), violationsText(got))
			}
			for i, w := range want {
				g := got[i]
				if g.Category != w.cat || g.Offset != w.offset || !slices.Equal(g.Nodes, w.nodes) ||
					!strings.Contains(g.Message, w.text) || g.Topic != "t" || g.Partition != 0 {
					t.Errorf("violation %d:\n%s\nwant %s @%d nodes %v containing %q", i, g, w.cat, w.offset, w.nodes, w.text)
				}
			}
		})
	}
}

// segmentEnd is the offset after the last batch of a segment.
func segmentEnd(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for pos := 0; pos < len(b); {
		h, err := log.ParseBatchHeader(b[pos:])
		if err != nil {
			t.Fatal(err)
		}
		end = h.LastOffset() + 1
		pos += h.Size()
	}
	return end
}

func violationsText(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(v.String())
		b.WriteString("\n")
	}
	return b.String()
}

func TestCompareReplicasAbsent(t *testing.T) {
	dirs := cluster(t)
	got := CompareReplicas(dirs, "t", map[int32]int64{0: testEndOffset, 1: 10, 2: 0})
	if len(got) != 1 || got[0].Partition != 1 || !strings.Contains(got[0].Message, "no replica found") {
		t.Fatalf("want one violation for partition 1:\n%s", violationsText(got))
	}
}

func TestCompareReplicasTopicIDs(t *testing.T) {
	dirs := cluster(t)
	identity := `{"topic":"t","topic_id":"BBBBBBBBBBBBBBBBBBBBBB","partition":0}`
	if err := os.WriteFile(filepath.Join(dirs[2], "t-0", identityFile), []byte(identity), 0o644); err != nil {
		t.Fatal(err)
	}
	got := CompareReplicas(dirs, "t", map[int32]int64{0: testEndOffset})
	if len(got) != 1 || !strings.Contains(got[0].Message, "different topic ids") {
		t.Fatalf("want a topic id violation:\n%s", violationsText(got))
	}
}

// FuzzCompareReplicas reads arbitrary bytes as a replica's only segment,
// next to a genuine replica: it must report, never panic.
func FuzzCompareReplicas(f *testing.F) {
	src := filepath.Join(f.TempDir(), "src")
	l, err := log.Open(src, log.Config{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	for i := range 3 {
		if _, err := l.Append(log.AppendBatch(nil, log.BatchSpec{Values: [][]byte{fmt.Appendf(nil, "v%d", i)}}), 1); err != nil {
			f.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		f.Fatal(err)
	}
	genuine, err := os.ReadFile(filepath.Join(src, fmt.Sprintf("%020d.log", 0)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(genuine, int64(3))
	f.Add(genuine[:len(genuine)-1], int64(3))
	f.Add([]byte{}, int64(1))
	f.Fuzz(func(t *testing.T, seg []byte, hwm int64) {
		dirs := map[int32]string{}
		for node, data := range [][]byte{genuine, seg} {
			d := filepath.Join(t.TempDir(), "t-0")
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%020d.log", 0)), data, 0o644); err != nil {
				t.Fatal(err)
			}
			dirs[int32(node)] = filepath.Dir(d)
		}
		vs := CompareReplicas(dirs, "t", map[int32]int64{0: hwm})
		if hwm <= 3 && string(seg) == string(genuine) && len(vs) != 0 {
			t.Errorf("identical replicas reported:\n%s", violationsText(vs))
		}
	})
}
