package wire

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestParseHeader(t *testing.T) {
	prefix := []byte{0, 3, 0, 12, 0, 0, 0, 7} // Metadata v12, correlation id 7
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	body := []byte{0xAA, 0xBB}
	tests := []struct {
		name     string
		frame    []byte
		hv       int
		clientID string
		null     bool
		body     []byte
		err      error
	}{
		{name: "v1", frame: cat(prefix, []byte{0, 3, 'k', 'g', 'o'}, body), hv: headerV1, clientID: "kgo", body: body},
		{name: "v1 empty client id", frame: cat(prefix, []byte{0, 0}, body), hv: headerV1, body: body},
		{name: "v1 null client id", frame: cat(prefix, []byte{0xFF, 0xFF}, body), hv: headerV1, null: true, body: body},
		{name: "v2 no tags", frame: cat(prefix, []byte{0, 1, 'x', 0}, body), hv: headerV2, clientID: "x", body: body},
		// The client id stays an int16-length string in flexible headers:
		// a compact-string reading (uvarint 4 = "kgo") would go wrong here.
		{name: "v2 classic client id", frame: cat(prefix, []byte{0, 3, 'k', 'g', 'o', 0}, body), hv: headerV2, clientID: "kgo", body: body},
		{name: "v2 null client id", frame: cat(prefix, []byte{0xFF, 0xFF, 0}, body), hv: headerV2, null: true, body: body},
		{name: "v2 tags", frame: cat(prefix, []byte{0, 1, 'x', 2, 0, 1, 9, 5, 2, 1, 2}, body), hv: headerV2, clientID: "x", body: body},
		{name: "v0", frame: cat([]byte{0, 7, 0, 0, 0, 0, 0, 7}, body), hv: headerV0, null: true, body: body},
		{name: "empty body", frame: cat(prefix, []byte{0, 0}), hv: headerV1, body: []byte{}},

		{name: "truncated prefix", frame: prefix[:7], hv: headerV1, err: errTruncatedHeader},
		{name: "empty frame", frame: nil, hv: headerV1, err: errTruncatedHeader},
		{name: "truncated client id length", frame: cat(prefix, []byte{0}), hv: headerV1, err: errTruncatedHeader},
		{name: "client id past end", frame: cat(prefix, []byte{0, 5, 'a'}), hv: headerV1, err: errTruncatedHeader},
		{name: "v2 missing tags", frame: cat(prefix, []byte{0, 0}), hv: headerV2, err: errTruncatedHeader},
		{name: "v2 tag count past end", frame: cat(prefix, []byte{0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F}), hv: headerV2, err: errTruncatedHeader},
		{name: "v2 tag size past end", frame: cat(prefix, []byte{0, 0, 1, 0, 9, 1}), hv: headerV2, err: errTruncatedHeader},
		{name: "v2 overlong varint", frame: cat(prefix, []byte{0, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), hv: headerV2, err: errTruncatedHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, body, err := parseHeader(tt.frame, tt.hv, "")
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if h.ClientID != tt.clientID || h.NullClientID != tt.null {
				t.Errorf("client id = %q (null %v), want %q (null %v)", h.ClientID, h.NullClientID, tt.clientID, tt.null)
			}
			if h.CorrelationID != 7 {
				t.Errorf("correlation id = %d, want 7", h.CorrelationID)
			}
			if string(body) != string(tt.body) {
				t.Errorf("body = %x, want %x", body, tt.body)
			}
		})
	}
}

// TestParseHeaderMatchesKmsg parses frames formatted by kmsg for every
// request key and version and checks the header round-trips.
func TestParseHeaderMatchesKmsg(t *testing.T) {
	f := kmsg.NewRequestFormatter(kmsg.FormatterClientID("cairn-test"))
	for key := int16(0); key < 200; key++ {
		req := kmsg.RequestForKey(key)
		if req == nil {
			continue
		}
		for v := int16(0); v <= req.MaxVersion(); v++ {
			req.SetVersion(v)
			if key == 7 && v == 0 {
				// kmsg's formatter writes header v0 but drops the body.
				continue
			}
			frame := f.AppendRequest(nil, req, 42)[4:]
			h, body, err := parseHeader(frame, requestHeaderVersion(req), "cairn-test")
			if err != nil {
				t.Fatalf("%s v%d: %v", kmsg.NameForKey(key), v, err)
			}
			if h.Key != key || h.Version != v || h.CorrelationID != 42 || h.ClientID != "cairn-test" {
				t.Fatalf("%s v%d: header %+v", kmsg.NameForKey(key), v, h)
			}
			if want := req.AppendTo(nil); string(body) != string(want) {
				t.Fatalf("%s v%d: body %x, want %x", kmsg.NameForKey(key), v, body, want)
			}
		}
	}
}

func TestValidSoftwareID(t *testing.T) {
	for s, want := range map[string]bool{
		"kgo": true, "v1.22.2": true, "a": true, "confluent-kafka-python": true, "1.0-SNAPSHOT": true,
		"": false, "-a": false, "a-": false, "a b": false, "a_b": false, ".a": false, "é": false,
	} {
		if got := validSoftwareID(s); got != want {
			t.Errorf("validSoftwareID(%q) = %v, want %v", s, got, want)
		}
	}
}
