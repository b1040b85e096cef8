package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/bench"
)

// defaultMaxRecordBytes bounds one key or value read from produce's input; it
// matches Kafka's default max.message.bytes (1 MiB).
const defaultMaxRecordBytes = 1 << 20

// produceFlags are produce's own flags.
type produceFlags struct {
	file        string
	key         string
	keySet      bool
	format      string
	headers     []string
	partition   int32
	compression string
	acks        int
	verbose     bool
	maxBytes    int
}

func produceCommand(g *globalFlags) *cobra.Command {
	var pf produceFlags
	cmd := &cobra.Command{
		Use:   "produce TOPIC",
		Short: "Produce records read from stdin or a file, one per line by default",
		Long: `Produce records read from stdin (or --file). By default each line is a
record value. --format splits the input differently: a template of %k (key) and
%v (value) separated by literal delimiters, ending in the record terminator, with
the escapes \n, \t, \r and \\; or json, one object per record with key, value
and headers (consume --format json writes that form).

A summary goes to stderr; -v prints each record's partition and offset.`,
		Example: `  printf 'a\nb\nc\n' | cairn produce orders
  echo 'user-7 {"total": 12}' | cairn produce orders --format '%k %v\n' -v
  cairn produce orders --file events.txt --key tenant-1 -H source=import --compression zstd
  cairn consume orders -o :end --format json | cairn produce orders-copy --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pf.keySet = cmd.Flags().Changed("key")
			return runProduce(cmd, g, &pf, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&pf.file, "file", "", "read records from this file instead of stdin")
	f.StringVarP(&pf.key, "key", "k", "", "key of every record (instead of %k in --format)")
	f.StringVar(&pf.format, "format", "text", `input: text (a value per line), json, or a template such as '%k\t%v\n'`)
	f.StringArrayVarP(&pf.headers, "header", "H", nil, "header key=value on every record (repeatable)")
	f.Int32VarP(&pf.partition, "partition", "p", -1, "partition to produce to (-1: by key hash, else sticky)")
	f.StringVar(&pf.compression, "compression", "none", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.IntVar(&pf.acks, "acks", -1, "acks: -1 (all in-sync replicas), 1 (leader) or 0 (none)")
	f.BoolVarP(&pf.verbose, "verbose", "v", false, "print each record's partition and offset")
	f.IntVar(&pf.maxBytes, "max-record-bytes", defaultMaxRecordBytes, "largest key or value read from the input")
	return cmd
}

// producerOpts returns the kgo options that pf asks for.
func (pf *produceFlags) producerOpts(g *globalFlags) ([]kgo.Opt, error) {
	codec, err := bench.ParseCompression(pf.compression)
	if err != nil {
		return nil, fmt.Errorf("--%w", err) // the flag's name, as every flag error here
	}
	opts := []kgo.Opt{
		kgo.ProducerBatchCompression(codec),
		kgo.RecordDeliveryTimeout(g.timeout),
		kgo.ProducerBatchMaxBytes(int32(max(pf.maxBytes, defaultMaxRecordBytes)) + 16<<10),
	}
	switch pf.acks {
	case -1:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	case 1:
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	case 0:
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	default:
		return nil, fmt.Errorf("--acks %d: want -1, 0 or 1", pf.acks)
	}
	if pf.partition >= 0 {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	} else if pf.partition != -1 {
		return nil, fmt.Errorf("--partition %d: want -1 or a partition number", pf.partition)
	}
	if pf.maxBytes <= 0 {
		return nil, fmt.Errorf("--max-record-bytes %d: want a positive size", pf.maxBytes)
	}
	return opts, nil
}

func runProduce(cmd *cobra.Command, g *globalFlags, pf *produceFlags, topic string) error {
	headers, err := parseHeaders(pf.headers)
	if err != nil {
		return err
	}
	opts, err := pf.producerOpts(g)
	if err != nil {
		return err
	}
	in := cmd.InOrStdin()
	if pf.file != "" {
		f, err := os.Open(pf.file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	rr, err := newRecordReader(in, pf.format, pf.maxBytes)
	if err != nil {
		return err
	}
	cl, err := g.newClient(append(opts, kgo.DefaultProduceTopic(topic))...)
	if err != nil {
		return err
	}
	defer cl.Close()

	ctx := cmd.Context()
	var (
		mu       sync.Mutex // guards the fields below, written by produce callbacks
		acked    int
		failures int
		firstErr error
	)
	out := cmd.OutOrStdout()
	promise := func(r *kgo.Record, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures++
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		acked++
		if pf.verbose {
			fmt.Fprintf(out, "partition=%d offset=%d\n", r.Partition, r.Offset)
		}
	}

	start := time.Now()
	records, readErrc := readRecords(ctx, rr, pf, headers)
	read := 0
	var readErr error
produce:
	for {
		select {
		case r, ok := <-records:
			if !ok {
				readErr = <-readErrc
				break produce
			}
			read++
			// Produce blocks while kgo's buffer (MaxBufferedRecords) is full,
			// which bounds the records in flight.
			cl.Produce(ctx, r, promise)
		case <-ctx.Done():
			// The reader may be blocked reading a terminal, which cannot be
			// interrupted; it ends with the process.
			readErr = errors.New("interrupted")
			break produce
		}
	}
	// Flush waits for every promise; on Ctrl-C, the records not yet sent fail
	// with the context's error and are counted below.
	flushErr := cl.Flush(context.WithoutCancel(ctx))
	elapsed := time.Since(start)

	mu.Lock()
	defer mu.Unlock()
	rate := float64(acked) / max(elapsed.Seconds(), 1e-3)
	fmt.Fprintf(cmd.ErrOrStderr(), "produced %d records to %s in %v (%.0f records/s)", acked, topic, elapsed.Round(time.Millisecond), rate)
	if failures > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "; %d failed", failures)
	}
	fmt.Fprintln(cmd.ErrOrStderr())
	switch {
	case readErr != nil:
		return readErr
	case failures > 0:
		return fmt.Errorf("produce to %s: %d of %d records failed; first: %w", topic, failures, read, produceErr(ctx, firstErr))
	case flushErr != nil:
		return fmt.Errorf("produce to %s: %w", topic, flushErr)
	}
	return nil
}

// produceErr explains the commonest produce failures.
func produceErr(ctx context.Context, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return errors.New("interrupted")
	}
	if errors.Is(err, kgo.ErrRecordTimeout) {
		return fmt.Errorf("%w: not acknowledged within --timeout", err)
	}
	return err
}

// readRecords reads rr in a goroutine and sends the records, with pf's key and
// the fixed headers applied, on a small channel that it closes at the end of the
// input, at the first error, which it then sends on the error channel (nil at the
// end of the input), or when ctx is done.
func readRecords(ctx context.Context, rr *recordReader, pf *produceFlags, headers []kgo.RecordHeader) (<-chan *kgo.Record, <-chan error) {
	records := make(chan *kgo.Record, 64)
	errc := make(chan error, 1)
	go func() {
		defer close(records)
		for n := 1; ; n++ {
			key, value, hs, err := rr.next()
			if err == io.EOF {
				errc <- nil
				return
			}
			if err != nil {
				errc <- fmt.Errorf("input record %d: %w", n, err)
				return
			}
			if pf.keySet {
				key = []byte(pf.key)
			}
			r := &kgo.Record{Key: key, Value: value, Partition: pf.partition, Headers: append(hs, headers...)}
			select {
			case records <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return records, errc
}

func parseHeaders(hs []string) ([]kgo.RecordHeader, error) {
	var out []kgo.RecordHeader
	for _, h := range hs {
		kvs, err := parseKeyValues("-H", []string{h})
		if err != nil {
			return nil, err
		}
		for k, v := range kvs {
			out = append(out, kgo.RecordHeader{Key: k, Value: []byte(v)})
		}
	}
	return out, nil
}
