package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/log"
)

// plainBatch is an uncompressed batch of n records.
func plainBatch(n int) []byte {
	spec := log.BatchSpec{FirstTimestamp: time.Now().UnixMilli()}
	for i := range n {
		spec.Values = append(spec.Values, []byte(strings.Repeat("v", i+1)))
	}
	return log.AppendBatch(nil, spec)
}

// rawBatch builds a batch from a records section as given (compressed or
// not) with attributes and record count as given, and a correct CRC.
func rawBatch(attrs int16, numRecords int32, records []byte) []byte {
	b := kmsg.RecordBatch{
		Length:          int32(log.BatchHeaderSize - 12 + len(records)),
		Magic:           2,
		Attributes:      attrs,
		LastOffsetDelta: numRecords - 1,
		FirstTimestamp:  time.Now().UnixMilli(),
		MaxTimestamp:    time.Now().UnixMilli(),
		ProducerID:      -1,
		ProducerEpoch:   -1,
		FirstSequence:   -1,
		NumRecords:      numRecords,
		Records:         records,
	}
	out := b.AppendTo(nil)
	fixCRC(out)
	return out
}

func fixCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:], crc32.Checksum(b[21:], crc32.MakeTable(crc32.Castagnoli)))
}

func produceReq(topic string, part int32, acks int16, timeoutMs int32, batches []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, batches
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// produceOne sends req over a raw connection (kgo would overwrite its
// acks) at v9 and returns its one partition's answer.
func produceOne(t *testing.T, addr string, req *kmsg.ProduceRequest) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req.Version = 9
	resp := kmsg.NewPtrProduceResponse()
	resp.Version = req.Version
	if err := resp.ReadFrom(rawRoundTrip(t, addr, req)); err != nil {
		t.Fatalf("decode produce response: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response %+v: want one partition", resp)
	}
	return resp.Topics[0].Partitions[0]
}

func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var wantCode int16
	if want != nil {
		wantCode = want.Code
	}
	if got != wantCode {
		t.Fatalf("%s: error %v, want %v", what, kerr.ErrorForCode(got), want)
	}
}

func TestProduceBadInput(t *testing.T) {
	b := startBroker(t, Config{MaxBatchBytes: 64 << 10})
	b.createTopic("bad", 1, nil)
	p := b.LocalPartition("bad", 0)

	// Count mismatch: the header says 3 records, the records hold 2.
	two := plainBatch(2)
	countLie := rawBatch(0, 3, two[log.BatchHeaderSize:])
	// Offset deltas 0, 0: record 1 claims delta 0.
	dupDelta := append([]byte{}, two[log.BatchHeaderSize:]...)
	// The second record starts after the first one's length varint and body.
	l1, n1 := binary.Varint(dupDelta)
	rec2 := dupDelta[n1+int(l1):]
	_, n2 := binary.Varint(rec2)
	// body: attributes (1), timestampDelta varint (1 byte: 2), offsetDelta (1 byte)
	rec2[n2+1+1] = 0
	dupDeltaBatch := rawBatch(0, 2, dupDelta)
	badCRC := plainBatch(2)
	badCRC[len(badCRC)-1] ^= 0xff
	magic1 := plainBatch(1)
	magic1[16] = 1
	fixCRC(magic1)
	// A zstd batch of 4 MiB of zeros: 16 times the topic's limit.
	enc, _ := zstd.NewWriter(nil)
	bomb := rawBatch(codecZstd, 1, enc.EncodeAll(make([]byte, 4<<20), nil))
	// A gzip batch of garbage.
	garbage := rawBatch(codecGzip, 1, []byte("not gzip at all"))

	for _, c := range []struct {
		name  string
		req   *kmsg.ProduceRequest
		want  *kerr.Error
		count bool // the partition must stay empty
	}{
		{"acks 2", produceReq("bad", 0, 2, 5000, plainBatch(1)), kerr.InvalidRequiredAcks, true},
		{"acks -2", produceReq("bad", 0, -2, 5000, plainBatch(1)), kerr.InvalidRequiredAcks, true},
		{"negative timeout", produceReq("bad", 0, -1, -1, plainBatch(1)), kerr.InvalidRequest, true},
		{"crc mismatch", produceReq("bad", 0, -1, 5000, badCRC), kerr.CorruptMessage, true},
		{"count mismatch", produceReq("bad", 0, -1, 5000, countLie), kerr.CorruptMessage, true},
		{"offset delta mismatch", produceReq("bad", 0, -1, 5000, dupDeltaBatch), kerr.CorruptMessage, true},
		{"magic 1", produceReq("bad", 0, -1, 5000, magic1), kerr.CorruptMessage, true},
		{"truncated", produceReq("bad", 0, -1, 5000, plainBatch(3)[:80]), kerr.CorruptMessage, true},
		{"no batches", produceReq("bad", 0, -1, 5000, nil), kerr.CorruptMessage, true},
		{"zstd bomb", produceReq("bad", 0, -1, 5000, bomb), kerr.MessageTooLarge, true},
		{"bad gzip", produceReq("bad", 0, -1, 5000, garbage), kerr.CorruptMessage, true},
		{"empty topic", produceReq("", 0, -1, 5000, plainBatch(1)), kerr.InvalidTopicException, true},
		{"long topic", produceReq(strings.Repeat("t", 250), 0, -1, 5000, plainBatch(1)), kerr.InvalidTopicException, true},
		{"bad character", produceReq("bad/topic", 0, -1, 5000, plainBatch(1)), kerr.InvalidTopicException, true},
		{"unknown partition", produceReq("bad", 7, -1, 5000, plainBatch(1)), kerr.UnknownTopicOrPartition, true},
		{"unknown topic", produceReq("nope", 0, -1, 5000, plainBatch(1)), kerr.UnknownTopicOrPartition, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			sp := produceOne(t, b.addr, c.req)
			wantCode(t, c.name, sp.ErrorCode, c.want)
			if hw := p.HighWatermark(); hw != 0 {
				t.Fatalf("high watermark %d after a refused produce", hw)
			}
		})
	}

	// And a good one lands at offset 0.
	sp := produceOne(t, b.addr, produceReq("bad", 0, 1, 5000, plainBatch(3)))
	wantCode(t, "good produce", sp.ErrorCode, nil)
	if sp.BaseOffset != 0 || p.HighWatermark() != 3 {
		t.Fatalf("good produce: base offset %d, high watermark %d", sp.BaseOffset, p.HighWatermark())
	}
}

