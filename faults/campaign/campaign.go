// Package campaign runs fault-injection campaigns against real cairn
// clusters: each run starts a cluster of the cairn binary in network
// namespaces (faults/netns), drives the workload (faults/workload) while a
// nemesis injects a new random fault set every Interval, heals, reads every
// partition back, and checks the history and every replica's files
// (faults/checker). The runs, their seeds, faults, operations and violations
// are summed up in a Summary.
//
// A run is reproducible in its choices (the seed drives the nemesis), not in
// its timing: the cluster and the clients run for real.
package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/faults/checker"
	"github.com/cairnlog/cairn/faults/history"
	"github.com/cairnlog/cairn/faults/netns"
	"github.com/cairnlog/cairn/faults/workload"
)

// Config configures a campaign.
type Config struct {
	// Binary is the cairn binary the brokers run. Required.
	Binary string
	// Out holds one directory per run (run-<N>-seed-<S>): the history, the
	// report and the nodes' data and logs. A passing run's data is removed
	// unless Keep; a failing run keeps everything for replay. Required.
	Out string
	// Runs is the number of runs. Default 1.
	Runs int
	// Duration is how long each run's workload runs under faults. Default 60 s.
	Duration time.Duration
	// Interval is the time between fault sets. Default 10 s.
	Interval time.Duration
	// Seed is the first run's seed; run i uses Seed+i. Zero picks one from
	// the clock (printed, so a run can be repeated).
	Seed int64
	// Nodes is the cluster size. Default 3.
	Nodes int
	// Partitions of the RF3 topic the workload writes. Default 8.
	Partitions int32
	// Workload sets the clients; Brokers, Topic, Partitions and History are
	// filled in per run.
	Workload workload.Config
	// Membership lets the nemesis add a node and move partitions onto it,
	// and remove one (moving its partitions away first).
	Membership bool
	// Corruption lets the nemesis stop a node, damage one of its segment
	// files (a bit flip, or a cut tail) and restart it.
	Corruption bool
	// Subnet is X of 10.77.X.0/24; zero picks a free one.
	Subnet byte
	// Keep keeps every run's data, failing or not.
	Keep bool
	// Logger receives progress lines. Default: discard.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Binary == "" || c.Out == "" {
		return errors.New("campaign: Binary and Out are required")
	}
	if c.Runs <= 0 {
		c.Runs = 1
	}
	if c.Duration <= 0 {
		c.Duration = 60 * time.Second
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Second
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano() % 1_000_000_007
	}
	if c.Nodes <= 0 {
		c.Nodes = 3
	}
	if c.Partitions <= 0 {
		c.Partitions = 8
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Run runs the campaign and returns its summary; an error only when the
// campaign could not run at all (no network namespaces, bad config). A run
// that fails is in the summary, not an error.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := netns.Supported(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	s := &Summary{}
	for i := range cfg.Runs {
		if ctx.Err() != nil {
			break
		}
		seed := cfg.Seed + int64(i)
		dir := filepath.Join(cfg.Out, fmt.Sprintf("run-%d-seed-%d", i+1, seed))
		cfg.Logger.Info("run starting", "run", i+1, "of", cfg.Runs, "seed", seed, "dir", dir)
		r := runOne(ctx, cfg, i+1, seed, dir)
		cfg.Logger.Info("run done", "run", i+1, "seed", seed, "violations", sum(r.Violations), "err", r.Err,
			"sends_ok", r.Ops["send/ok"], "faults", sum(r.Faults))
		s.add(r)
		if b, err := json.MarshalIndent(s, "", "  "); err == nil {
			_ = os.WriteFile(filepath.Join(cfg.Out, "summary.json"), b, 0o644)
		}
		_ = os.WriteFile(filepath.Join(cfg.Out, "summary.txt"), []byte(s.Text()), 0o644)
	}
	return s, nil
}

const topic = "faults"

