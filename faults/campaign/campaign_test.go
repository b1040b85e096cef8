package campaign

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDamage(t *testing.T) {
	dir := t.TempDir()
	orig := bytes.Repeat([]byte("0123456789abcdef"), 512)
	seg := filepath.Join(dir, "00000000000000000000.log")
	flips, cuts := 0, 0
	for seed := range uint64(40) {
		if err := os.WriteFile(seg, orig, 0o644); err != nil {
			t.Fatal(err)
		}
		detail, err := damage([]string{seg}, rand.New(rand.NewPCG(seed, seed)))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(seg)
		switch {
		case strings.HasPrefix(detail, "bit flip in active segment"):
			flips++
			if len(got) != len(orig) {
				t.Fatalf("%s: size %d, want %d", detail, len(got), len(orig))
			}
			diff := 0
			for i := range got {
				if x := got[i] ^ orig[i]; x != 0 {
					diff++
					if x&(x-1) != 0 {
						t.Fatalf("%s: byte %d changed by %08b, want one bit", detail, i, x)
					}
				}
			}
			if diff != 1 {
				t.Fatalf("%s: %d bytes differ, want 1", detail, diff)
			}
		case strings.HasPrefix(detail, "cut "):
			cuts++
			if len(got) >= len(orig) || !bytes.Equal(got, orig[:len(got)]) {
				t.Fatalf("%s: %d bytes left, want a prefix of %d", detail, len(got), len(orig))
			}
		default:
			t.Fatalf("unexpected damage %q", detail)
		}
	}
	if flips == 0 || cuts == 0 {
		t.Errorf("40 seeds gave %d flips and %d cuts, want both kinds", flips, cuts)
	}
	if detail, err := damage(nil, rand.New(rand.NewPCG(1, 1))); err != nil || detail != "no data to damage" {
		t.Errorf("no segments: %q, %v", detail, err)
	}
}

func TestSummaryText(t *testing.T) {
	var s Summary
	s.add(RunResult{Run: 1, Seed: 7, Faults: map[string]int{"kill": 2}, Ops: map[string]int{"send/ok": 10},
		Violations: map[string]int{}, Storage: map[string]int{"repaired from peers": 1}})
	s.add(RunResult{Run: 2, Seed: 8, Faults: map[string]int{"kill": 1, "pause": 1}, Ops: map[string]int{"send/ok": 5},
		Violations: map[string]int{"lost-write": 3}, Examples: []string{"lost-write faults-0@4"}})
	if s.Failed != 1 || s.Faults["kill"] != 3 || s.Ops["send/ok"] != 15 || s.Violations["lost-write"] != 3 {
		t.Fatalf("totals %+v", s)
	}
	text := s.Text()
	for _, want := range []string{"runs: 2, failed: 1", "VIOLATIONS", "lost-write             3", "duplicate              0",
		"repaired from peers  1", "run 2 (seed 8"} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
}
