//go:build linux || darwin

package cluster

import "syscall"

// diskSpace returns the bytes free to unprivileged users and the total
// bytes of the filesystem holding dir.
func diskSpace(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bsize := uint64(st.Bsize)
	return st.Bavail * bsize, st.Blocks * bsize, nil
}
