package log

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// FS is the filesystem seam. The log touches the disk only through it, so
// tests can substitute a filesystem that loses unsynced data on a simulated
// crash. Names are full paths as built by filepath.Join.
type FS interface {
	// OpenFile opens a file like os.OpenFile (os.O_* flags).
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove removes a file. Open handles of it stay usable (POSIX unlink).
	Remove(name string) error
	// Rename atomically replaces newname by oldname. Open handles of the
	// replaced file stay usable.
	Rename(oldname, newname string) error
	// MkdirAll creates dir and its parents.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir returns the sorted names (not paths) of the files in dir.
	ReadDir(dir string) ([]string, error)
	// SyncDir makes the creations, removals and renames in dir durable.
	SyncDir(dir string) error
}

// File is an open file of an FS. ReadAt, Size and Map may be called
// concurrently with each other and with one WriteAt.
type File interface {
	io.ReaderAt
	io.WriterAt
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Sync makes the file's content durable (fsync).
	Sync() error
	// Size returns the current size of the file.
	Size() (int64, error)
	// Map maps the first size bytes of the file, which is at least that
	// long, shared: writes through the mapping are the file's content, and
	// become durable after Mapping.Sync or File.Sync. The mapping stays valid
	// after the file is closed, until Unmap.
	Map(size int, writable bool) (Mapping, error)
	Close() error
}

// Mapping is a memory mapping made by File.Map.
type Mapping interface {
	// Bytes returns the mapped memory. Using it after Unmap is a fault.
	Bytes() []byte
	// Sync makes the first n mapped bytes durable (msync).
	Sync(n int) error
	// Unmap releases the mapping.
	Unmap() error
}

// OSFS is the operating system's filesystem; its files support zero-copy
// Chunk.WriteTo (sendfile).
type OSFS struct{}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename implements FS.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// MkdirAll implements FS.
func (OSFS) MkdirAll(dir string, perm os.FileMode) error { return os.MkdirAll(dir, perm) }

// ReadDir implements FS.
func (OSFS) ReadDir(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// SyncDir implements FS.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// osFile is an *os.File; it keeps SyscallConn visible so Chunk.WriteTo can
// sendfile from it.
type osFile struct{ *os.File }

var _ syscall.Conn = osFile{}

func (f osFile) Size() (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (f osFile) Map(size int, writable bool) (Mapping, error) {
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	var b []byte
	var merr error
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	if err := rc.Control(func(fd uintptr) {
		b, merr = unix.Mmap(int(fd), 0, size, prot, unix.MAP_SHARED)
	}); err != nil {
		return nil, err
	}
	if merr != nil {
		return nil, &os.PathError{Op: "mmap", Path: f.Name(), Err: merr}
	}
	return &osMapping{b: b}, nil
}

type osMapping struct{ b []byte }

func (m *osMapping) Bytes() []byte { return m.b }

func (m *osMapping) Sync(n int) error {
	if n <= 0 {
		return nil
	}
	page := os.Getpagesize()
	n = min(len(m.b), (n+page-1)/page*page)
	return unix.Msync(m.b[:n], unix.MS_SYNC)
}

func (m *osMapping) Unmap() error {
	b := m.b
	m.b = nil
	if b == nil {
		return nil
	}
	return unix.Munmap(b)
}
