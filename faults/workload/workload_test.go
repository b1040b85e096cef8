package workload_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cairnlog/cairn/faults/history"
	"github.com/cairnlog/cairn/faults/workload"
)

// TestWorkloadBrokerRestart runs the workload for 10 s against a 3-broker
// cluster in this process while one broker is killed and restarted, reads
// everything back, and checks the history with a few simple rules (the
// full checker is faults/checker).
func TestWorkloadBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 3-broker cluster for 10 s")
	}
	const (
		topic      = "workload"
		partitions = 8
		// A broker is killed at 3 s and restarted at 6 s; the rest lets
		// the group settle again and commit on a loaded machine (CI runs
		// packages side by side under -race).
		runFor = 14 * time.Second
	)
	c := newTestCluster(t, 3)
	brokers := c.kafkaAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	for range 2 { // the second time finds the topic there
		if err := workload.Setup(ctx, brokers, topic, partitions, 3); err != nil {
			t.Fatal(err)
		}
	}
	// CAIRN_TEST_HISTORY keeps the history for a look afterwards.
	path := os.Getenv("CAIRN_TEST_HISTORY")
	if path == "" {
		path = filepath.Join(t.TempDir(), "history.jsonl")
	}
	w, err := history.Create(path)
	if err != nil {
		t.Fatal(err)
	}

	runCtx, stopRun := context.WithTimeout(ctx, runFor)
	defer stopRun()
	nemesisDone := make(chan struct{})
	go func() {
		defer close(nemesisDone)
		nemesis(runCtx, t, c, w)
	}()
	start := time.Now()
	stats, err := workload.Run(runCtx, workload.Config{
		Brokers:    brokers,
		Topic:      topic,
		Partitions: partitions,
		History:    w,
		Rate:       rate(t),
	})
	elapsed := time.Since(start)
	<-nemesisDone
	if err != nil {
		t.Fatal(err)
	}
	hwm, err := workload.FinalRead(ctx, brokers, topic, w)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	tot := stats.Total()
	t.Logf("%v: sends ok %d fail %d unknown %d (%.0f ok/s), polls %d, commits ok %d fail %d unknown %d, client errors %d, producer restarts %d",
		elapsed.Round(time.Millisecond), tot.SendsOK, tot.SendsFail, tot.SendsUnknown, float64(tot.SendsOK)/elapsed.Seconds(),
		tot.Polls, tot.CommitsOK, tot.CommitsFail, tot.CommitsUnknown, tot.Errors, tot.Restarts)
	for e, n := range stats.Errors {
		t.Logf("error x%d: %s", n, e)
	}
	t.Logf("high watermarks %v; history %s", hwm, path)

	ops, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if tot.SendsOK == 0 || tot.Polls == 0 || tot.CommitsOK == 0 {
		t.Errorf("workload made no progress: %+v", tot)
	}
	for _, problem := range check(ops, hwm) {
		t.Error(problem)
	}
}

// nemesis kills broker 2 after 3 s and restarts it 3 s later, recording
// both in the history.
func nemesis(ctx context.Context, t *testing.T, c *testCluster, w *history.Writer) {
	for _, step := range []struct {
		after time.Duration
		fault string
		do    func()
	}{
		{3 * time.Second, "kill", func() { c.kill(2) }},
		{3 * time.Second, "restart", func() { c.restart(2) }},
	} {
		timer := time.NewTimer(step.after)
		select {
		case <-ctx.Done():
			timer.Stop()
			if step.fault == "restart" {
				c.restart(2)
			}
			return
		case <-timer.C:
		}
		w.Add(history.Op{Process: "nemesis", Kind: history.Fault, Outcome: history.Info, Fault: step.fault, Detail: "broker 2"})
		step.do()
		t.Logf("nemesis: %s broker 2", step.fault)
	}
}

type partOff struct {
	p   int32
	off int64
}

