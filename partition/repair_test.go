package partition

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/cairnlog/cairn/log"
)

// segmentFiles returns the .log files of dir, oldest first.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil || len(names) < 4 {
		t.Fatalf("want several segments in %s, have %d: %v", dir, len(names), err)
	}
	sort.Strings(names)
	return names
}

// flipRecordByte flips a bit inside the records of the batch in the middle
// of the file: a byte the CRC covers (a flip in baseOffset or the leader
// epoch, outside the CRC, is another matter: see the report of #damage).
func flipRecordByte(t *testing.T, path string, which func(n int) int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var starts []int
	for pos := 0; pos < len(b); {
		h, err := log.ParseBatchHeader(b[pos:])
		if err != nil {
			t.Fatalf("%s at %d: %v", path, pos, err)
		}
		starts = append(starts, pos)
		pos += h.Size()
	}
	at := starts[which(len(starts))] + log.BatchHeaderSize + 5
	b[at] ^= 0x20
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("flipped a bit at byte %d of %s", at, filepath.Base(path))
}

func cutFile(t *testing.T, path string, keep func(size int64) int64) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	n := keep(fi.Size())
	if err := os.Truncate(path, n); err != nil {
		t.Fatal(err)
	}
	t.Logf("cut %s from %d to %d bytes", filepath.Base(path), fi.Size(), n)
}

// The four kinds of damage of invariant 7.
var damages = []struct {
	name   string
	damage func(t *testing.T, dir string)
}{
	{"a sealed bit flip", func(t *testing.T, dir string) {
		segs := segmentFiles(t, dir)
		flipRecordByte(t, segs[1], func(n int) int { return n / 2 })
	}},
	{"b active bit flip", func(t *testing.T, dir string) {
		segs := segmentFiles(t, dir)
		flipRecordByte(t, segs[len(segs)-1], func(int) int { return 0 })
	}},
	{"c sealed tail cut", func(t *testing.T, dir string) {
		segs := segmentFiles(t, dir)
		cutFile(t, segs[len(segs)-3], func(n int64) int64 { return n/2 + 7 })
	}},
	{"d active tail cut", func(t *testing.T, dir string) {
		segs := segmentFiles(t, dir)
		cutFile(t, segs[len(segs)-1], func(n int64) int64 { return n / 3 })
	}},
}

// repairCluster is a 3-replica partition with small segments, whose
// replicas snapshotted and trimmed their Raft logs after the writes: every
// damaged batch is older than the latest snapshot, so Raft holds no other
// copy of it on the damaged replica.
func repairCluster(t *testing.T, scrub int64) (*cluster, *acked, []byte) {
	t.Helper()
	c, a, ref := unsnapshotted(t, scrub)
	for _, r := range c.reps {
		if err := r.p.Group().Snapshot(t.Context()); err != nil {
			t.Fatalf("snapshot %s: %v", r.id, err)
		}
	}
	return c, a, ref
}

// unsnapshotted is repairCluster without the snapshots: the Raft log holds
// every entry.
func unsnapshotted(t *testing.T, scrub int64) (*cluster, *acked, []byte) {
	t.Helper()
	c := newCluster(t, 3, func(cfg *Config) {
		cfg.Log.MaxSegmentBytes = 4 << 10
		cfg.Raft.TrailingLogs = 8
		cfg.ScrubBytesPerSecond = scrub
	})
	c.leader(10 * time.Second)
	a := &acked{m: map[[2]int64]int64{}}
	runProducers(t, c, a, 4, 100, 0, nil)
	return c, a, c.sameLogs(400)
}

