// Package history is the record of a fault run: every operation the workload
// attempted, with its outcome, plus the faults injected and the final read-back,
// one JSON object per line. The checker (faults/checker) reads it back.
//
// A history is written by several goroutines through one Writer; lines are in
// the order the Writer received them, and Seq numbers them in that order.
package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Kind says what an Op records.
type Kind string

const (
	// Send is one record produced: Value, and on OK the Offset the broker
	// acknowledged. Outcome Unknown means the client gave up without knowing
	// (timeout, connection lost after the request went out).
	Send Kind = "send"
	// Poll is one record a consumer (Process) received: Offset and Value.
	Poll Kind = "poll"
	// Assign marks the partitions a consumer now owns (Partitions); polls of a
	// partition may restart anywhere after it.
	Assign Kind = "assign"
	// Revoke marks partitions a consumer lost (Partitions).
	Revoke Kind = "revoke"
	// Commit is a group offset commit of Offset for Partition in Group.
	Commit Kind = "commit"
	// FinalRead is one record of the final read-back of every partition after
	// the faults healed: Offset and Value.
	FinalRead Kind = "read"
	// FinalEnd closes the final read-back of a Partition: Offset is the high
	// watermark that read stopped at.
	FinalEnd Kind = "read-end"
	// Fault is a nemesis action: Fault names it, Detail says on what.
	Fault Kind = "fault"
)

// Outcome of an operation.
type Outcome string

const (
	OK      Outcome = "ok"
	Fail    Outcome = "fail"    // definitely not applied
	Unknown Outcome = "unknown" // may or may not have been applied
	Info    Outcome = "info"    // not an operation with a result (faults, assignments)
)

// Op is one line of a history.
type Op struct {
	Seq        int64     `json:"seq"`
	Time       time.Time `json:"time"`
	Process    string    `json:"process,omitempty"` // "producer-3", "group-a/consumer-1", "reader-2", "nemesis"
	Kind       Kind      `json:"kind"`
	Outcome    Outcome   `json:"outcome"`
	Topic      string    `json:"topic,omitempty"`
	Partition  int32     `json:"partition"`
	Partitions []int32   `json:"partitions,omitempty"` // Assign, Revoke
	Group      string    `json:"group,omitempty"`      // Commit, and Poll/Assign/Revoke of group members
	Offset     int64     `json:"offset"`
	Value      string    `json:"value,omitempty"`
	Fault      string    `json:"fault,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	Err        string    `json:"err,omitempty"`
}

// Writer appends Ops to a file; safe for concurrent use.
type Writer struct {
	mu  sync.Mutex
	f   *os.File
	bw  *bufio.Writer
	enc *json.Encoder
	seq int64
	err error
}

// Create opens path for writing, truncating it.
func Create(path string) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	return &Writer{f: f, bw: bw, enc: json.NewEncoder(bw)}, nil
}

// Add stamps op with the next Seq (and Time, when zero) and writes it.
func (w *Writer) Add(op Op) {
	if op.Time.IsZero() {
		op.Time = time.Now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	op.Seq = w.seq
	if w.err == nil {
		w.err = w.enc.Encode(&op)
	}
}

// Close flushes and closes the file, returning the first write error.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.bw.Flush(); w.err == nil {
		w.err = err
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	return w.err
}

// Read decodes a whole history.
func Read(r io.Reader) ([]Op, error) {
	var ops []Op
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var op Op
		if err := json.Unmarshal(sc.Bytes(), &op); err != nil {
			return nil, fmt.Errorf("history line %d: %w", line, err)
		}
		ops = append(ops, op)
	}
	return ops, sc.Err()
}

// ReadFile decodes the history at path.
func ReadFile(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}