// check returns what is wrong with ops: an acknowledged send not read
// back at its offset, a failed send read back, a value read twice, a poll
// disagreeing with the read-back, a poll skipping or going back without an
// assign, a group member not resuming a partition at the group's last
// acknowledged commit (or at the start when there is none), a producer's
// offsets not increasing per partition, or a group's acknowledged commits
// going back.
func check(ops []history.Op, hwm map[int32]int64) []string {
	var problems []string
	bad := func(format string, args ...any) {
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	read := map[partOff]string{}
	readAt := map[string]partOff{}
	ends := map[int32]int64{}
	for _, op := range ops {
		switch op.Kind {
		case history.FinalRead:
			k := partOff{op.Partition, op.Offset}
			if prev, ok := readAt[op.Value]; ok {
				bad("value %s read at %v and %v", op.Value, prev, k)
			}
			if _, ok := read[k]; ok {
				bad("offset %v read twice", k)
			}
			read[k] = op.Value
			readAt[op.Value] = k
		case history.FinalEnd:
			ends[op.Partition] = op.Offset
		}
	}
	for p, end := range hwm {
		if ends[p] != end {
			bad("partition %d: read-end %d, high watermark %d", p, ends[p], end)
		}
		for off := int64(0); off < end; off++ {
			if _, ok := read[partOff{p, off}]; !ok {
				bad("partition %d: offset %d below the high watermark %d not read back", p, off, end)
				break
			}
		}
	}

	type procPart struct {
		proc string
		p    int32
	}
	lastSend := map[procPart]int64{}
	lastPoll := map[procPart]int64{}
	type groupPart struct {
		group string
		p     int32
	}
	lastCommit := map[groupPart]int64{}
	// A commit of unknown outcome leaves the resume point unknown.
	unsure := map[groupPart]bool{}
	// Every offset an ok commit names: a commit's outcome is recorded when
	// its answer arrives, possibly after the next owner resumed from it.
	named := map[groupPart]map[int64]bool{}
	for _, op := range ops {
		gp := groupPart{op.Group, op.Partition}
		if op.Kind == history.Commit && op.Outcome == history.Unknown {
			unsure[gp] = true
		}
		if op.Kind == history.Commit && op.Outcome == history.OK {
			if named[gp] == nil {
				named[gp] = map[int64]bool{}
			}
			named[gp][op.Offset] = true
		}
	}
	resuming := map[procPart]bool{} // group members' partitions assigned and not yet polled
	for _, op := range ops {
		switch op.Kind {
		case history.Send:
			k := partOff{op.Partition, op.Offset}
			switch op.Outcome {
			case history.OK:
				if v, ok := read[k]; !ok || v != op.Value {
					bad("acknowledged send %s at %v: read back %q", op.Value, k, v)
				}
				pp := procPart{op.Process, op.Partition}
				if last, ok := lastSend[pp]; ok && op.Offset <= last {
					bad("%s: partition %d offset %d after %d", op.Process, op.Partition, op.Offset, last)
				}
				lastSend[pp] = op.Offset
			case history.Fail:
				if at, ok := readAt[op.Value]; ok {
					bad("failed send %s read back at %v", op.Value, at)
				}
			}
		case history.Assign:
			for _, p := range op.Partitions {
				delete(lastPoll, procPart{op.Process, p})
				resuming[procPart{op.Process, p}] = op.Group != ""
			}
		case history.Poll:
			k := partOff{op.Partition, op.Offset}
			if v, ok := read[k]; op.Offset < hwm[op.Partition] && (!ok || v != op.Value) {
				bad("%s polled %s at %v, read back %q", op.Process, op.Value, k, v)
			}
			pp := procPart{op.Process, op.Partition}
			if gp := (groupPart{op.Group, op.Partition}); resuming[pp] && !unsure[gp] && op.Offset != lastCommit[gp] &&
				!(op.Offset > lastCommit[gp] && named[gp][op.Offset]) {
				bad("%s: partition %d resumed at %d, group %s last committed %d", op.Process, op.Partition, op.Offset, op.Group, lastCommit[gp])
			}
			resuming[pp] = false
			if last, ok := lastPoll[pp]; ok && op.Offset != last+1 {
				bad("%s: partition %d polled offset %d after %d", op.Process, op.Partition, op.Offset, last)
			}
			lastPoll[pp] = op.Offset
		case history.Commit:
			if op.Outcome != history.OK {
				continue
			}
			gp := groupPart{op.Group, op.Partition}
			if last, ok := lastCommit[gp]; ok && op.Offset < last {
				bad("group %s partition %d: commit %d after %d", op.Group, op.Partition, op.Offset, last)
			}
			lastCommit[gp] = op.Offset
		}
	}
	slices.Sort(problems)
	return problems
}

// rate is the workload's rate: 500 records/s, or CAIRN_TEST_RATE.
func rate(t *testing.T) int {
	v := os.Getenv("CAIRN_TEST_RATE")
	if v == "" {
		return 500
	}
	r, err := strconv.Atoi(v)
	if err != nil || r <= 0 {
		t.Fatalf("CAIRN_TEST_RATE %q: want a positive integer", v)
	}
	return r
}