// readThrough reads victim's committed log from its start, retrying where it
// answers ErrStorage once its repair settles, and checks that every byte it
// serves is the reference's. It returns how many reads failed.
func readThrough(t *testing.T, victim *Partition, ref []byte, hw int64) (storageErrors int) {
	t.Helper()
	waitHW(t, victim, hw, 20*time.Second)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var got []byte
	for off := victim.LogStartOffset(); off < hw; {
		settled := victim.repairs.settled()
		c, err := victim.Read(off, 3000)
		if errors.Is(err, ErrStorage) {
			storageErrors++
			select {
			case <-settled:
			case <-ctx.Done():
				t.Fatalf("read at %d: still %v", off, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		b, err := c.AppendTo(nil)
		next := c.NextOffset()
		c.Close()
		if err != nil {
			t.Fatalf("copy chunk at %d: %v", off, err)
		}
		if !bytes.Equal(b, ref[len(got):len(got)+len(b)]) {
			t.Fatalf("read at %d served %d bytes that differ from the healthy replicas'", off, len(b))
		}
		got = append(got, b...)
		off = next
	}
	if !bytes.Equal(got, ref) {
		t.Fatalf("read %d bytes through the damaged replica, want %d", len(got), len(ref))
	}
	return storageErrors
}

// afterRepair checks what a repair must leave: three byte-identical logs, the
// producers' state intact (a retry is answered with its original offset, new
// sequences continue) and damage detected.
func afterRepair(t *testing.T, c *cluster, a *acked, victim *replica, ref []byte) {
	t.Helper()
	if got := c.sameLogs(400); !bytes.Equal(got, ref) {
		t.Fatal("logs after the repair differ from before the damage")
	}
	// The victim's applied state: leadership moves to it, and it answers a
	// retry and new batches as the others would.
	if !victim.p.IsLeader() {
		if err := c.leader(10*time.Second).p.Group().TransferLeadership(t.Context(), victim.id, victim.addr); err != nil {
			t.Logf("transfer leadership to %s: %v (producing through another leader)", victim.id, err)
		}
	}
	res, err := c.produce(t.Context(), idemBatch(1, 0, 99))
	if err != nil || !res.Duplicate || res.BaseOffset != a.m[[2]int64{1, 99}] {
		t.Fatalf("retry of producer 1 sequence 99 = %+v, %v; want a duplicate at %d", res, err, a.m[[2]int64{1, 99}])
	}
	runProducers(t, c, a, 4, 20, 100, nil)
	checkExactlyOnce(t, c.sameLogs(480), a)
	if st := victim.p.RepairStats(); st.Detected == 0 || st.Repaired == 0 {
		t.Fatalf("repair stats %+v: the damage or its repair was never counted", st)
	}
}

// TestDamagedFollowerRepairs stops a follower cleanly, damages its files in
// each of the four ways, restarts it and reads through it.
func TestDamagedFollowerRepairs(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			c, a, ref := repairCluster(t, -1)
			victim := aFollower(t, c)
			c.stop(victim)
			d.damage(t, victim.dir)
			c.start(victim)
			failed := readThrough(t, victim.p, ref, 400)
			st := victim.p.RepairStats()
			t.Logf("%d reads answered ErrStorage; stats %+v", failed, st)
			if failed > 0 && st.Repaired == 0 {
				t.Fatal("reads failed but no repair was made")
			}
			afterRepair(t, c, a, victim, ref)
		})
	}
}

// TestReplayRepairsDamage damages a follower that took no snapshot, so that
// Raft replays every entry into its log at start-up: damage Open cut away is
// appended again from the entries, and damage replay runs into (a bit flip
// after a clean stop, found when replay checks the batch) is cut and
// appended again too.
func TestReplayRepairsDamage(t *testing.T) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			c, a, ref := unsnapshotted(t, -1)
			victim := aFollower(t, c)
			c.stop(victim)
			d.damage(t, victim.dir)
			c.start(victim)
			failed := readThrough(t, victim.p, ref, 400)
			t.Logf("%d reads answered ErrStorage; stats %+v", failed, victim.p.RepairStats())
			afterRepair(t, c, a, victim, ref)
		})
	}
}

// TestKilledLeaderRepairs kills the leader (no sync, no clean shutdown),
// damages its files, restarts it and makes it the leader again. The unclean
// Open finds every kind of damage (the segments are small enough to be
// checked in full) and the snapshot's restore refills the log from the peers.
func TestKilledLeaderRepairs(t *testing.T) { testDamagedLeader(t, false) }

// TestStoppedLeaderRepairs is TestKilledLeaderRepairs with a clean stop: Open
// trusts the bit flips' CRCs, the first read finds them, and the leader hands
// its leadership over before it repairs.
func TestStoppedLeaderRepairs(t *testing.T) { testDamagedLeader(t, true) }

