package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/replication"
	"github.com/cairnlog/cairn/wire"
)

// Defaults of Config, applied when a field is zero.
const (
	DefaultDataDir          = "./cairn-data"
	DefaultKafkaAddr        = "localhost:9092"
	DefaultInternalAddr     = "127.0.0.1:9093"
	DefaultGossipAddr       = "127.0.0.1:7946"
	DefaultHTTPAddr         = "127.0.0.1:9644"
	DefaultProbeInterval    = time.Second     // memberlist's LAN ProbeInterval
	DefaultReconcileEvery   = 2 * time.Second // controller and replica manager, besides every change
	DefaultRetentionEvery   = 5 * time.Minute // Kafka log.retention.check.interval.ms
	DefaultProducerIDBlock  = 1000
	DefaultMetadataVoters   = 3
	DefaultShutdownTransfer = 10 * time.Second
	// DefaultReplicaLagMax is shorter than Kafka's replica.lag.time.max.ms
	// (30 s): a Raft leader pushes entries to its followers, so a healthy
	// one is caught up within the commit timeout.
	DefaultReplicaLagMax      = 10 * time.Second
	DefaultReplicaStatusEvery = time.Second
)

// Config configures a Broker. Only cmd/cairn fills it from flags, the
// environment and files.
type Config struct {
	// NodeID is the broker id, >= 0. It is stored in DataDir (meta.properties)
	// on first start; a DataDir holding another id is an error.
	NodeID int32
	// DataDir holds meta.properties, the metadata group (__cluster_metadata/)
	// and one directory per local partition replica (<topic>-<partition>/).
	// Default DefaultDataDir.
	DataDir string
	// KafkaAddr is the bind address of the one Kafka listener, named
	// DefaultListenerName, when Listeners is empty. Default
	// DefaultKafkaAddr.
	KafkaAddr string
	// AdvertiseKafkaAddr is the host:port clients are told to connect to.
	// Default: KafkaAddr, with the bound port when KafkaAddr's port is 0.
	AdvertiseKafkaAddr string
	// Listeners are named Kafka listeners (Kafka's listeners: names of
	// upper-case letters, digits and _, each bound once; listeners.go).
	// They replace KafkaAddr and AdvertiseKafkaAddr, which must then be
	// empty. Optional.
	Listeners []Endpoint
	// AdvertisedListeners are the addresses clients are told, by listener
	// name (Kafka's advertised.listeners): each names one of Listeners. A
	// listener not named here is advertised at its bind address, with its
	// bound port and, for a wildcard host, this machine's host name.
	AdvertisedListeners []Endpoint
	// InternalAddr is the bind address of the internal listener (Raft of every
	// group, internal RPCs). Default DefaultInternalAddr.
	InternalAddr string
	// AdvertiseInternalAddr is the internal address peers dial. Default: the
	// bound internal address (then InternalAddr must not be 0.0.0.0).
	AdvertiseInternalAddr string
	// GossipAddr is memberlist's bind address, UDP and TCP; port 0 picks one.
	// Default DefaultGossipAddr.
	GossipAddr string
	// HTTPAddr is the admin HTTP listener (/livez, /readyz, /v1/cluster,
	// /metrics); "-" disables it. Default DefaultHTTPAddr.
	HTTPAddr string
	// DetailedMetrics adds the per-group, per-partition series to /metrics
	// (cairn_consumer_lag_records and _seconds, computed at each scrape for
	// the partitions this broker leads). Off by default: their number grows
	// with groups times partitions.
	DetailedMetrics bool
	// Join lists gossip addresses of brokers of the cluster to join. A broker
	// with no Join and no metadata state bootstraps a new cluster with itself
	// as the only metadata voter: start the first broker without Join, or
	// every broker would found its own cluster.
	Join []string
	// Rack is the broker's rack, reported in Metadata. Optional.
	Rack string

	// MetadataTiming is the metadata group's Raft clock; PartitionTiming each
	// partition group's. Zero fields take replication.DefaultTiming.
	MetadataTiming  replication.Timing
	PartitionTiming replication.Timing
	// ProbeInterval is memberlist's failure-detection probe interval; its
	// other intervals scale with it (LAN profile at 1 s). Default
	// DefaultProbeInterval.
	ProbeInterval time.Duration
	// ReconcileEvery bounds how long the controller and the replica manager
	// wait between passes when nothing changes. Default DefaultReconcileEvery.
	ReconcileEvery time.Duration
	// RetentionEvery is how often local logs apply retention and roll by age.
	// Default DefaultRetentionEvery.
	RetentionEvery time.Duration
	// ReplicaLagMax is how long a follower stays in its partition's ISR
	// without catching up with its leader (Kafka's
	// replica.lag.time.max.ms); ReplicaStatusEvery how often leaders ask.
	// Defaults DefaultReplicaLagMax and DefaultReplicaStatusEvery.
	ReplicaLagMax      time.Duration
	ReplicaStatusEvery time.Duration
	// MetadataVoters is the number of metadata voters with fewer than five
	// brokers; five brokers or more get five. Default DefaultMetadataVoters.
	MetadataVoters int
	// Log is the base log config of every partition; topic configs override
	// it. Zero fields take the log's defaults.
	Log log.Config
	// Wire configures the Kafka listener.
	Wire wire.Config
	// Groups configures the group coordinator this broker runs while it leads
	// the metadata group.
	Groups consumer.Config
	// KafkaHandler builds the Kafka API handler for the broker (KafkaHandler
	// builds package kafka's); nil runs no
	// Kafka listener.
	KafkaHandler func(b *Broker) wire.Handler
	// Logger receives the broker's logs. Default slog.Default().
	Logger *slog.Logger
	// RaftLogLevel is the minimum level of raft's, yamux's and memberlist's
	// own logs. Default slog.LevelWarn.
	RaftLogLevel slog.Leveler
}

