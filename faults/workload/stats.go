package workload

import (
	"context"
	"errors"
	"sync"

	"github.com/cairnlog/cairn/faults/history"
)

// maxErrorKinds bounds the distinct error texts Stats.Errors keeps; later
// new ones are counted under otherErrors.
const (
	maxErrorKinds = 64
	otherErrors   = "(other errors)"
)

// ProcessStats counts one process's operations by outcome.
type ProcessStats struct {
	SendsOK, SendsFail, SendsUnknown       int64
	Polls                                  int64
	CommitsOK, CommitsFail, CommitsUnknown int64
	// Errors counts client errors that are not an operation's outcome:
	// fetch errors, a commit request's error, a client that could not be
	// created.
	Errors int64
	// Restarts counts producer clients recreated after a fatal error.
	Restarts int64
}

func (s *ProcessStats) add(o ProcessStats) {
	s.SendsOK += o.SendsOK
	s.SendsFail += o.SendsFail
	s.SendsUnknown += o.SendsUnknown
	s.Polls += o.Polls
	s.CommitsOK += o.CommitsOK
	s.CommitsFail += o.CommitsFail
	s.CommitsUnknown += o.CommitsUnknown
	s.Errors += o.Errors
	s.Restarts += o.Restarts
}

// Stats summarises a Run.
type Stats struct {
	// Processes by history process name ("producer-1", "group-0/c1",
	// "reader-0"); a recreated producer counts under its first name.
	Processes map[string]ProcessStats
	// Errors counts client errors and non-OK outcomes by error text, at
	// most maxErrorKinds distinct texts.
	Errors map[string]int64
}

// Total sums every process.
func (s Stats) Total() ProcessStats {
	var t ProcessStats
	for _, p := range s.Processes {
		t.add(p)
	}
	return t
}

// recorder writes ops to the history and counts them; safe for concurrent
// use.
type recorder struct {
	w     *history.Writer
	topic string
	mu    struct {
		sync.Mutex
		procs  map[string]*ProcessStats
		errors map[string]int64
	}
}

func newRecorder(w *history.Writer, topic string) *recorder {
	r := &recorder{w: w, topic: topic}
	r.mu.procs = map[string]*ProcessStats{}
	r.mu.errors = map[string]int64{}
	return r
}

// add writes op, stamped with the topic.
func (r *recorder) add(op history.Op) {
	op.Topic = r.topic
	r.w.Add(op)
}

// count applies f to the stats of process under the lock.
func (r *recorder) count(process string, f func(*ProcessStats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.mu.procs[process]
	if s == nil {
		s = &ProcessStats{}
		r.mu.procs[process] = s
	}
	f(s)
}

// noteErr counts err by its text.
func (r *recorder) noteErr(err error) {
	key := err.Error()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.mu.errors[key]; !ok && len(r.mu.errors) >= maxErrorKinds {
		key = otherErrors
	}
	r.mu.errors[key]++
}

// clientErr counts a client error of process that is not an outcome.
// Errors of the run stopping (context canceled) are not errors.
func (r *recorder) clientErr(process string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	r.noteErr(err)
	r.count(process, func(s *ProcessStats) { s.Errors++ })
}

func (r *recorder) stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Processes: map[string]ProcessStats{}, Errors: map[string]int64{}}
	for k, v := range r.mu.procs {
		s.Processes[k] = *v
	}
	for k, v := range r.mu.errors {
		s.Errors[k] = v
	}
	return s
}
