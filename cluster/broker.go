package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/consumer"
	"github.com/cairnlog/cairn/internal/broadcast"
	"github.com/cairnlog/cairn/kafka"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/replication"
	"github.com/cairnlog/cairn/wire"
)

// Broker is one cairn broker: its internal node (Raft of every group and
// internal RPCs), its copy of the metadata, gossip membership, the
// controller (active while this broker leads the metadata group), the
// replica manager, the Kafka listener and the admin HTTP listener.
//
// All methods are safe for concurrent use.
type Broker struct {
	cfg    Config
	id     int32
	logger *slog.Logger

	node     *replication.Node
	meta     *metadata
	members  *membership
	replicas *replicaManager

	// metaLeader is notified on every change of this broker's metadata
	// leadership.
	metaLeader *broadcast.Signal

	// kafkaListeners are the advertised addresses of the Kafka listeners,
	// in Config order; kafkaLns their bound listeners (none without a
	// KafkaHandler).
	kafkaListeners []Endpoint
	kafkaLns       []net.Listener
	kafka          *wire.Server
	// kafkaHandler is set by KafkaHandler: closed after the Kafka listener,
	// it ends the deferred answers still waiting.
	kafkaHandler *kafka.Handler
	// groups is the group coordinator while this broker leads the metadata
	// group (runGroups), else nil.
	groups atomic.Pointer[consumer.Coordinator]
	httpLn net.Listener
	http   *http.Server
	// metrics holds the broker's Prometheus registry (metrics.go).
	metrics *brokerMetrics

	ctx    context.Context // cancelled by Close: ends every goroutine below
	cancel context.CancelFunc
	wg     sync.WaitGroup

	pid struct {
		sync.Mutex
		next, end int64
	}
	// stopping is set by Shutdown: the controller stops acting (this broker
	// leaving gossip must not make it fence itself).
	stopping  atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Start starts a broker: it claims the data directory, opens the metadata
// group (bootstrapping a new cluster when cfg.Join is empty and there is no
// state), starts gossip, the controller, the replica manager and the
// listeners. It returns once they listen; the broker becomes ready (Ready)
// when its metadata has caught up and its replicas are open.
func Start(cfg Config) (_ *Broker, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := claimDataDir(cfg.DataDir, cfg.NodeID); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	// b is not the named result: goroutines started below use it, and an
	// error return must not turn it nil under them before Close stops them.
	b := &Broker{cfg: cfg, id: cfg.NodeID, logger: cfg.Logger.With("node", cfg.NodeID), metaLeader: broadcast.New(), ctx: ctx, cancel: cancel}
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	advertiseInternal := cfg.AdvertiseInternalAddr
	if host, port, _ := net.SplitHostPort(cfg.InternalAddr); advertiseInternal == "" && port != "0" && reachableHost(host) != host {
		advertiseInternal = net.JoinHostPort(reachableHost(host), port)
	}
	b.node, err = replication.NewNode(replication.NodeConfig{
		ID:            strconv.Itoa(int(b.id)),
		BindAddr:      cfg.InternalAddr,
		AdvertiseAddr: advertiseInternal,
		Logger:        b.logger,
		RaftLogLevel:  cfg.RaftLogLevel,
	})
	if err != nil {
		return nil, fmt.Errorf("internal listener: %w", err)
	}
	b.replicas = newReplicaManager(b)
	b.metrics = newBrokerMetrics(b)
	partition.ServeReads(b.node, b.replicas.lookupGroup)
	b.node.Handle(rpcReplicaStatus, b.replicas.serveStatus)
	b.node.Handle(rpcReplicaIndexes, b.replicas.serveIndexes)

	fsm := newMetaFSM(b.logger)
	group, err := b.node.OpenGroup(replication.GroupConfig{
		ID:     metaGroupID,
		Dir:    filepath.Join(cfg.DataDir, metaDirName),
		FSM:    fsm,
		Store:  replication.StoreBolt,
		Timing: cfg.MetadataTiming,
		OnLeadershipChange: func(isLeader bool, term uint64) {
			if isLeader {
				b.logger.Info("metadata leadership gained", "term", term)
			}
			b.metaLeader.Notify()
		},
	})
	if err != nil {
		return nil, fmt.Errorf("open metadata: %w", err)
	}
	b.meta = &metadata{node: b.node, group: group, fsm: fsm, logger: b.logger, done: ctx.Done()}
	b.node.Handle(rpcMetaApply, b.meta.serveApply)
	if len(cfg.Join) == 0 {
		bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := group.Bootstrap(bctx, []raft.Server{replication.Voter(b.node.ID(), b.node.Addr())})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bootstrap metadata: %w", err)
		}
	}

	for _, l := range cfg.kafkaListeners() {
		adv := l.advertise
		if cfg.KafkaHandler != nil {
			ln, err := net.Listen("tcp", l.bind)
			if err != nil {
				return nil, fmt.Errorf("kafka listener %s: %w", l.name, err)
			}
			b.kafkaLns = append(b.kafkaLns, ln)
			if adv == "" {
				adv = advertised(l.bind, ln.Addr())
			}
		} else if adv == "" {
			adv = l.bind
		}
		b.kafkaListeners = append(b.kafkaListeners, Endpoint{Name: l.name, Addr: adv})
	}
	if cfg.KafkaHandler != nil {
		b.kafka, err = wire.NewServer(withObserver(cfg.Wire, b.metrics), cfg.KafkaHandler(b))
		if err != nil {
			return nil, fmt.Errorf("kafka server: %w", err)
		}
		for i, ln := range b.kafkaLns {
			name := b.kafkaListeners[i].Name
			b.wg.Go(func() {
				if err := b.kafka.ServeNamed(name, ln); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, wire.ErrServerClosed) {
					b.logger.Error("kafka listener stopped", "listener", name, "err", err)
				}
			})
		}
	}

	b.members, err = startMembership(cfg.GossipAddr, memberMeta{ID: b.id, KafkaAddr: b.KafkaAddr(), Listeners: b.kafkaListeners, InternalAddr: b.node.Addr(), Rack: cfg.Rack},
		cfg.ProbeInterval, b.logger, cfg.RaftLogLevel)
	if err != nil {
		return nil, err
	}
	// Our own member is known before any join.
	b.members.update(b.members.ml.LocalNode(), true)
	if len(cfg.Join) > 0 {
		b.wg.Go(func() { b.members.joinLoop(ctx, cfg.Join) })
	}
	b.wg.Go(func() { b.rejoinLoop(ctx, cfg.Join) })
	b.wg.Go(func() { b.runController(ctx) })
	b.wg.Go(func() { b.runGroups(ctx) })
	b.wg.Go(func() { b.replicas.run(ctx) })
	b.wg.Go(func() { b.replicas.runISR(ctx) })

	if cfg.HTTPAddr != "-" {
		b.httpLn, err = net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("http listener: %w", err)
		}
		b.http = &http.Server{Handler: b.httpHandler(), ReadHeaderTimeout: 10 * time.Second}
		b.wg.Go(func() {
			if err := b.http.Serve(b.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.logger.Error("http listener stopped", "err", err)
			}
		})
	}
	b.logger.Info("broker started", "internal", b.node.Addr(), "kafka", FormatEndpoints(b.kafkaListeners), "gossip", b.members.addr(), "http", b.HTTPAddr())
	return b, nil
}

