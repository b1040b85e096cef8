//go:build !cairn_unsafe_nodedup

package partition

// unsafeNoDedup, true only in a deliberately broken build (go build -tags
// cairn_unsafe_nodedup), appends an idempotent producer's retried batch
// again instead of answering with its original offsets. It exists so that
// the fault campaign can show it catches a broken broker: `FAULT_TAGS=
// cairn_unsafe_nodedup make test-faults` must report duplicates.
const unsafeNoDedup = false
