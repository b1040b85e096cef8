//go:build cairn_unsafe_nodedup

package partition

// unsafeNoDedup: see unsafe.go. THIS BUILD LOSES EXACTLY-ONCE on purpose.
const unsafeNoDedup = true