// advertised returns the address to tell peers for a listener bound to
// configured: its host as configured, its port as bound.
func advertised(configured string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(configured)
	_, port, _ := net.SplitHostPort(bound.String())
	return net.JoinHostPort(reachableHost(host), port)
}

// reachableHost returns host, or this machine's host name when host is a
// wildcard (0.0.0.0, ::, empty) that nobody can dial, as Kafka's default
// advertised listener does; a container's host name resolves on its network.
func reachableHost(host string) string {
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return host
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		return name
	}
	return host
}

// ID returns the broker id.
func (b *Broker) ID() int32 { return b.id }

// InternalAddr returns the advertised internal address.
func (b *Broker) InternalAddr() string { return b.node.Addr() }

// GossipAddr returns the address other brokers join through.
func (b *Broker) GossipAddr() string { return b.members.addr() }

// KafkaAddr returns the advertised address of the first Kafka listener.
func (b *Broker) KafkaAddr() string { return b.kafkaListeners[0].Addr }

// KafkaListeners returns the advertised address of every Kafka listener, by
// name, in Config order. The caller must not modify the result.
func (b *Broker) KafkaListeners() []Endpoint { return b.kafkaListeners }

// HTTPAddr returns the bound admin HTTP address, "" when disabled.
func (b *Broker) HTTPAddr() string {
	if b.httpLn == nil {
		return ""
	}
	return b.httpLn.Addr().String()
}

// Shutdown stops the broker gracefully, as Kafka's controlled shutdown
// does: it leaves gossip and fences itself in the metadata (so no broker
// hands leadership back to it), hands the leadership of every partition it
// leads, and of the metadata, to another voter, then closes. ctx bounds the
// hand-over; Close follows regardless. It changes no Raft voters: see
// Decommission.
func (b *Broker) Shutdown(ctx context.Context) error {
	b.stopping.Store(true)
	b.replicas.pause()
	if b.members != nil {
		if err := b.members.leave(min(time.Second, timeLeft(ctx))); err != nil {
			b.logger.Warn("gossip leave", "err", err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := b.meta.propose(fctx, encodeCommand(cmdBrokerState, cmdBrokerStateBody{ID: b.id, State: BrokerFenced})); err != nil {
		b.logger.Warn("not fenced before shutdown", "err", err)
	}
	cancel()
	b.replicas.transferLeadership(ctx)
	if servers, err := b.meta.group.Configuration(ctx); err == nil && b.meta.group.IsLeader() && voterCount(servers) > 1 {
		if err := b.meta.group.TransferLeadership(ctx, "", ""); err != nil {
			b.logger.Warn("metadata leadership not handed over", "err", err)
		}
	}
	return b.Close()
}

func voterCount(servers []raft.Server) int {
	n := 0
	for _, s := range servers {
		if s.Suffrage == raft.Voter {
			n++
		}
	}
	return n
}

func timeLeft(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), 0)
	}
	return time.Hour
}

// Close stops the broker at once: no leadership hand-over (peers elect new
// leaders after their election timeout). The data stays in DataDir. It is
// idempotent.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.cancel()
		var errs []error
		if b.kafka != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			errs = append(errs, b.kafka.Shutdown(sctx))
			cancel()
			if b.kafkaHandler != nil {
				b.kafkaHandler.Close()
			}
		} else {
			for _, ln := range b.kafkaLns {
				ln.Close()
			}
		}
		if b.http != nil {
			b.http.Close()
		}
		if b.members != nil {
			errs = append(errs, b.members.shutdown())
		}
		b.wg.Wait()
		if b.replicas != nil {
			errs = append(errs, b.replicas.closeAll())
		}
		if b.meta != nil {
			errs = append(errs, b.meta.group.Shutdown())
		}
		if b.node != nil {
			errs = append(errs, b.node.Close())
		}
		b.closeErr = errors.Join(errs...)
		b.logger.Info("broker stopped")
	})
	return b.closeErr
}

// newUUID returns a random (version 4) UUID.
func newUUID() UUID {
	var u UUID
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}
