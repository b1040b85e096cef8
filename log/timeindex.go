package log

import (
	"encoding/binary"
	"math"
	"sort"
)

const timeIndexEntrySize = 12

// noTimestamp stands for "no batch yet" in running maxima.
const noTimestamp = math.MinInt64

// timeIndex maps timestamps to offsets: entry i is (T, relative offset R)
// where T is the largest batch MaxTimestamp among all batches of the segment
// up to and including the batch whose last offset is base+R. T increases
// strictly (an entry is added only when the maximum grew) and R does not
// decrease. Every batch up to base+R therefore has MaxTimestamp <= T, which
// is all a lookup relies on: entries lost in a crash only lengthen scans.
type timeIndex struct {
	mappedIndex
	base int64
}

func (x *timeIndex) at(i int64) (ts, offset int64) {
	e := x.entry(i)
	return int64(binary.BigEndian.Uint64(e)), x.base + int64(binary.BigEndian.Uint32(e[8:]))
}

// lookupBefore returns the last entry whose timestamp is below ts. Every
// batch up to the returned offset has MaxTimestamp < ts.
func (x *timeIndex) lookupBefore(ts int64) (entryTs, offset int64, ok bool) {
	n := x.entries()
	i := int64(sort.Search(int(n), func(i int) bool {
		t, _ := x.at(int64(i))
		return t >= ts
	})) - 1
	if i < 0 {
		return 0, 0, false
	}
	entryTs, offset = x.at(i)
	return entryTs, offset, true
}

// last returns the newest entry.
func (x *timeIndex) last() (ts, offset int64, ok bool) {
	n := x.entries()
	if n == 0 {
		return noTimestamp, 0, false
	}
	ts, offset = x.at(n - 1)
	return ts, offset, true
}

// maybeAppend adds (ts, offset) when ts exceeds the last entry and there is
// room; it reports whether it did.
func (x *timeIndex) maybeAppend(ts, offset int64) bool {
	n := x.n.Load()
	if n >= x.capacity() {
		return false
	}
	if last, lastOff, ok := x.last(); ok && (ts <= last || offset < lastOff) {
		return false
	}
	e := x.buf[int(n)*timeIndexEntrySize:]
	binary.BigEndian.PutUint64(e, uint64(ts))
	binary.BigEndian.PutUint32(e[8:], uint32(offset-x.base))
	x.n.Store(n + 1)
	return true
}

// validPrefix counts the leading entries that are ordered and whose offset
// lies in [minOffset, maxOffset], within limit entries.
func (x *timeIndex) validPrefix(limit, minOffset, maxOffset int64) int64 {
	limit = min(limit, x.slots())
	var lastTs int64 = noTimestamp
	var lastRel int64 = -1
	for i := range limit {
		e := x.entry(i)
		ts, rel := int64(binary.BigEndian.Uint64(e)), int64(binary.BigEndian.Uint32(e[8:]))
		if ts <= lastTs || rel < lastRel || x.base+rel > maxOffset || x.base+rel < minOffset {
			return i
		}
		lastTs, lastRel = ts, rel
	}
	return limit
}

// truncateFrom drops entries whose offset is at or past offset.
func (x *timeIndex) truncateFrom(offset int64, writable bool) {
	n := int64(sort.Search(int(x.entries()), func(i int) bool {
		_, o := x.at(int64(i))
		return o >= offset
	}))
	x.setEntries(n, writable)
}
