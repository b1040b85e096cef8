// Package clustertest gives tests outside package cluster the broker
// configuration they all want: one broker of an in-process cluster on
// loopback with ports chosen by the kernel, short Raft and gossip timings,
// the Kafka front door, and groups that rebalance at once. Logs are
// discarded unless CAIRN_TEST_LOG is set.
package clustertest

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cairnlog/cairn/cluster"
	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/kafka"
	"github.com/cairnlog/cairn/replication"
)

// Timing keeps elections and failovers short.
var Timing = replication.Timing{
	HeartbeatTimeout:   500 * time.Millisecond,
	ElectionTimeout:    500 * time.Millisecond,
	LeaderLeaseTimeout: 250 * time.Millisecond,
	CommitTimeout:      50 * time.Millisecond,
}

// Logger discards, or with CAIRN_TEST_LOG set writes text to stderr.
func Logger() *slog.Logger {
	if os.Getenv("CAIRN_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// Config is broker id's configuration with its data under root/broker-<id>,
// joining the gossip address join unless it is empty (the first broker
// founds the cluster). Callers adjust fields before cluster.Start.
func Config(root string, id int32, join string, logger *slog.Logger) cluster.Config {
	cfg := cluster.Config{
		NodeID:          id,
		DataDir:         filepath.Join(root, fmt.Sprintf("broker-%d", id)),
		KafkaAddr:       "127.0.0.1:0",
		InternalAddr:    "127.0.0.1:0",
		GossipAddr:      "127.0.0.1:0",
		HTTPAddr:        "-",
		MetadataTiming:  Timing,
		PartitionTiming: Timing,
		ProbeInterval:   200 * time.Millisecond,
		ReconcileEvery:  200 * time.Millisecond,
		KafkaHandler:    cluster.KafkaHandler(kafka.Config{}),
		// Short sessions and no initial rebalance delay keep group tests
		// fast.
		Groups: consumer.Config{MinSessionTimeout: 500 * time.Millisecond, InitialRebalanceDelay: -1},
		Logger: logger.With("test_broker", id),
	}
	if join != "" {
		cfg.Join = []string{join}
	}
	return cfg
}
