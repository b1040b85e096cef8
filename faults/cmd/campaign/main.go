// Command campaign runs a fault-injection campaign against the cairn binary
// (package faults/campaign) and prints its summary; it exits 1 when any run
// found a violation or could not complete. `make test-faults` runs it.
//
//	go run ./faults/cmd/campaign -binary bin/cairn -runs 5 -seconds 60 -out faults-out
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cairnlog/cairn/faults/campaign"
	"github.com/cairnlog/cairn/faults/workload"
)

func main() {
	var (
		cfg     campaign.Config
		seconds int
		verbose bool
	)
	flag.StringVar(&cfg.Binary, "binary", "bin/cairn", "the cairn binary the brokers run")
	flag.StringVar(&cfg.Out, "out", "faults-out", "directory for each run's history, report and (when it fails) data")
	flag.IntVar(&cfg.Runs, "runs", 5, "number of runs")
	flag.IntVar(&seconds, "seconds", 60, "seconds of workload under faults per run")
	flag.DurationVar(&cfg.Interval, "interval", 10*time.Second, "time between fault sets")
	flag.Int64Var(&cfg.Seed, "seed", 0, "first run's seed (run i uses seed+i); 0 picks one")
	flag.IntVar(&cfg.Nodes, "nodes", 3, "brokers")
	flag.BoolVar(&cfg.Membership, "membership", true, "add and remove brokers among the faults")
	flag.BoolVar(&cfg.Corruption, "corruption", true, "damage segment files of a stopped broker among the faults")
	flag.BoolVar(&cfg.Keep, "keep", false, "keep every run's data, not only failing runs'")
	flag.IntVar(&cfg.Workload.Rate, "rate", workload.DefaultRate, "records produced per second, all producers")
	flag.IntVar(&cfg.Workload.Producers, "producers", 3, "idempotent producers")
	flag.BoolVar(&verbose, "v", false, "log every fault")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "campaign: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if seconds <= 0 || cfg.Runs <= 0 {
		fmt.Fprintln(os.Stderr, "campaign: -seconds and -runs must be positive")
		os.Exit(2)
	}
	cfg.Duration = time.Duration(seconds) * time.Second
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := campaign.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "campaign:", err)
		os.Exit(1)
	}
	fmt.Print(s.Text())
	fmt.Printf("\nsummary: %s/summary.txt and summary.json\n", cfg.Out)
	if s.Failed > 0 || len(s.Runs) < cfg.Runs {
		os.Exit(1)
	}
}
