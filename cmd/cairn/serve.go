package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cairnlog/cairn/cluster"
	"github.com/cairnlog/cairn/kafka"
)

// serveShutdownTimeout bounds the leadership hand-over on SIGTERM/SIGINT.
const serveShutdownTimeout = 15 * time.Second

// serveCommand runs a broker. Every flag can also come from the environment
// (CAIRN_<FLAG>, upper case, dashes as underscores: CAIRN_NODE_ID) or from a
// config file (--config, lines of flag=value, # comments); a flag on the
// command line wins over the environment, which wins over the file.
//
// Kafka listeners: --kafka-addr and --advertise-kafka-addr make one listener
// (named PLAINTEXT); --listeners and --advertised-listeners make named ones,
// as Kafka's listeners and advertised.listeners, and replace the first two:
// giving both kinds, from any source, is an error.
func serveCommand() *cobra.Command {
	var (
		cfg                   cluster.Config
		nodeID                int32
		join                  []string
		listeners, advertised []string
		configFile            string
		logLevel              string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a broker (with no flags: a ready single-node cluster)",
		Example: `  cairn serve
  cairn serve --node-id 1 --data /var/lib/cairn --kafka-addr 0.0.0.0:9092 --advertise-kafka-addr broker1:9092 \
      --internal-addr 10.0.0.1:9093 --gossip-addr 10.0.0.1:7946
  cairn serve --node-id 2 --join 10.0.0.1:7946 ...
  cairn serve --listeners INTERNAL://0.0.0.0:9092,EXTERNAL://0.0.0.0:19092 \
      --advertised-listeners INTERNAL://broker1:9092,EXTERNAL://localhost:19092 ...`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			onCommandLine := map[string]bool{}
			cmd.Flags().Visit(func(f *pflag.Flag) { onCommandLine[f.Name] = true })
			if err := applyEnvAndFile(cmd.Flags(), configFile); err != nil {
				return err
			}
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)
			}
			if err := setListeners(cmd.Flags(), onCommandLine, &cfg, listeners, advertised); err != nil {
				return err
			}
			cfg.Logger = newLogger(level)
			for _, j := range join {
				if j = strings.TrimSpace(j); j != "" {
					cfg.Join = append(cfg.Join, j)
				}
			}
			id, err := resolveNodeID(nodeID, cfg.DataDir)
			if err != nil {
				return err
			}
			cfg.NodeID = id
			if err := cfg.Validate(); err != nil {
				// One line: Validate joins its errors with newlines.
				return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			return runServe(cmd.Context(), cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configFile, "config", "", "config file: lines of flag=value (e.g. node-id=2)")
	f.Int32Var(&nodeID, "node-id", -1, "broker id (default: the one stored in the data directory, else 1)")
	f.StringVar(&cfg.DataDir, "data", cluster.DefaultDataDir, "data directory")
	f.StringVar(&cfg.KafkaAddr, "kafka-addr", cluster.DefaultKafkaAddr, "Kafka listener address (the one listener, named PLAINTEXT, without --listeners)")
	f.StringVar(&cfg.AdvertiseKafkaAddr, "advertise-kafka-addr", "", "Kafka address given to clients (default: --kafka-addr)")
	f.StringSliceVar(&listeners, "listeners", nil, "named Kafka listeners NAME://host:port, comma-separated; replace --kafka-addr")
	f.StringSliceVar(&advertised, "advertised-listeners", nil, "Kafka addresses given to clients NAME://host:port, by listener (default: each listener's address)")
	f.StringVar(&cfg.InternalAddr, "internal-addr", cluster.DefaultInternalAddr, "internal (Raft and RPC) listener address")
	f.StringVar(&cfg.AdvertiseInternalAddr, "advertise-internal-addr", "", "internal address given to peers (default: the bound --internal-addr)")
	f.StringVar(&cfg.GossipAddr, "gossip-addr", cluster.DefaultGossipAddr, "gossip (memberlist, UDP and TCP) address")
	f.StringVar(&cfg.HTTPAddr, "http-addr", cluster.DefaultHTTPAddr, `admin HTTP address (/livez, /readyz, /v1/cluster); "-" disables it`)
	f.StringSliceVar(&join, "join", nil, "gossip addresses of brokers to join, comma-separated (none: found a new cluster)")
	f.StringVar(&cfg.Rack, "rack", "", "rack of this broker")
	f.DurationVar(&cfg.ReplicaLagMax, "replica-lag-max", cluster.DefaultReplicaLagMax, "a follower not caught up with its leader for this long leaves the ISR (Kafka's replica.lag.time.max.ms)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// setListeners sets cfg's named listeners from --listeners and
// --advertised-listeners, which replace --kafka-addr and
// --advertise-kafka-addr. Changed covers the environment and the config file
// too (applyEnvAndFile sets flags); onCommandLine names the flags the command
// line gave. When the two forms meet, the one on the command line wins over
// the other from the environment or a config file (an image's defaults, say);
// both from the same place is an error.
func setListeners(f *pflag.FlagSet, onCommandLine map[string]bool, cfg *cluster.Config, listeners, advertised []string) error {
	named := f.Changed("listeners") || f.Changed("advertised-listeners")
	for _, old := range []string{"kafka-addr", "advertise-kafka-addr"} {
		if !named || !f.Changed(old) {
			continue
		}
		namedOnCLI := onCommandLine["listeners"] || onCommandLine["advertised-listeners"]
		switch {
		case namedOnCLI && !onCommandLine[old]:
			cfg.AdvertiseKafkaAddr = "" // the command line's --listeners form wins
		case onCommandLine[old] && !namedOnCLI:
			return nil // the command line's --kafka-addr form wins
		default:
			return fmt.Errorf("--listeners replaces --%s: give one or the other", old)
		}
	}
	if !f.Changed("listeners") {
		if f.Changed("advertised-listeners") {
			return errors.New("--advertised-listeners needs --listeners (with --kafka-addr, use --advertise-kafka-addr)")
		}
		return nil
	}
	var err error
	if cfg.Listeners, err = cluster.ParseEndpoints(listeners); err != nil {
		return fmt.Errorf("--listeners: %w", err)
	}
	if len(cfg.Listeners) == 0 {
		return errors.New("--listeners: none given")
	}
	if cfg.AdvertisedListeners, err = cluster.ParseEndpoints(advertised); err != nil {
		return fmt.Errorf("--advertised-listeners: %w", err)
	}
	cfg.KafkaAddr = ""
	return nil
}

// resolveNodeID returns the flag's id, or the data directory's, or 1.
func resolveNodeID(flag int32, dataDir string) (int32, error) {
	stored, ok, err := cluster.StoredNodeID(dataDir)
	if err != nil {
		return 0, err
	}
	switch {
	case flag >= 0:
		return flag, nil // a mismatch with stored is reported by cluster.Start
	case ok:
		return stored, nil
	}
	return 1, nil
}

func runServe(ctx context.Context, cfg cluster.Config) error {
	cfg.KafkaHandler = cluster.KafkaHandler(kafka.Config{})
	b, err := cluster.Start(cfg)
	if err != nil {
		return err
	}
	logger := cfg.Logger
	go func() {
		// Say once when the broker is ready: scripts and humans wait for it.
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if b.Ready() == nil {
					logger.Info("broker ready", "node", b.ID(), "kafka", cluster.FormatEndpoints(b.KafkaListeners()), "http", b.HTTPAddr(), "cluster", b.ClusterID())
					return
				}
			}
		}
	}()
	<-ctx.Done()
	logger.Info("shutting down", "node", b.ID())
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	return b.Shutdown(sctx)
}

// applyEnvAndFile sets every flag not given on the command line from
// CAIRN_<FLAG>, else from the config file.
func applyEnvAndFile(fs *pflag.FlagSet, path string) error {
	file := map[string]string{}
	if path == "" {
		path = os.Getenv("CAIRN_CONFIG")
	}
	if path != "" {
		var err error
		if file, err = readConfigFile(path); err != nil {
			return err
		}
		for k := range file {
			if fs.Lookup(k) == nil || k == "config" {
				return fmt.Errorf("config file %s: unknown setting %q", path, k)
			}
		}
	}
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || f.Name == "config" {
			return
		}
		env := "CAIRN_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %v", env, v, err))
			}
			return
		}
		if v, ok := file[f.Name]; ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("config file %s: %s=%q: %v", path, f.Name, v, err))
			}
		}
	})
	return errors.Join(errs...)
}

func readConfigFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("config file %s:%d: want flag=value", path, n)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return out, nil
}
