package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairnlog/cairn/log"
)

// demoCommand exercises the storage engine on this machine until the broker
// exists: it appends record batches to a partition log, reads them back by offset
// and by timestamp, and prints what it measured.
func demoCommand() *cobra.Command {
	var (
		dataDir  string
		batches  int
		records  int
		valueLen int
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Append to and read from a partition log on local disk (a storage demo)",
		Example: `  cairn demo
  cairn demo --data /tmp/cairn --batches 100000 --records 10 --value-bytes 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case batches <= 0:
				return errors.New("--batches must be positive")
			case records <= 0 || records > 10_000:
				return errors.New("--records must be between 1 and 10000")
			case valueLen < 0 || valueLen > 64<<10:
				return errors.New("--value-bytes must be between 0 and 65536")
			}
			return runDemo(cmd, filepath.Join(dataDir, "demo-0"), batches, records, valueLen)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "./cairn-data", "data directory")
	cmd.Flags().IntVar(&batches, "batches", 20_000, "record batches to append")
	cmd.Flags().IntVar(&records, "records", 10, "records per batch")
	cmd.Flags().IntVar(&valueLen, "value-bytes", 100, "bytes per record value")
	return cmd
}

func runDemo(cmd *cobra.Command, dir string, batches, records, valueLen int) error {
	out := cmd.OutOrStdout()
	logger := newLogger(slog.LevelWarn)
	l, err := log.Open(dir, log.Config{}, logger)
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Fprintf(out, "partition log %s: offsets [%d, %d), %d bytes\n", dir, l.StartOffset(), l.EndOffset(), l.Size())

	value := make([]byte, valueLen)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	values := make([][]byte, records)
	for i := range values {
		values[i] = value
	}
	var buf []byte
	start := time.Now()
	firstTs := start.UnixMilli()
	var bytes int
	for i := range batches {
		ts := firstTs + int64(i) // one millisecond per batch, so timestamps can be searched
		buf = log.AppendBatch(buf[:0], log.BatchSpec{FirstTimestamp: ts, Values: values})
		info, err := l.Append(buf, 0)
		if err != nil {
			return fmt.Errorf("append batch %d: %w", i, err)
		}
		bytes += info.Bytes
	}
	took := time.Since(start)
	fmt.Fprintf(out, "appended %d batches (%d records, %.1f MB) in %v: %.0f records/s, %.1f MB/s\n",
		batches, batches*records, float64(bytes)/1e6, took.Round(time.Millisecond),
		float64(batches*records)/took.Seconds(), float64(bytes)/1e6/took.Seconds())

	mid := l.StartOffset() + (l.EndOffset()-l.StartOffset())/2
	readStart := time.Now()
	c, err := l.Read(mid, 64<<10)
	if err != nil {
		return fmt.Errorf("read offset %d: %w", mid, err)
	}
	data, err := c.AppendTo(nil)
	c.Close()
	if err != nil {
		return err
	}
	h, err := log.ParseBatchHeader(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "read offset %d: %d bytes of whole batches starting at offset %d (%v)\n",
		mid, len(data), h.BaseOffset, time.Since(readStart).Round(time.Microsecond))

	ts := firstTs + int64(batches/4)
	off, err := l.OffsetForTimestamp(ts)
	if err != nil {
		return fmt.Errorf("offset for timestamp %d: %w", ts, err)
	}
	fmt.Fprintf(out, "first offset at or after timestamp %d: %d\n", ts, off)
	fmt.Fprintf(out, "log now: offsets [%d, %d), %d segments, %d bytes; run again to append more\n",
		l.StartOffset(), l.EndOffset(), len(l.Segments()), l.Size())
	return nil
}
