package main

// `cairn bench produce|consume|e2e`: the workloads of package bench, to size a
// cluster. Flags map one to one onto bench.Config. The seed brokers and the
// output format come from the client commands' persistent --brokers and
// --format when the root defines them (client.go), else from CAIRN_BROKERS and
// text. The progress line goes to stderr every second, the summary to stdout.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/cairnlog/cairn/bench"
	"github.com/spf13/cobra"
)

func benchCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "bench",
		Short: "Measure a cluster: produce, consume or end-to-end throughput and latency",
		Long: `Runs a workload against any Kafka-compatible cluster over the network and reports
throughput (records/s, MB/s; MB = 10^6 bytes of record values), latency percentiles
and an exactly-once check of what was read back. A progress line is written to
stderr every second; the summary to stdout (--format json for JSON).`,
	}
	for _, mode := range []bench.Mode{bench.ModeProduce, bench.ModeConsume, bench.ModeE2E} {
		root.AddCommand(benchModeCommand(mode))
	}
	oneLineErrors(root)
	return root
}

var benchShort = map[bench.Mode]string{
	bench.ModeProduce: "Send records; latency is send → acknowledgement",
	bench.ModeConsume: "Replay a topic from its start to its current end; check the benchmark records",
	bench.ModeE2E:     "Send and read at once; latency is send → receive; exactly-once check",
}

var benchExample = map[bench.Mode]string{
	bench.ModeProduce: `  cairn bench produce --records 1000000 --record-size 1024 --partitions 6 --replication 3 --acks all
  cairn bench produce --duration 30s --rate 20000 --producers 4 --linger 5ms --compression zstd`,
	bench.ModeConsume: `  cairn bench consume --topic cairn-bench --consumers 3
  cairn bench consume --topic cairn-bench --records 500000 --format json`,
	bench.ModeE2E: `  cairn bench e2e --records 200000 --replication 3 --acks all --record-size 1024
  CAIRN_BROKERS=127.0.0.1:19091 cairn bench e2e --duration 1m --rate 5000 --format json > e2e.json`,
}

func benchModeCommand(mode bench.Mode) *cobra.Command {
	var cfg bench.Config
	var acks, compression string
	cmd := &cobra.Command{
		Use:     string(mode) + " [flags]",
		Short:   benchShort[mode],
		Example: benchExample[mode],
		Args:    cobra.NoArgs,
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Topic, "topic", bench.DefaultTopic, "topic (created if missing, except by consume)")
	f.Int64Var(&cfg.Records, "records", 0, "records to send (consume: to read; 0 = up to the end the topic has at the start)")
	f.DurationVar(&cfg.Duration, "duration", 0, "bound on the sending (consume: reading) time; 0 = bounded by --records only")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 0, "bound on reading after sending ends, and on the producers' final flush (default 30s)")
	f.DurationVar(&cfg.ProgressInterval, "progress", 0, "period of the progress line on stderr (default 1s)")
	if mode != bench.ModeConsume {
		f.IntVar(&cfg.RecordBytes, "record-size", bench.DefaultRecordBytes, fmt.Sprintf("bytes of each record value (≥ %d)", bench.HeaderBytes))
		f.Float64Var(&cfg.Rate, "rate", 0, "target records/s over all producers, on an open-loop schedule (latency counts from each record's due time); 0 = as fast as possible")
		f.IntVar(&cfg.Producers, "producers", 1, "producer clients")
		f.Int32Var(&cfg.Partitions, "partitions", 3, "partitions of a topic created by the run")
		f.Int16Var(&cfg.Replication, "replication", 1, "replication factor of a topic created by the run")
		f.StringVar(&acks, "acks", "all", "acks: all (idempotent), leader, none (or -1, 1, 0)")
		f.DurationVar(&cfg.Linger, "linger", 0, "producer linger before a batch is sent")
		f.Int32Var(&cfg.BatchBytes, "batch-size", 1<<20, "max bytes of a produce batch")
		f.StringVar(&compression, "compression", "none", "none, gzip, snappy, lz4 or zstd")
	}
	if mode != bench.ModeProduce {
		f.IntVar(&cfg.Consumers, "consumers", 1, "consumer clients; partitions are split among them")
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg.Mode = mode
		cfg.Acks = map[string]string{"-1": "all", "1": "leader", "0": "none"}[acks]
		if cfg.Acks == "" {
			cfg.Acks = acks
		}
		cfg.Compression = compression
		if f := cmd.Flags().Lookup("timeout"); f != nil {
			cfg.RequestTimeout, _ = cmd.Flags().GetDuration("timeout")
		}
		brokers, format := benchGlobal(cmd)
		for _, b := range strings.Split(brokers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.Brokers = append(cfg.Brokers, b)
			}
		}
		if format != "text" && format != "json" {
			return fmt.Errorf("--format %q: want text or json", format)
		}
		if err := cfg.Validate(); err != nil {
			return errors.New(flagNames(err.Error()))
		}
		s, err := bench.Run(cmd.Context(), cfg, cmd.ErrOrStderr())
		if err != nil {
			return err
		}
		out := cmd.OutOrStdout()
		if format == "json" {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(s)
		}
		return s.WriteText(out)
	}
	return cmd
}

// benchGlobal returns the seed brokers and output format: the root's persistent
// flags when it has them, else CAIRN_BROKERS (or localhost:9092) and text.
func benchGlobal(cmd *cobra.Command) (brokers, format string) {
	brokers, format = os.Getenv("CAIRN_BROKERS"), "text"
	if brokers == "" {
		brokers = "localhost:9092"
	}
	if f := cmd.Flags().Lookup("brokers"); f != nil {
		brokers, _ = cmd.Flags().GetString("brokers")
	}
	if f := cmd.Flags().Lookup("format"); f != nil {
		format, _ = cmd.Flags().GetString("format")
	}
	return brokers, format
}

// flagNames words a bench.Config error in terms of this command's flags.
func flagNames(msg string) string {
	r := strings.NewReplacer("record size", "--record-size", "batch size", "--batch-size",
		"no seed brokers", "--brokers is empty", "unbounded run: give a record count or a duration",
		"unbounded run: give --records or --duration")
	return r.Replace(msg)
}
