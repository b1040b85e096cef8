package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseOffsetSpec(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	nov1 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func(k startKind, n int64) startSpec { return startSpec{kind: k, n: n} }
	for _, tc := range []struct {
		in   string
		want offsetSpec
	}{
		{"start", offsetSpec{from: at(fromStart, 0)}},
		{"oldest", offsetSpec{from: at(fromStart, 0)}},
		{"end", offsetSpec{from: at(fromEnd, 0)}},
		{"newest", offsetSpec{from: at(fromEnd, 0)}},
		{"0", offsetSpec{from: at(fromExact, 0)}},
		{"42", offsetSpec{from: at(fromExact, 42)}},
		{"+5", offsetSpec{from: at(fromAfterStart, 5)}},
		{"-5", offsetSpec{from: at(fromBeforeEnd, 5)}},
		{"@-1h", offsetSpec{from: startSpec{kind: fromTime, at: now.Add(-time.Hour)}}},
		{"@-90m30s", offsetSpec{from: startSpec{kind: fromTime, at: now.Add(-90*time.Minute - 30*time.Second)}}},
		{"@2026-11-01T00:00:00Z", offsetSpec{from: startSpec{kind: fromTime, at: nov1}}},
		{"@2026-11-01T01:00:00+01:00", offsetSpec{from: startSpec{kind: fromTime, at: nov1}}},
		{"@2026-11-01", offsetSpec{from: startSpec{kind: fromTime, at: nov1}}},
		{"@2026-11-01T00:00:00", offsetSpec{from: startSpec{kind: fromTime, at: nov1}}},
		{"@1793491200000", offsetSpec{from: startSpec{kind: fromTime, at: nov1}}},
		{"10:20", offsetSpec{from: at(fromExact, 10), to: endSpec{kind: toExact, n: 20}}},
		{"10:10", offsetSpec{from: at(fromExact, 10), to: endSpec{kind: toExact, n: 10}}},
		{":end", offsetSpec{from: at(fromStart, 0), to: endSpec{kind: toCurrentEnd}}},
		{"start:end", offsetSpec{from: at(fromStart, 0), to: endSpec{kind: toCurrentEnd}}},
		{"-3:end", offsetSpec{from: at(fromBeforeEnd, 3), to: endSpec{kind: toCurrentEnd}}},
		{"+3:7", offsetSpec{from: at(fromAfterStart, 3), to: endSpec{kind: toExact, n: 7}}},
		{"@-2h:@-1h", offsetSpec{from: startSpec{kind: fromTime, at: now.Add(-2 * time.Hour)}, to: endSpec{kind: toTime, at: now.Add(-time.Hour)}}},
		{"@2026-11-01T00:00:00Z:@-1h", offsetSpec{from: startSpec{kind: fromTime, at: nov1}, to: endSpec{kind: toTime, at: now.Add(-time.Hour)}}},
		{"@2026-11-01T00:00:00Z:end", offsetSpec{from: startSpec{kind: fromTime, at: nov1}, to: endSpec{kind: toCurrentEnd}}},
		{"5:@2026-11-01", offsetSpec{from: at(fromExact, 5), to: endSpec{kind: toTime, at: nov1}}},
	} {
		got, err := parseOffsetSpec(tc.in, now)
		if err != nil {
			t.Errorf("parseOffsetSpec(%q): %v", tc.in, err)
			continue
		}
		if !got.from.at.Equal(tc.want.from.at) || !got.to.at.Equal(tc.want.to.at) {
			t.Errorf("parseOffsetSpec(%q) times = %v, %v; want %v, %v", tc.in, got.from.at, got.to.at, tc.want.from.at, tc.want.to.at)
		}
		got.from.at, got.to.at, tc.want.from.at, tc.want.to.at = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if got != tc.want {
			t.Errorf("parseOffsetSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseOffsetSpecErrors(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ in, want string }{
		{"", `offset "": want start, end`},
		{"begin", `want start, end, N, +N, -N or @TIME`},
		{"1x", `offset "1x": want start`},
		{"+", `"" is not a non-negative integer`},
		{"-x", `"x" is not a non-negative integer`},
		{"+-3", `"-3" is not a non-negative integer`},
		{"99999999999999999999", "out of range"},
		{"@", "want an RFC 3339 time"},
		{"@yesterday", `time "yesterday": want an RFC 3339 time`},
		{"@-1parsec", `time "-1parsec": want`},
		{"@2026-13-01", `time "2026-13-01": want`},
		{"20:10", "range ends (10) before it starts (20)"},
		{"@-1h:@-2h", "range ends before it starts"},
		{"end:end", "a range cannot start at end"},
		{"1:x", `end "x": want end, N or @TIME`},
		{"1:", `end "": want end`},
		{"1:-5", `end "-5"`},
		{"@2026-11-01T00:00:00Z:5", `time "2026-11-01T00:00:00Z:5": want an RFC 3339 time`},
	} {
		_, err := parseOffsetSpec(tc.in, now)
		if err == nil {
			t.Errorf("parseOffsetSpec(%q) succeeded, want an error containing %q", tc.in, tc.want)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) {
			t.Errorf("parseOffsetSpec(%q) error %q, want one line containing %q", tc.in, msg, tc.want)
		}
	}
}

// FuzzParseOffsetSpec checks the parser never panics and that every error is one
// line.
func FuzzParseOffsetSpec(f *testing.F) {
	for _, s := range []string{"start", "-5", "@-1h", "10:20", "@2026-11-01T00:00:00Z:@-1h", ":end", "@:", ":@"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := parseOffsetSpec(s, now)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q: %q", s, err)
			}
			return
		}
		if spec.from.n < 0 || spec.to.n < 0 {
			t.Fatalf("negative count for %q: %+v", s, spec)
		}
	})
}