func TestProduceIdempotentRetry(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic("idem", 1, nil)
	cl := newKgo(t, b)
	ctx := t.Context()
	ip, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil || ip.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(ip.ErrorCode))
	}
	batch := func(seq int32) []byte {
		return log.AppendBatch(nil, log.BatchSpec{FirstTimestamp: 1, Values: [][]byte{[]byte("a"), []byte("b")},
			Idempotent: true, ProducerID: ip.ProducerID, ProducerEpoch: ip.ProducerEpoch, BaseSequence: seq})
	}
	first := produceOne(t, b.addr, produceReq("idem", 0, -1, 5000, batch(0)))
	second := produceOne(t, b.addr, produceReq("idem", 0, -1, 5000, batch(2)))
	retry := produceOne(t, b.addr, produceReq("idem", 0, -1, 5000, batch(0)))
	wantCode(t, "first", first.ErrorCode, nil)
	wantCode(t, "retry", retry.ErrorCode, nil)
	if first.BaseOffset != 0 || second.BaseOffset != 2 || retry.BaseOffset != 0 {
		t.Fatalf("offsets: first %d, second %d, retry %d; want 0, 2, 0", first.BaseOffset, second.BaseOffset, retry.BaseOffset)
	}
	if hw := b.LocalPartition("idem", 0).HighWatermark(); hw != 4 {
		t.Fatalf("high watermark %d, want 4: the retry appended", hw)
	}
	gap := produceOne(t, b.addr, produceReq("idem", 0, -1, 5000, batch(9)))
	wantCode(t, "sequence gap", gap.ErrorCode, kerr.OutOfOrderSequenceNumber)

	// A transactional id is refused; an empty one is a bad request.
	txn := kmsg.NewPtrInitProducerIDRequest()
	id := "tx"
	txn.TransactionalID = &id
	txn.Version = 4
	resp := kmsg.NewPtrInitProducerIDResponse()
	resp.Version = 4
	if err := resp.ReadFrom(rawRoundTrip(t, b.addr, txn)); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "transactional id", resp.ErrorCode, kerr.TransactionalIDAuthorizationFailed)
}

func fetchReq(topic string, part int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = part, offset, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

func fetchOne(t *testing.T, cl *kgo.Client, req *kmsg.FetchRequest) (*kmsg.FetchResponse, kmsg.FetchResponseTopicPartition) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response: %d topics, want one partition", len(resp.Topics))
	}
	return resp, resp.Topics[0].Partitions[0]
}