// runOne is one run: cluster up, workload under faults, heal, read back,
// check, cluster down.
func runOne(ctx context.Context, cfg Config, n int, seed int64, dir string) (res RunResult) {
	start := time.Now()
	res = RunResult{Run: n, Seed: seed, Dir: dir, Faults: map[string]int{}, Ops: map[string]int{}, Violations: map[string]int{}}
	defer func() { res.Duration = time.Since(start) }()
	fail := func(format string, args ...any) RunResult {
		res.Err = fmt.Sprintf(format, args...)
		return res
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fail("%v", err)
	}
	h, err := history.Create(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return fail("%v", err)
	}
	historyClosed := false
	closeHistory := func() error {
		if historyClosed {
			return nil
		}
		historyClosed = true
		return h.Close()
	}
	defer closeHistory()

	c, err := netns.Start(ctx, netns.Config{
		Binary: cfg.Binary, Dir: filepath.Join(dir, "nodes"), Nodes: cfg.Nodes, Subnet: cfg.Subnet,
		Logf: func(format string, args ...any) { cfg.Logger.Debug(fmt.Sprintf(format, args...)) },
	})
	if err != nil {
		return fail("start cluster: %v", err)
	}
	defer func() {
		if err := c.Close(); err != nil && res.Err == "" {
			res.Err = "close cluster: " + err.Error()
		}
		res.Storage = storageLines(c)
		if !res.Failed() && !cfg.Keep {
			_ = os.RemoveAll(filepath.Join(dir, "nodes"))
			_ = os.Remove(filepath.Join(dir, "history.jsonl"))
		}
	}()

	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = workload.Setup(sctx, c.Brokers(), topic, cfg.Partitions, 3)
	cancel()
	if err == nil {
		err = smallSegments(ctx, c.Brokers())
	}
	if err != nil {
		return fail("create topic: %v", err)
	}

	rng := rand.New(rand.NewPCG(uint64(seed), uint64(seed)>>32|1))
	rec := func(fault, detail string) {
		if detail != "start" { // a hook's start; its end is recorded with what it did
			res.Faults[fault]++
		}
		h.Add(history.Op{Process: "nemesis", Kind: history.Fault, Outcome: history.Info, Fault: fault, Detail: detail})
		cfg.Logger.Debug("fault", "run", n, "fault", fault, "detail", detail)
	}
	nem := netns.NewNemesis(c, rng, rec)
	if cfg.Membership {
		nem.Membership = membership(c, cfg)
	}
	if cfg.Corruption {
		nem.Corrupt = corruption(c, topic)
	}

	wcfg := cfg.Workload
	wcfg.Brokers, wcfg.Topic, wcfg.Partitions, wcfg.History = c.Brokers(), topic, cfg.Partitions, h
	wctx, wcancel := context.WithTimeout(ctx, cfg.Duration)
	defer wcancel()
	done := make(chan error, 1)
	go func() {
		_, err := workload.Run(wctx, wcfg)
		done <- err
	}()
	tick := time.NewTicker(cfg.Interval)
	for stepping := true; stepping; {
		select {
		case <-wctx.Done():
			stepping = false
		case <-tick.C:
			if err := nem.Step(wctx); err != nil && wctx.Err() == nil {
				cfg.Logger.Warn("nemesis step failed", "run", n, "err", err)
			}
		}
	}
	tick.Stop()
	// Heal before the workload's last acknowledgements are awaited, so
	// that what can still be acknowledged is.
	rec(netns.FaultHeal, "end of run")
	if err := c.Heal(); err != nil {
		return fail("final heal: %v", err)
	}
	if err := <-done; err != nil {
		return fail("workload: %v", err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 2*time.Minute)
	err = c.WaitReady(rctx)
	rcancel()
	if err != nil {
		return fail("cluster not ready after heal: %v", err)
	}
	fctx, fcancel := context.WithTimeout(ctx, 3*time.Minute)
	hwm, err := workload.FinalRead(fctx, c.Brokers(), topic, h)
	fcancel()
	if err != nil {
		return fail("final read: %v", err)
	}
	if err := closeHistory(); err != nil {
		return fail("history: %v", err)
	}

	ops, err := history.ReadFile(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		return fail("read history: %v", err)
	}
	report := checker.Check(ops)
	report.Add(replicasConverged(ctx, c, hwm)...)
	for k, v := range report.Counts.Ops {
		res.Ops[k] = v
	}
	for cat, v := range report.Counts.Violations {
		if v > 0 {
			res.Violations[string(cat)] = v
		}
	}
	for _, v := range report.Violations {
		if len(res.Examples) < 10 {
			res.Examples = append(res.Examples, v.String())
		}
	}
	if b, err := json.MarshalIndent(report, "", "  "); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "report.json"), b, 0o644)
	}
	_ = os.WriteFile(filepath.Join(dir, "report.txt"), []byte(report.Text()), 0o644)
	return res
}

// storageMessages are the brokers' log messages about damaged data, by the
// name the summary counts them under.
var storageMessages = map[string]string{
	"log lost synced batches at open":                                "damage found at open",
	"truncating segment at first invalid batch":                      "segment cut at open",
	"segment truncated, dropping the segments after it":              "segment cut at open",
	"log damage found, repairing from peers":                         "damage found by a read or scrub",
	"segment corrupt, truncating the log at the first invalid batch": "damage found by a read or scrub",
	"log damage found while replaying, repairing from peers":         "damage found by replay",
	"log repaired from peers":                                        "repaired from peers",
	"log repair failed":                                              "repair failed",
}

// storageLines counts storageMessages in every node's log.
func storageLines(c *netns.Cluster) map[string]int {
	out := map[string]int{}
	for id := int32(1); id <= netns.MaxNodeID; id++ { // removed nodes too
		b, err := os.ReadFile(c.LogPath(id))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			for msg, name := range storageMessages {
				if strings.Contains(line, `"msg":"`+msg+`"`) {
					out[name]++
				}
			}
		}
	}
	return out
}

// segmentBytes is the topic's segment.bytes: small, so that a run of a
// minute rolls several segments and the faults meet sealed ones too.
const segmentBytes = 64 << 10

func smallSegments(ctx context.Context, brokers []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v := strconv.Itoa(segmentBytes)
	resps, err := kadm.NewClient(cl).AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: &v}}, topic)
	if err == nil {
		_, err = resps.On(topic, nil)
	}
	return err
}

// replicasConverged compares every replica's files up to the high
// watermarks; a replica still catching up after the heal gets up to a minute
// before its shortfall counts as divergence.
func replicasConverged(ctx context.Context, c *netns.Cluster, hwm map[int32]int64) []checker.Violation {
	deadline := time.Now().Add(time.Minute)
	for {
		dirs := map[int32]string{}
		for _, id := range c.Nodes() {
			dirs[id] = c.DataDir(id)
		}
		vs := checker.CompareReplicas(dirs, topic, hwm)
		if len(vs) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return vs
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}
}