func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.DataDir, DefaultDataDir)
	if len(c.Listeners) == 0 {
		def(&c.KafkaAddr, DefaultKafkaAddr)
	}
	def(&c.InternalAddr, DefaultInternalAddr)
	def(&c.GossipAddr, DefaultGossipAddr)
	def(&c.HTTPAddr, DefaultHTTPAddr)
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	if c.ReconcileEvery == 0 {
		c.ReconcileEvery = DefaultReconcileEvery
	}
	if c.RetentionEvery == 0 {
		c.RetentionEvery = DefaultRetentionEvery
	}
	if c.ReplicaLagMax == 0 {
		c.ReplicaLagMax = DefaultReplicaLagMax
	}
	if c.ReplicaStatusEvery == 0 {
		c.ReplicaStatusEvery = DefaultReplicaStatusEvery
	}
	if c.MetadataVoters == 0 {
		c.MetadataVoters = DefaultMetadataVoters
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RaftLogLevel == nil {
		c.RaftLogLevel = slog.LevelWarn
	}
	return c
}

// Validate reports every invalid field. Zero fields that have a default are
// valid.
func (c Config) Validate() error {
	errs := c.validateListeners()
	c = c.withDefaults()
	if c.NodeID < 0 {
		errs = append(errs, fmt.Errorf("node id %d is negative", c.NodeID))
	}
	hostPort := func(name, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %v", name, v, err))
		}
	}
	if len(c.Listeners) == 0 {
		hostPort("kafka address", c.KafkaAddr)
	}
	hostPort("internal address", c.InternalAddr)
	hostPort("gossip address", c.GossipAddr)
	if c.HTTPAddr != "-" {
		hostPort("http address", c.HTTPAddr)
	}
	if c.AdvertiseKafkaAddr != "" {
		if err := checkAdvertised(c.AdvertiseKafkaAddr); err != nil {
			errs = append(errs, fmt.Errorf("advertised kafka address %q: %v", c.AdvertiseKafkaAddr, err))
		}
	}
	if c.AdvertiseInternalAddr != "" {
		hostPort("advertised internal address", c.AdvertiseInternalAddr)
	}
	for _, j := range c.Join {
		hostPort("join address", j)
	}
	if c.MetadataVoters < 1 || c.MetadataVoters%2 == 0 {
		errs = append(errs, fmt.Errorf("metadata voters %d: want an odd number >= 1", c.MetadataVoters))
	}
	if c.ProbeInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("probe interval %v below 10ms", c.ProbeInterval))
	}
	if c.ReplicaStatusEvery < 10*time.Millisecond || c.ReplicaLagMax < c.ReplicaStatusEvery {
		errs = append(errs, fmt.Errorf("replica lag max %v: want at least the replica status period (%v), which is at least 10ms", c.ReplicaLagMax, c.ReplicaStatusEvery))
	}
	if err := c.Log.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Wire.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("cluster config: %w", err)
	}
	return nil
}
