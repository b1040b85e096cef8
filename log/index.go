package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
)

const offsetIndexEntrySize = 8

// mappedIndex is the machinery shared by the offset index and the time
// index: a file of fixed-size big-endian entries, mmap'd, with a published
// entry count.
//
// The single writer (the Log's writer, under Log.wmu) fills entries in the
// mapping and then publishes the count with an atomic store; readers load
// the count and read only entries below it, so they never see a half-written
// entry. The mapping is never replaced while the segment is visible to
// readers; it is unmapped only after the segment left the Log's list under
// its write lock, when no reader can be inside a lookup.
type mappedIndex struct {
	fsys      FS
	path      string
	entrySize int
	file      File    // nil once the segment is sealed and synced
	mapping   Mapping // nil when the file was empty when mapped
	buf       []byte  // mapping.Bytes(): capacity, not content
	n         atomic.Int64
	fileSize  int64 // size of the file when opened, before preallocation
	writable  bool  // mapped read-write
	created   bool  // the file did not exist
}

// open opens (creating if missing) and maps an index file. An active index
// is extended to capacity bytes first (a sparse preallocation); a sealed one
// is mapped read-only at its size.
func (x *mappedIndex) open(fsys FS, path string, entrySize int, active bool, capacity int) (err error) {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		x.created = true
		f, err = fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	}
	if err != nil {
		return err
	}
	x.fsys, x.path, x.entrySize, x.file = fsys, path, entrySize, f
	defer func() {
		if err != nil {
			err = errors.Join(err, x.close())
		}
	}()
	size, err := f.Size()
	if err != nil {
		return err
	}
	x.fileSize = size
	mapSize := int(size)
	if active {
		capacity = capacity / entrySize * entrySize
		if int64(capacity) > size {
			if err := f.Truncate(int64(capacity)); err != nil {
				return err
			}
			mapSize = capacity
		}
	}
	mapSize = mapSize / entrySize * entrySize
	if mapSize > 0 {
		if x.mapping, err = f.Map(mapSize, active); err != nil {
			return err
		}
		x.buf = x.mapping.Bytes()
		x.writable = active
	}
	return nil
}

// slots is the number of entries the mapping covers.
func (x *mappedIndex) slots() int64 { return int64(len(x.buf) / x.entrySize) }

// capacity is the number of entries the index can hold: a read-only
// mapping (a sealed segment's) takes no more.
func (x *mappedIndex) capacity() int64 {
	if !x.writable {
		return x.n.Load()
	}
	return x.slots()
}

// entries is the published entry count.
func (x *mappedIndex) entries() int64 { return x.n.Load() }

// entry returns entry i's bytes; i below the published count.
func (x *mappedIndex) entry(i int64) []byte {
	p := int(i) * x.entrySize
	return x.buf[p : p+x.entrySize]
}

// setEntries publishes a new count. Dropped entries of a writable mapping
// are zeroed so that a scan after a crash cannot revive them.
func (x *mappedIndex) setEntries(n int64, writable bool) {
	old := x.n.Load()
	x.n.Store(n)
	if writable && n < old {
		clear(x.buf[int(n)*x.entrySize : int(old)*x.entrySize])
	}
}

// trim cuts the file to its entries, so that a sealed index holds nothing
// else (Kafka's trimToValidSize). The mapping stays: pages past the new end
// are never read because they are beyond the entry count.
func (x *mappedIndex) trim() error {
	size := x.n.Load() * int64(x.entrySize)
	if x.file != nil {
		return x.file.Truncate(size)
	}
	f, err := x.fsys.OpenFile(x.path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// sync makes the entries (and, while the file is open, its size) durable.
func (x *mappedIndex) sync() error {
	if x.mapping != nil {
		if err := x.mapping.Sync(int(x.n.Load()) * x.entrySize); err != nil {
			return fmt.Errorf("msync %s: %w", x.path, err)
		}
	}
	if x.file != nil {
		if err := x.file.Sync(); err != nil {
			return fmt.Errorf("sync %s: %w", x.path, err)
		}
	}
	return nil
}

// closeFile closes the descriptor, keeping the mapping (a sealed, synced
// index needs no descriptor).
func (x *mappedIndex) closeFile() error {
	if x.file == nil {
		return nil
	}
	err := x.file.Close()
	x.file = nil
	return err
}

// close unmaps and closes. Only after no reader can reach the index.
func (x *mappedIndex) close() error {
	var err error
	if x.mapping != nil {
		err = x.mapping.Unmap()
		x.mapping, x.buf = nil, nil
	}
	return errors.Join(err, x.closeFile())
}

// offsetIndex maps offsets to file positions: entry i is (relative offset,
// position) of a batch, where the relative offset is the batch's last offset
// minus the segment's base offset. Entries increase strictly in both fields.
type offsetIndex struct {
	mappedIndex
	base int64
}

func (x *offsetIndex) at(i int64) (offset, pos int64) {
	e := x.entry(i)
	return x.base + int64(binary.BigEndian.Uint32(e)), int64(binary.BigEndian.Uint32(e[4:]))
}

// lookup returns the last entry whose offset is at most target, or ok false.
// The batch at the returned position ends at or before target, so a scan
// from there reaches the batch holding target.
func (x *offsetIndex) lookup(target int64) (offset, pos int64, ok bool) {
	n := x.entries()
	i := int64(sort.Search(int(n), func(i int) bool {
		o, _ := x.at(int64(i))
		return o > target
	})) - 1
	if i < 0 {
		return 0, 0, false
	}
	offset, pos = x.at(i)
	return offset, pos, true
}

// lookupPos returns the last entry whose position is at most pos.
func (x *offsetIndex) lookupPos(pos int64) (offset, at int64, ok bool) {
	n := x.entries()
	i := int64(sort.Search(int(n), func(i int) bool {
		_, p := x.at(int64(i))
		return p > pos
	})) - 1
	if i < 0 {
		return 0, 0, false
	}
	offset, at = x.at(i)
	return offset, at, true
}

// append adds an entry; the caller checked that the index is not full and
// that offset and pos exceed the last entry's.
func (x *offsetIndex) append(offset, pos int64) {
	n := x.n.Load()
	e := x.buf[int(n)*offsetIndexEntrySize:]
	binary.BigEndian.PutUint32(e, uint32(offset-x.base))
	binary.BigEndian.PutUint32(e[4:], uint32(pos))
	x.n.Store(n + 1)
}

// validPrefix counts the leading entries that increase strictly, point
// inside a log of logSize bytes and stay within limit entries: what survives
// of an index that may have been cut short or left with a zeroed tail.
func (x *offsetIndex) validPrefix(limit, logSize int64) int64 {
	limit = min(limit, x.slots())
	var lastRel, lastPos int64 = 0, 0
	for i := range limit {
		e := x.entry(i)
		rel, pos := int64(binary.BigEndian.Uint32(e)), int64(binary.BigEndian.Uint32(e[4:]))
		if rel <= lastRel || pos <= lastPos || pos >= logSize || rel > maxRelOffset {
			return i
		}
		lastRel, lastPos = rel, pos
	}
	return limit
}

// truncateAfter drops entries whose offset is at or past offset.
func (x *offsetIndex) truncateFrom(offset int64, writable bool) {
	n := int64(sort.Search(int(x.entries()), func(i int) bool {
		o, _ := x.at(int64(i))
		return o >= offset
	}))
	x.setEntries(n, writable)
}

// maxRelOffset is the largest offset distance a segment may span: relative
// offsets are stored in 32 bits, kept non-negative as in Kafka.
const maxRelOffset = 1<<31 - 1
