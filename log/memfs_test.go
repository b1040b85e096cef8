package log

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// memFS is an in-memory FS that can crash: only synced file content and
// only directory changes made durable by SyncDir survive Crash. A crash may
// also keep a random torn prefix of unsynced writes, with flipped bits in
// .log files, as a disk losing power mid-write would.
type memFS struct {
	mu      sync.Mutex
	live    map[string]*memNode
	durable map[string]*memNode
	dirs    map[string]bool
}

type memNode struct {
	mu     sync.RWMutex
	data   []byte // what reads see; a mapping aliases it
	synced []byte // what survives a crash
	maps   int
}

func newMemFS() *memFS {
	return &memFS{live: map[string]*memNode{}, durable: map[string]*memNode{}, dirs: map[string]bool{}}
}

func (m *memFS) OpenFile(name string, flag int, _ os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.live[name]
	if !ok {
		if flag&os.O_CREATE == 0 {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		if !m.dirs[filepath.Dir(name)] {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		n = &memNode{}
		m.live[name] = n
	}
	if flag&os.O_TRUNC != 0 {
		if err := n.truncate(0); err != nil {
			return nil, err
		}
	}
	return &memFile{node: n, name: name}, nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.live[name]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.live, name)
	return nil
}

func (m *memFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.live[oldname]
	if !ok {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	delete(m.live, oldname)
	m.live[newname] = n
	return nil
}

func (m *memFS) MkdirAll(dir string, _ os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dirs[filepath.Clean(dir)] = true
	return nil
}

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	if !m.dirs[dir] {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var names []string
	for name := range m.live {
		if filepath.Dir(name) == dir {
			names = append(names, filepath.Base(name))
		}
	}
	slices.Sort(names)
	return names, nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = filepath.Clean(dir)
	for name := range m.durable {
		if filepath.Dir(name) == dir {
			delete(m.durable, name)
		}
	}
	for name, n := range m.live {
		if filepath.Dir(name) == dir {
			m.durable[name] = n
		}
	}
	return nil
}

// crashOptions says how much unsynced data a crash keeps.
type crashOptions struct {
	rng      *rand.Rand // nil: keep exactly the synced state
	tearProb float64    // chance a file keeps a torn prefix of its unsynced bytes
	flipProb float64    // chance a torn .log prefix gets a flipped bit
}

// crash returns the filesystem as a restart after power loss would find it.
// The old FS stays usable (by the old Log's leftovers) but is not seen.
func (m *memFS) crash(o crashOptions) *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemFS()
	maps := map[*memNode]*memNode{}
	for d := range m.dirs {
		c.dirs[d] = true
	}
	for name, n := range m.durable {
		cn, ok := maps[n]
		if !ok {
			cn = &memNode{data: n.crashContent(o, strings.HasSuffix(name, logSuffix))}
			cn.synced = slices.Clone(cn.data)
			maps[n] = cn
		}
		c.live[name] = cn
		c.durable[name] = cn
	}
	return c
}

func (n *memNode) crashContent(o crashOptions, isLog bool) []byte {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := slices.Clone(n.synced)
	if o.rng == nil || o.rng.Float64() >= o.tearProb {
		return out
	}
	// The first byte where the live content differs from the synced one.
	d := 0
	for d < len(out) && d < len(n.data) && out[d] == n.data[d] {
		d++
	}
	if d >= len(n.data) {
		return out
	}
	k := o.rng.IntN(len(n.data)-d) + 1
	torn := n.data[d : d+k]
	if d+k > len(out) {
		out = append(out[:d], make([]byte, d+k-d)...)
	}
	copy(out[d:], torn)
	if isLog && o.rng.Float64() < o.flipProb {
		i := d + o.rng.IntN(k)
		out[i] ^= 1 << o.rng.IntN(8)
	}
	return out
}

// readFile returns a file's live content.
func (m *memFS) readFile(name string) []byte {
	m.mu.Lock()
	n := m.live[name]
	m.mu.Unlock()
	if n == nil {
		return nil
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	return slices.Clone(n.data)
}

func (n *memNode) truncate(size int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case int(size) <= len(n.data):
		clear(n.data[size:])
		n.data = n.data[:size]
	case int(size) <= cap(n.data):
		n.data = n.data[:size]
	default:
		if n.maps > 0 {
			return fmt.Errorf("memfs: growing a mapped file past its capacity")
		}
		d := make([]byte, size)
		copy(d, n.data)
		n.data = d
	}
	return nil
}

type memFile struct {
	node   *memNode
	name   string
	mu     sync.Mutex
	closed bool
}

func (f *memFile) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("memfs: %s: %w", f.name, os.ErrClosed)
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	if off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	end := int(off) + len(p)
	if end > len(n.data) {
		if end > cap(n.data) {
			if n.maps > 0 {
				return 0, fmt.Errorf("memfs: growing a mapped file past its capacity")
			}
			d := make([]byte, end, max(end, 2*cap(n.data)))
			copy(d, n.data)
			n.data = d
		} else {
			n.data = n.data[:end]
		}
	}
	copy(n.data[off:], p)
	return len(p), nil
}

func (f *memFile) Truncate(size int64) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.node.truncate(size)
}

func (f *memFile) Sync() error {
	if err := f.check(); err != nil {
		return err
	}
	f.node.sync()
	return nil
}

func (n *memNode) sync() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.synced = append(n.synced[:0], n.data...)
}

func (f *memFile) Size() (int64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	return int64(len(f.node.data)), nil
}

func (f *memFile) Map(size int, _ bool) (Mapping, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if size > len(n.data) {
		return nil, fmt.Errorf("memfs: map %d bytes of a %d-byte file", size, len(n.data))
	}
	n.maps++
	return &memMapping{node: n, b: n.data[:size:size]}, nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return fmt.Errorf("memfs: %s: %w", f.name, os.ErrClosed)
	}
	f.closed = true
	return nil
}

type memMapping struct {
	node *memNode
	b    []byte
}

func (m *memMapping) Bytes() []byte { return m.b }

func (m *memMapping) Sync(int) error {
	m.node.sync()
	return nil
}

func (m *memMapping) Unmap() error {
	m.node.mu.Lock()
	defer m.node.mu.Unlock()
	m.node.maps--
	m.b = nil
	return nil
}
