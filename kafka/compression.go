package kafka

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/cairnlog/cairn/log"
)

// Codecs of the batch attributes' bits 0-2.
const (
	codecNone   = 0
	codecGzip   = 1
	codecSnappy = 2
	codecLZ4    = 3
	codecZstd   = 4
)

// maxZstdWindow bounds the history a zstd frame may ask the decoder to keep.
// Kafka clients' frames use at most 8 MiB (zstd levels up to 19); the
// ultra levels' 128 MiB windows are refused.
const maxZstdWindow = 8 << 20

// xerialHeader starts snappy data in the framing of snappy-java (xerial),
// which the Java client and librdkafka use: the magic, then a version and
// a compatible-version int32, then blocks of | length int32 | snappy block |.
var xerialHeader = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderLen = 16

// decompressor inflates the records of compressed batches with memory
// bounded by the caller's limit (plus each codec's fixed state), whatever
// the compressed bytes claim. It is safe for concurrent use: its decoders
// are pooled.
type decompressor struct {
	gzip sync.Pool // *gzip.Reader
	lz4  sync.Pool // *lz4.Reader
	zstd sync.Pool // *zstd.Decoder, streaming, one goroutine each
}

func newDecompressor() *decompressor { return &decompressor{} }

// errInflatedTooLarge: a compressed batch inflates past the limit.
var errInflatedTooLarge = fmt.Errorf("%w: compressed records inflate past the limit", log.ErrBatchTooLarge)

// inflate appends to dst the decompression of src with codec and returns
// the extended slice. It fails with an error wrapping log.ErrBatchTooLarge
// once more than limit bytes would be appended (having appended at most
// limit+1 bytes plus one read's worth), and log.ErrCorrupt for bytes the
// codec rejects or an unknown codec.
func (d *decompressor) inflate(dst []byte, codec int, src []byte, limit int) ([]byte, error) {
	switch codec {
	case codecNone:
		if len(src) > limit {
			return dst, errInflatedTooLarge
		}
		return append(dst, src...), nil
	case codecGzip:
		r, _ := d.gzip.Get().(*gzip.Reader)
		var err error
		if r == nil {
			r, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = r.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return dst, corrupt("gzip", err)
		}
		dst, err = readLimited(dst, r, limit)
		d.gzip.Put(r)
		return dst, wrapCodec("gzip", err)
	case codecSnappy:
		return inflateSnappy(dst, src, limit)
	case codecLZ4:
		r, _ := d.lz4.Get().(*lz4.Reader)
		if r == nil {
			r = lz4.NewReader(nil)
		}
		r.Reset(bytes.NewReader(src))
		dst, err := readLimited(dst, r, limit)
		r.Reset(nil)
		d.lz4.Put(r)
		return dst, wrapCodec("lz4", err)
	case codecZstd:
		z, _ := d.zstd.Get().(*zstd.Decoder)
		if z == nil {
			var err error
			z, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxZstdWindow))
			if err != nil {
				return dst, fmt.Errorf("zstd decoder: %w", err)
			}
		}
		if err := z.Reset(bytes.NewReader(src)); err != nil {
			d.zstd.Put(z)
			return dst, corrupt("zstd", err)
		}
		dst, err := readLimited(dst, z, limit)
		_ = z.Reset(nil)
		d.zstd.Put(z)
		return dst, wrapCodec("zstd", err)
	}
	return dst, fmt.Errorf("%w: unknown compression codec %d", log.ErrCorrupt, codec)
}

// readLimited appends r's output to dst, failing with errInflatedTooLarge
// when it would exceed limit bytes. The buffer grows with the bytes
// actually produced, never with a size the input claims.
func readLimited(dst []byte, r io.Reader, limit int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)] // grow by append's policy
		}
		room := cap(dst) - len(dst)
		if over := start + limit + 1 - len(dst); room > over {
			room = over // read at most one byte past the limit
		}
		n, err := r.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, errInflatedTooLarge
		}
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// inflateSnappy decodes a raw snappy block or xerial-framed blocks. Each
// block states its decoded length up front, which is checked against the
// limit before anything is allocated for it.
func inflateSnappy(dst, src []byte, limit int) ([]byte, error) {
	start := len(dst)
	block := func(b []byte) error {
		n, err := s2.DecodedLen(b)
		if err != nil {
			return corrupt("snappy", err)
		}
		if len(dst)-start+n > limit {
			return errInflatedTooLarge
		}
		base := len(dst)
		dst = slices.Grow(dst, n)[:base+n]
		out, err := s2.Decode(dst[base:], b)
		if err != nil {
			return corrupt("snappy", err)
		}
		if len(out) != n {
			return corrupt("snappy", fmt.Errorf("block decoded to %d bytes, header said %d", len(out), n))
		}
		return nil
	}
	if !bytes.HasPrefix(src, xerialHeader) {
		return dst, block(src)
	}
	if len(src) < xerialHeaderLen {
		return dst, corrupt("snappy", errors.New("truncated xerial header"))
	}
	for rest := src[xerialHeaderLen:]; len(rest) > 0; {
		if len(rest) < 4 {
			return dst, corrupt("snappy", errors.New("truncated xerial block length"))
		}
		n := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return dst, corrupt("snappy", fmt.Errorf("xerial block of %d bytes, %d left", n, len(rest)))
		}
		if err := block(rest[:n]); err != nil {
			return dst, err
		}
		rest = rest[n:]
	}
	return dst, nil
}

func corrupt(codec string, err error) error {
	return fmt.Errorf("%w: %s: %v", log.ErrCorrupt, codec, err)
}

// wrapCodec leaves nil and the limit error alone and makes any other error
// of a codec a corruption.
func wrapCodec(codec string, err error) error {
	if err == nil || errors.Is(err, log.ErrBatchTooLarge) {
		return err
	}
	return corrupt(codec, err)
}
