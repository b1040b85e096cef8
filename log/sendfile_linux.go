package log

import (
	"errors"
	"io"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendfile copies n bytes at pos of src to w with sendfile(2), passing the
// offset explicitly (Go's own io.Copy path uses, and moves, the shared file
// position, which concurrent readers of one segment cannot allow). It waits
// for a non-blocking socket through the runtime poller, so deadlines hold.
// handled is false, with nothing written, when w or src has no descriptor
// or the kernel refuses the pair; the caller then copies.
func sendfile(w io.Writer, src File, pos, n int64) (written int64, handled bool, err error) {
	dc, ok := w.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	sc, ok := src.(syscall.Conn)
	if !ok {
		return 0, false, nil
	}
	dst, err := dc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	srcRaw, err := sc.SyscallConn()
	if err != nil {
		return 0, false, nil
	}
	var werr error
	off := pos
	cerr := srcRaw.Control(func(sfd uintptr) {
		werr = dst.Write(func(dfd uintptr) bool {
			for written < n {
				m, e := unix.Sendfile(int(dfd), int(sfd), &off, int(min(n-written, 1<<30)))
				if m > 0 {
					written += int64(m)
				}
				switch {
				case e == unix.EAGAIN:
					return false // wait until writable
				case e == unix.EINTR:
					continue
				case e != nil:
					err = e
					return true
				case m == 0:
					err = io.ErrUnexpectedEOF // the file is shorter than the chunk
					return true
				}
			}
			return true
		})
	})
	if written == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)) {
		return 0, false, nil
	}
	if err == nil {
		err = errors.Join(werr, cerr)
	}
	return written, true, err
}