func testDamagedLeader(t *testing.T, clean bool) {
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			c, a, ref := repairCluster(t, -1)
			victim := c.leader(10 * time.Second)
			if clean {
				c.stop(victim)
				d.damage(t, victim.dir)
			} else {
				c.crash(victim, func(dir string) { d.damage(t, dir) })
			}
			c.start(victim)
			waitHW(t, victim.p, 400, 20*time.Second)
			if l := c.leader(10 * time.Second); l != victim {
				if err := l.p.Group().TransferLeadership(t.Context(), victim.id, victim.addr); err != nil {
					t.Fatalf("transfer leadership to the damaged replica: %v", err)
				}
			}
			waitLeads(t, c, victim, true, 10*time.Second)
			failed := readThrough(t, victim.p, ref, 400)
			st := victim.p.RepairStats()
			t.Logf("%d reads answered ErrStorage; stats %+v", failed, st)
			if st.Repaired == 0 {
				t.Fatal("no repair was made")
			}
			if failed > 0 {
				waitLeads(t, c, victim, false, 10*time.Second)
			} else if clean && d.name[0] <= 'b' {
				t.Fatal("a bit flip after a clean stop was not found by a read")
			}
			afterRepair(t, c, a, victim, ref)
		})
	}
}

// waitLeads waits until r leads (or, with leads false, has handed its
// leadership over).
func waitLeads(t *testing.T, c *cluster, r *replica, leads bool, timeout time.Duration) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ch := c.changed.C()
		if r.p.IsLeader() == leads {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("replica %s: leading %t after %v, want %t", r.id, !leads, timeout, leads)
		}
	}
}

// TestScrubFindsAndRepairsDamage leaves a damaged sealed segment unread: the
// scrub after Open finds it and the replica repairs it unasked.
func TestScrubFindsAndRepairsDamage(t *testing.T) {
	c, a, ref := repairCluster(t, 64<<20)
	victim := aFollower(t, c)
	c.stop(victim)
	damages[0].damage(t, victim.dir)
	c.start(victim)
	waitRepaired(t, victim)
	st := victim.p.RepairStats()
	t.Logf("stats %+v", st)
	if st.Detected != 1 || st.ScrubbedBytes == 0 {
		t.Fatalf("repair stats %+v: want one detection by the scrub", st)
	}
	if failed := readThrough(t, victim.p, ref, 400); failed != 0 {
		t.Fatalf("%d reads failed after the scrub's repair", failed)
	}
	afterRepair(t, c, a, victim, ref)
}

// TestScrubFindsFlippedEpoch: a batch's leader epoch is outside its CRC, so
// a flipped bit there passes the log's checks; the scrub compares it with
// the epoch history and repairs the replica. The fault campaign found a
// replica serving such a batch.
func TestScrubFindsFlippedEpoch(t *testing.T) {
	testFlippedEpoch(t, repairCluster)
}

// TestReplayFindsFlippedEpoch is TestScrubFindsFlippedEpoch on a replica that
// took no snapshot: at start-up its epoch history is empty and grows as Raft
// replays, so the scrub may judge only what replay has covered (else it
// would miss the flip, as a campaign run did, or fault batches of epochs not
// replayed yet), and replay finds the flip when it checks the batch against
// its entry's term.
func TestReplayFindsFlippedEpoch(t *testing.T) {
	testFlippedEpoch(t, unsnapshotted)
}

func testFlippedEpoch(t *testing.T, setup func(*testing.T, int64) (*cluster, *acked, []byte)) {
	c, a, ref := setup(t, 64<<20)
	victim := aFollower(t, c)
	c.stop(victim)
	seg := segmentFiles(t, victim.dir)[1]
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := []byte{0}
	if _, err := f.ReadAt(b, 14); err != nil { // the first batch's leader epoch, bytes 12-15
		t.Fatal(err)
	}
	b[0] ^= 0x08
	if _, err := f.WriteAt(b, 14); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	c.start(victim)
	waitRepaired(t, victim)
	if st := victim.p.RepairStats(); st.Detected != 1 {
		t.Fatalf("repair stats %+v: want one detection", st)
	}
	afterRepair(t, c, a, victim, ref)
}

// aFollower returns a replica that does not lead.
func aFollower(t *testing.T, c *cluster) *replica {
	t.Helper()
	for _, r := range c.reps {
		if !r.p.IsLeader() {
			return r
		}
	}
	t.Fatal("no follower")
	return nil
}

// waitRepaired waits until r completed a repair; the scrub repairs an
// epoch mismatch on its own goroutine, without the repairer's signal, so
// this also re-checks every 50 ms.
func waitRepaired(t *testing.T, r *replica) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for r.p.RepairStats().Repaired == 0 {
		select {
		case <-r.p.repairs.settled():
		case <-ctx.Done():
			t.Fatalf("the scrub repaired nothing: %+v", r.p.RepairStats())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
