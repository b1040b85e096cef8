//go:build !linux && !darwin

package cluster

import "errors"

// diskSpace is not implemented here: the disk gauges are left out.
func diskSpace(dir string) (free, total uint64, err error) {
	return 0, 0, errors.New("disk space: not supported on this platform")
}
