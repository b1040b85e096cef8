package partition

import (
	"encoding/json"
	"errors"
	"fmt"
)

// A snapshot of a partition is a small manifest, not the data: the data is the
// partition log itself, synced before the manifest is written. It is JSON, versioned,
// so that a newer cairn can read an older snapshot and an older one refuses a newer.
type manifest struct {
	Version     int             `json:"version"`
	StartOffset int64           `json:"start_offset"`
	EndOffset   int64           `json:"end_offset"`
	LastIndex   uint64          `json:"last_index"`
	LastTerm    uint64          `json:"last_term"`
	Epochs      []EpochStart    `json:"epochs"`
	Producers   []producerState `json:"producers"`
	ExpiredAtMs int64           `json:"expired_at_ms"` // entry time of the last producer expiry
}

const (
	manifestVersion = 1
	// maxManifestBytes bounds what Restore reads: producer state for ~100k producers.
	maxManifestBytes = 64 << 20
)

// ErrBadSnapshot marks a snapshot this version cannot use.
var ErrBadSnapshot = errors.New("partition: bad snapshot")

func encodeManifest(m manifest) ([]byte, error) { return json.Marshal(m) }

func decodeManifest(b []byte) (manifest, error) {
	var m manifest
	if len(b) > maxManifestBytes {
		return m, fmt.Errorf("%w: manifest over %d bytes", ErrBadSnapshot, maxManifestBytes)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	switch {
	case m.Version != manifestVersion:
		return m, fmt.Errorf("%w: version %d, this cairn reads %d", ErrBadSnapshot, m.Version, manifestVersion)
	case m.StartOffset < 0 || m.EndOffset < m.StartOffset:
		return m, fmt.Errorf("%w: offsets [%d, %d)", ErrBadSnapshot, m.StartOffset, m.EndOffset)
	}
	return m, nil
}
