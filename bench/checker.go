package bench

// Checker is the exactly-once check of a run: every acknowledged sequence must be
// read back exactly once. It keeps one byte per sequence (dense from 0), so its
// memory is bounded by the number of records the run sends.
//
// A Checker is not safe for concurrent use; its owner serialises access.
type Checker struct {
	state []uint8 // per sequence: ackedBit | read count (saturating at readMax)
}

const (
	ackedBit = 0x80
	readMax  = 0x7f
)

// Delivery is the result of the exactly-once check.
type Delivery struct {
	// Acked counts sequences the cluster acknowledged (or, for a consume-only
	// run, every sequence at or below the highest read: see Checker.AckUpTo).
	Acked uint64 `json:"acked"`
	// Read counts records of this run read back, duplicates included.
	Read uint64 `json:"read"`
	// Lost counts acknowledged sequences never read back.
	Lost uint64 `json:"lost"`
	// Duplicated counts extra reads: a sequence read 3 times adds 2 (reads
	// of one sequence are counted up to 127).
	Duplicated uint64 `json:"duplicated"`
	// Unacked counts sequences read once or more but never acknowledged: a
	// produce that failed on the client after the cluster wrote it. Not an
	// error in itself (at-least-once on retry), reported for completeness.
	Unacked uint64 `json:"unacked"`
	// OK reports that nothing acknowledged was lost and nothing was duplicated.
	OK bool `json:"ok"`
}

// at returns the state of seq, growing the slice to hold it.
func (c *Checker) at(seq uint64) *uint8 {
	if seq >= uint64(len(c.state)) {
		if seq >= uint64(cap(c.state)) {
			next := make([]uint8, len(c.state), max(2*uint64(cap(c.state)), seq+1, 1024))
			copy(next, c.state)
			c.state = next
		}
		c.state = c.state[:seq+1]
	}
	return &c.state[seq]
}

// Ack records that the cluster acknowledged seq.
func (c *Checker) Ack(seq uint64) { *c.at(seq) |= ackedBit }

// AckUpTo marks every sequence below n acknowledged: for a replay, where what
// was produced is known only from what is read, a gap below the highest read
// sequence is a loss (a loss at the tail cannot be seen).
func (c *Checker) AckUpTo(n uint64) {
	if n == 0 {
		return
	}
	c.at(n - 1)
	for i := range n {
		c.state[i] |= ackedBit
	}
}

// Read records that seq was read back once more.
func (c *Checker) Read(seq uint64) {
	p := c.at(seq)
	if *p&readMax < readMax {
		*p++
	}
}

// Len returns one past the highest sequence acknowledged or read.
func (c *Checker) Len() uint64 { return uint64(len(c.state)) }

// Result returns the check of everything recorded so far.
func (c *Checker) Result() Delivery {
	var d Delivery
	for _, s := range c.state {
		reads := uint64(s & readMax)
		d.Read += reads
		if reads > 1 {
			d.Duplicated += reads - 1
		}
		switch {
		case s&ackedBit != 0:
			d.Acked++
			if reads == 0 {
				d.Lost++
			}
		case reads > 0:
			d.Unacked++
		}
	}
	d.OK = d.Lost == 0 && d.Duplicated == 0
	return d
}