func TestFetchBadInput(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic("f", 1, nil)
	cl := newKgo(t, b)
	p := b.LocalPartition("f", 0)
	var all []byte
	for range 3 {
		batch := plainBatch(2)
		sp := produceOne(t, b.addr, produceReq("f", 0, -1, 5000, batch))
		wantCode(t, "produce", sp.ErrorCode, nil)
		all = append(all, batch...)
	}

	// MaxBytes 2^31-1 is clamped, and the data comes back.
	req := fetchReq("f", 0, 0)
	req.MaxBytes, req.Topics[0].Partitions[0].PartitionMaxBytes = 1<<31-1, 1<<31-1
	_, sp := fetchOne(t, cl, req)
	wantCode(t, "huge max bytes", sp.ErrorCode, nil)
	if len(sp.RecordBatches) != len(all) || sp.HighWatermark != 6 || sp.LastStableOffset != 6 || sp.LogStartOffset != 0 {
		t.Fatalf("huge max bytes: %d bytes (want %d), hw %d, lso %d, log start %d", len(sp.RecordBatches), len(all), sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset)
	}

	// MaxBytes 1: the first batch still comes back whole, alone.
	req = fetchReq("f", 0, 0)
	req.MaxBytes = 1
	_, sp = fetchOne(t, cl, req)
	if h, err := log.ParseBatchHeader(sp.RecordBatches); err != nil || h.Size() != len(sp.RecordBatches) {
		t.Fatalf("max bytes 1: %d bytes, want one whole batch (%v)", len(sp.RecordBatches), err)
	}

	// Replica id >= 0 is refused.
	req = fetchReq("f", 0, 0)
	req.ReplicaID = 1
	resp, sp := fetchOne(t, cl, req)
	wantCode(t, "replica id", sp.ErrorCode, kerr.InvalidRequest)
	if len(sp.RecordBatches) != 0 || resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("replica fetch: %d bytes, top error %v", len(sp.RecordBatches), kerr.ErrorForCode(resp.ErrorCode))
	}

	// Offsets out of range.
	_, sp = fetchOne(t, cl, fetchReq("f", 0, 7))
	wantCode(t, "offset 7", sp.ErrorCode, kerr.OffsetOutOfRange)
	_, sp = fetchOne(t, cl, fetchReq("f", 0, -1))
	wantCode(t, "offset -1", sp.ErrorCode, kerr.OffsetOutOfRange)

	// Leader epoch checks.
	epoch := p.LeaderEpoch()
	req = fetchReq("f", 0, 0)
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch - 1
	_, sp = fetchOne(t, cl, req)
	wantCode(t, "old epoch", sp.ErrorCode, kerr.FencedLeaderEpoch)
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch + 1
	_, sp = fetchOne(t, cl, req)
	wantCode(t, "new epoch", sp.ErrorCode, kerr.UnknownLeaderEpoch)
	req.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
	_, sp = fetchOne(t, cl, req)
	wantCode(t, "current epoch", sp.ErrorCode, nil)

	// Unknown topic and invalid name.
	_, sp = fetchOne(t, cl, fetchReq("nope", 0, 0))
	wantCode(t, "unknown topic", sp.ErrorCode, kerr.UnknownTopicOrPartition)
	_, sp = fetchOne(t, cl, fetchReq("no pe", 0, 0))
	wantCode(t, "bad topic", sp.ErrorCode, kerr.InvalidTopicException)
}

// rawRoundTrip sends req at its version on a new TCP connection and
// returns the response body's bytes (after the correlation id and, for
// flexible versions, the header's tags).
func rawRoundTrip(t *testing.T, addr string, req kmsg.Request) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, testDeadline)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(testDeadline))
	var frame []byte
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.Key()))
	frame = binary.BigEndian.AppendUint16(frame, uint16(req.GetVersion()))
	frame = binary.BigEndian.AppendUint32(frame, 7)
	frame = binary.BigEndian.AppendUint16(frame, 3)
	frame = append(frame, "raw"...)
	if req.IsFlexible() {
		frame = append(frame, 0)
	}
	frame = req.AppendTo(frame)
	out := binary.BigEndian.AppendUint32(nil, uint32(len(frame)))
	if _, err := conn.Write(append(out, frame...)); err != nil {
		t.Fatal(err)
	}
	var n [4]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		t.Fatal(err)
	}
	resp := make([]byte, binary.BigEndian.Uint32(n[:]))
	if _, err := io.ReadFull(conn, resp); err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(resp) != 7 {
		t.Fatalf("correlation id %d", binary.BigEndian.Uint32(resp))
	}
	resp = resp[4:]
	if req.IsFlexible() {
		resp = resp[1:]
	}
	return resp
}

// TestFetchEmptyRecordsNotNull: a partition with nothing to return encodes
// its records as empty bytes, never null (length -1), which some clients
// reject.
func TestFetchEmptyRecordsNotNull(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic("e", 1, nil)
	for _, req := range []*kmsg.FetchRequest{fetchReq("e", 0, 0), fetchReq("e", 0, 5), fetchReq("nope", 0, 0)} {
		for _, v := range []int16{4, 11, 12} {
			req.Version = v
			body := rawRoundTrip(t, b.addr, req)
			// The records are the last field of the last partition:
			// v4-v11 an int32 length, v12 a compact length (n+1) and
			// then the partition's, topic's and response's tags.
			want := []byte{0, 0, 0, 0}
			if v >= 12 {
				want = []byte{1, 0, 0, 0}
			}
			if !bytes.HasSuffix(body, want) {
				t.Fatalf("v%d fetch at %d of %s: body ends % x, want % x", v, req.Topics[0].Partitions[0].FetchOffset, req.Topics[0].Topic, body[len(body)-4:], want)
			}
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = v
			if err := resp.ReadFrom(body); err != nil {
				t.Fatalf("v%d: decode: %v", v, err)
			}
		}
	}
}
