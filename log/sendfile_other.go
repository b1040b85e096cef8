//go:build !linux

package log

import "io"

// sendfile is Linux-only; elsewhere Chunk.WriteTo copies.
func sendfile(io.Writer, File, int64, int64) (int64, bool, error) { return 0, false, nil }
