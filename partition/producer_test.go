package partition

import (
	"errors"
	"math"
	"testing"
)

func TestProducerSequences(t *testing.T) {
	type step struct {
		b       producerBatch
		wantErr error
		wantDup int64 // first offset of the original batch, or -1
	}
	pb := func(epoch int16, seq, n int32) producerBatch {
		return producerBatch{ProducerID: 7, ProducerEpoch: epoch, BaseSequence: seq, Records: n}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{{pb(0, 0, 3), nil, -1}, {pb(0, 3, 2), nil, -1}, {pb(0, 5, 1), nil, -1}}},
		{"unknown producer must start at 0", []step{{pb(0, 4, 1), ErrOutOfOrderSequence, -1}}},
		{"gap", []step{{pb(0, 0, 3), nil, -1}, {pb(0, 4, 1), ErrOutOfOrderSequence, -1}}},
		{"retry of the last batch", []step{{pb(0, 0, 3), nil, -1}, {pb(0, 3, 2), nil, -1}, {pb(0, 3, 2), nil, 3}}},
		{"retry of an older batch", []step{{pb(0, 0, 1), nil, -1}, {pb(0, 1, 1), nil, -1}, {pb(0, 2, 1), nil, -1}, {pb(0, 0, 1), nil, 0}}},
		{"stale epoch", []step{{pb(2, 0, 1), nil, -1}, {pb(1, 1, 1), ErrInvalidEpoch, -1}}},
		{"new epoch restarts at 0", []step{{pb(0, 0, 5), nil, -1}, {pb(1, 0, 1), nil, -1}, {pb(1, 1, 1), nil, -1}}},
		{"new epoch must start at 0", []step{{pb(0, 0, 5), nil, -1}, {pb(1, 5, 1), ErrOutOfOrderSequence, -1}}},
		{"retry older than five batches is out of order", []step{
			{pb(0, 0, 1), nil, -1}, {pb(0, 1, 1), nil, -1}, {pb(0, 2, 1), nil, -1}, {pb(0, 3, 1), nil, -1},
			{pb(0, 4, 1), nil, -1}, {pb(0, 5, 1), nil, -1}, {pb(0, 0, 1), ErrOutOfOrderSequence, -1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProducers()
			var next int64
			for i, s := range tt.steps {
				dup, err := p.check(s.b)
				if !errors.Is(err, s.wantErr) {
					t.Fatalf("step %d: err = %v, want %v", i, err, s.wantErr)
				}
				switch {
				case s.wantDup >= 0 && (dup == nil || dup.FirstOffset != s.wantDup):
					t.Fatalf("step %d: dup = %+v, want first offset %d", i, dup, s.wantDup)
				case s.wantDup < 0 && dup != nil:
					t.Fatalf("step %d: unexpected duplicate %+v", i, dup)
				}
				if err == nil && dup == nil {
					p.record(s.b, next, next+int64(s.b.Records)-1, 0)
					next += int64(s.b.Records)
				}
			}
			if st := p.m[7]; st != nil && len(st.Batches) > maxProducerBatches {
				t.Fatalf("%d batches remembered, at most %d", len(st.Batches), maxProducerBatches)
			}
		})
	}
}

func TestSequenceWraps(t *testing.T) {
	if got := addSeq(math.MaxInt32, 1); got != 0 {
		t.Fatalf("MaxInt32+1 = %d, want 0", got)
	}
	if got := addSeq(math.MaxInt32-1, 3); got != 1 {
		t.Fatalf("MaxInt32-1+3 = %d, want 1", got)
	}
	p := newProducers()
	p.m[1] = &producerState{ID: 1, Batches: []seqEntry{{FirstSeq: math.MaxInt32 - 1, LastSeq: math.MaxInt32}}}
	if dup, err := p.check(producerBatch{ProducerID: 1, BaseSequence: 0, Records: 1}); err != nil || dup != nil {
		t.Fatalf("sequence after MaxInt32: dup %v err %v", dup, err)
	}
}

func TestProducerExpiryAndSnapshot(t *testing.T) {
	p := newProducers()
	p.record(producerBatch{ProducerID: 2, BaseSequence: 0, Records: 1}, 0, 0, 1_000)
	p.record(producerBatch{ProducerID: 1, BaseSequence: 0, Records: 1}, 1, 1, 5_000)
	snap := p.snapshot()
	if len(snap) != 2 || snap[0].ID != 1 || snap[1].ID != 2 {
		t.Fatalf("snapshot not sorted by id: %+v", snap)
	}
	snap[0].Batches[0].FirstOffset = 99 // a snapshot is a copy
	if p.m[1].Batches[0].FirstOffset != 1 {
		t.Fatal("snapshot aliases the live state")
	}
	p.expire(6_000, 4_000)
	if _, ok := p.m[2]; ok {
		t.Fatal("producer idle for 5s not expired with a 4s ttl")
	}
	if _, ok := p.m[1]; !ok {
		t.Fatal("producer idle for 1s expired with a 4s ttl")
	}
	q := newProducers()
	q.restore(p.snapshot())
	if dup, _ := q.check(producerBatch{ProducerID: 1, BaseSequence: 0, Records: 1}); dup == nil || dup.FirstOffset != 1 {
		t.Fatalf("restored state lost the batch: %+v", dup)
	}
}

func TestManifestRoundTrip(t *testing.T) {
	m := manifest{Version: manifestVersion, StartOffset: 10, EndOffset: 20, LastIndex: 7, LastTerm: 3,
		Epochs: []EpochStart{{Epoch: 2, StartOffset: 10}}, Producers: []producerState{{ID: 4, Epoch: 1, Batches: []seqEntry{{0, 2, 10, 12}}}}}
	b, err := encodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.EndOffset != 20 || got.Producers[0].Batches[0].LastOffset != 12 || got.Epochs[0].Epoch != 2 {
		t.Fatalf("round trip = %+v", got)
	}
	for _, bad := range []string{`{`, `{"version":2}`, `{"version":1,"start_offset":5,"end_offset":4}`} {
		if _, err := decodeManifest([]byte(bad)); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("decode %s: err = %v, want ErrBadSnapshot", bad, err)
		}
	}
}

func TestEntryCodec(t *testing.T) {
	e := encodeEntry(1234, []byte("batches"))
	ms, b, err := decodeEntry(e)
	if err != nil || ms != 1234 || string(b) != "batches" {
		t.Fatalf("decode = %d %q %v", ms, b, err)
	}
	for _, bad := range [][]byte{nil, {1, 2}, append([]byte{9}, make([]byte, 8)...)} {
		if _, _, err := decodeEntry(bad); !errors.Is(err, ErrBadEntry) {
			t.Errorf("decode %v: err = %v", bad, err)
		}
	}
}
