package wire

import (
	"encoding/binary"
	"reflect"
	"runtime"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// allKeysTable accepts every request kmsg knows, at every version.
func allKeysTable(tb testing.TB) *versionTable {
	tb.Helper()
	all := make(map[int16]VersionRange)
	for key := int16(0); key < 1000; key++ {
		if req := kmsg.RequestForKey(key); req != nil && key != apiVersionsKey {
			all[key] = VersionRange{Min: 0, Max: req.MaxVersion()}
		}
	}
	vt, err := newVersionTable(all)
	if err != nil {
		tb.Fatal(err)
	}
	return vt
}

// maxElemBytes is the largest element of any slice in any kmsg request.
// kmsg checks each array count against the bytes left before allocating
// (every element takes at least one byte on the wire), so one decode
// allocates at most about maxElemBytes per frame byte.
func maxElemBytes() uintptr {
	var largest uintptr
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Slice:
			largest = max(largest, t.Elem().Size())
			walk(t.Elem())
		case reflect.Pointer, reflect.Array:
			walk(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				walk(t.Field(i).Type)
			}
		case reflect.Map:
			walk(t.Elem())
		}
	}
	for key := int16(0); key < 1000; key++ {
		if req := kmsg.RequestForKey(key); req != nil {
			walk(reflect.TypeOf(req))
		}
	}
	return largest
}

// hugeUvarint reports whether b holds a uvarint that kmsg would read as at
// least 2^22: four or more bytes with the continuation bit, or a 4-byte
// uvarint of that size. kmsg v1.15.0 loops over a tagged-field count
// without checking that its input is exhausted, so such a count in a
// truncated flexible body spins for up to ~45 s (see TestKmsgTagCountLoop).
// Those inputs are skipped so that fuzzing stays bounded; the defect is
// kmsg's, not ours.
func hugeUvarint(b []byte) bool {
	for i := range b {
		run := 0
		for run < 4 && i+run < len(b) && b[i+run] >= 0x80 {
			run++
		}
		if run == 4 {
			return true
		}
		if v, n := binary.Uvarint(b[i:min(len(b), i+5)]); n > 0 && v >= 1<<22 {
			return true
		}
	}
	return false
}

// FuzzRequestFrame decodes arbitrary bytes as a request frame (header and
// body, after the length prefix) for every key and version: it must never
// panic, must allocate at most maxElemBytes per frame byte (plus a
// constant), and a frame it accepts must have a body of the header's key
// and version that kmsg can encode again.
func FuzzRequestFrame(f *testing.F) {
	vt := allKeysTable(f)
	perByte := maxElemBytes()
	fmt := kmsg.NewRequestFormatter(kmsg.FormatterClientID("seed"))
	for key := int16(0); key < 1000; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			if key == 7 && v == 0 {
				continue // kmsg's formatter drops this body
			}
			req.SetVersion(v)
			f.Add(fmt.AppendRequest(nil, req, 1)[4:])
		}
	}
	md := metadataReq(12)
	f.Add(fmt.AppendRequest(nil, md, 1)[4:])
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 0xFF, 0xFF, 0})
	f.Add([]byte{0, 3, 0, 12, 0, 0, 0, 1, 0, 0, 3, 0, 1, 2})

	f.Fuzz(func(t *testing.T, frame []byte) {
		if hugeUvarint(frame) {
			t.Skip("kmsg tagged-field loop: see TestKmsgTagCountLoop")
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		hdr, body, err := decodeFrame(vt, frame, "")
		runtime.ReadMemStats(&after)
		if grew, limit := after.TotalAlloc-before.TotalAlloc, uint64(perByte)*uint64(len(frame))+64<<10; grew > limit {
			t.Fatalf("decoding a %d-byte frame allocated %d bytes (limit %d)", len(frame), grew, limit)
		}
		if err != nil {
			return
		}
		if body == nil {
			if hdr.Key != apiVersionsKey || apiVersionsRange.Contains(hdr.Version) {
				t.Fatalf("nil body without error for %+v", hdr)
			}
			vt.apiVersionsResponse(hdr, nil).AppendTo(nil)
			return
		}
		if body.Key() != hdr.Key || body.GetVersion() != hdr.Version {
			t.Fatalf("body %s v%d for header %+v", kmsg.NameForKey(body.Key()), body.GetVersion(), hdr)
		}
		body.AppendTo(nil)
		if hdr.Key == apiVersionsKey {
			vt.apiVersionsResponse(hdr, body.(*kmsg.ApiVersionsRequest)).AppendTo(nil)
		}
	})
}

// TestKmsgTagCountLoop documents a kmsg v1.15.0 defect: a flexible body
// whose tagged-field count is huge and whose bytes then run out makes
// ReadFrom loop count times (about 45 s of CPU for this 9-byte body)
// before failing. The fix belongs in kmsg (stop the tag loops once the
// reader is exhausted); wire cannot find tag sections without a schema.
func TestKmsgTagCountLoop(t *testing.T) {
	t.Skip("kmsg v1.15.0 spins ~45 s here; enable once kmsg stops tag loops at end of input")
	req := &kmsg.ApiVersionsRequest{Version: 3}
	if err := req.ReadFrom([]byte{2, 'a', 2, 'b', 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}); err == nil {
		t.Fatal("truncated body decoded")
	}
}
