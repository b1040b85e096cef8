package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	stdlog "log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/cairnlog/cairn/internal/broadcast"
)

// Membership is gossip (hashicorp/memberlist): every broker is a member named
// by its broker id, and carries its addresses in the member's meta (JSON of
// memberMeta, at most memberlist.MetaMaxSize bytes). The controller reads the
// live members to register brokers and to fence the ones gossip declares dead.
// Gossip never changes Raft voters: a dead broker keeps its vote.
type memberMeta struct {
	ID           int32  `json:"id"`
	KafkaAddr    string `json:"k"` // of the first listener
	InternalAddr string `json:"i"`
	Rack         string `json:"r,omitempty"`
	// Listeners are the advertised Kafka addresses by listener name; none
	// from a broker that predates them.
	Listeners []Endpoint `json:"l,omitempty"`
}

// member is a live member as the controller sees it.
type member struct {
	memberMeta
	GossipAddr string
}

type membership struct {
	ml      *memberlist.Memberlist
	meta    []byte
	logger  *slog.Logger
	changed *broadcast.Signal
	mu      struct {
		sync.Mutex
		alive map[int32]member
	}
}

// startMembership binds memberlist on bindAddr ("host:port", port 0 picks one)
// and starts gossiping; join is done separately by joinLoop.
func startMembership(bindAddr string, meta memberMeta, probe time.Duration, logger *slog.Logger, logLevel slog.Leveler) (*membership, error) {
	host, portStr, err := net.SplitHostPort(bindAddr)
	if err != nil {
		return nil, fmt.Errorf("gossip address %q: %w", bindAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("gossip address %q: %w", bindAddr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	m := &membership{logger: logger, changed: broadcast.New()}
	m.mu.alive = map[int32]member{}
	m.meta, err = json.Marshal(meta)
	if err != nil || len(m.meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("gossip meta of %d bytes is over %d: shorten the addresses", len(m.meta), memberlist.MetaMaxSize)
	}
	c := memberlist.DefaultLANConfig()
	c.Name = strconv.Itoa(int(meta.ID))
	c.BindAddr, c.BindPort = host, port
	c.AdvertisePort = port
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		c.AdvertiseAddr = host
	}
	// The LAN profile is tuned for a 1 s probe; scale it.
	scale := float64(probe) / float64(time.Second)
	dur := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	c.ProbeInterval = probe
	c.ProbeTimeout = dur(c.ProbeTimeout)
	c.GossipInterval = dur(c.GossipInterval)
	c.PushPullInterval = max(dur(c.PushPullInterval), probe)
	c.TCPTimeout = max(dur(c.TCPTimeout), 200*time.Millisecond)
	c.SuspicionMult = min(c.SuspicionMult, 3)
	c.Delegate = m
	c.Events = m
	c.Logger = stdlog.New(&memberlistLog{logger: logger, level: logLevel}, "", 0)
	ml, err := memberlist.Create(c)
	if err != nil {
		return nil, fmt.Errorf("start gossip on %s: %w", bindAddr, err)
	}
	m.ml = ml
	return m, nil
}

// addr returns the gossip address peers reach this broker at.
func (m *membership) addr() string {
	n := m.ml.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// joinLoop joins the cluster through seeds, retrying until one answers or
// ctx ends: seeds started at the same moment may not listen yet.
func (m *membership) joinLoop(ctx context.Context, seeds []string) {
	backoff := 100 * time.Millisecond
	start := time.Now()
	for {
		n, err := m.ml.Join(seeds)
		if n > 0 {
			m.logger.Info("joined cluster", "seeds", seeds, "members", m.ml.NumMembers())
			return
		}
		// Brokers started together wait for each other's listeners: that
		// is only worth a warning once it lasts.
		level := slog.LevelDebug
		if time.Since(start) > 10*time.Second {
			level = slog.LevelWarn
		}
		m.logger.Log(context.Background(), level, "join failed, retrying", "seeds", seeds, "err", strings.Join(strings.Fields(err.Error()), " "))
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// alive returns the live members by broker id, this broker included.
func (m *membership) alive() map[int32]member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[int32]member, len(m.mu.alive))
	for id, mb := range m.mu.alive {
		out[id] = mb
	}
	return out
}

func (m *membership) leave(timeout time.Duration) error { return m.ml.Leave(timeout) }
func (m *membership) shutdown() error                   { return m.ml.Shutdown() }

// memberlist.Delegate: only the node meta is used.

func (m *membership) NodeMeta(limit int) []byte           { return m.meta }
func (m *membership) NotifyMsg([]byte)                    {}
func (m *membership) GetBroadcasts(int, int) [][]byte     { return nil }
func (m *membership) LocalState(bool) []byte              { return nil }
func (m *membership) MergeRemoteState(buf []byte, _ bool) {}

// memberlist.EventDelegate. memberlist calls these from its own goroutines,
// serialised; they must not block.

func (m *membership) NotifyJoin(n *memberlist.Node)   { m.update(n, true) }
func (m *membership) NotifyUpdate(n *memberlist.Node) { m.update(n, true) }
func (m *membership) NotifyLeave(n *memberlist.Node)  { m.update(n, false) }

func (m *membership) update(n *memberlist.Node, alive bool) {
	var meta memberMeta
	if err := json.Unmarshal(n.Meta, &meta); err != nil || strconv.Itoa(int(meta.ID)) != n.Name {
		m.logger.Warn("gossip member with bad meta ignored", "member", n.Name, "err", err)
		return
	}
	m.mu.Lock()
	if alive {
		m.mu.alive[meta.ID] = member{memberMeta: meta, GossipAddr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))}
	} else {
		delete(m.mu.alive, meta.ID)
	}
	m.mu.Unlock()
	m.logger.Debug("gossip member changed", "node", meta.ID, "alive", alive)
	m.changed.Notify()
}

// memberlistLog bridges memberlist's standard-library log lines ("[WARN]
// memberlist: ...") to slog, dropping those below level.
type memberlistLog struct {
	logger *slog.Logger
	level  slog.Leveler
}

func (w *memberlistLog) Write(p []byte) (int, error) {
	line := string(bytes.TrimSpace(p))
	lvl := slog.LevelInfo
	switch {
	case bytes.Contains(p, []byte("[DEBUG]")):
		lvl = slog.LevelDebug
	case bytes.Contains(p, []byte("[WARN]")):
		lvl = slog.LevelWarn
	case bytes.Contains(p, []byte("[ERR]")):
		lvl = slog.LevelError
	}
	if lvl >= w.level.Level() {
		w.logger.Log(context.Background(), lvl, "gossip", "msg", line)
	}
	return len(p), nil
}
