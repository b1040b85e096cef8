package netns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// ErrClosed is returned by a Cluster's methods after Close.
var ErrClosed = errors.New("netns: cluster closed")

// HostID stands for the host (where clients run) in Reachable.
const HostID int32 = 0

// Cluster is a running cairn cluster, one network namespace per broker. Its
// methods are safe for concurrent use; those that change processes or the
// network run one at a time.
type Cluster struct {
	cfg  Config
	x    byte
	lock net.Listener // holds the subnet; see lockSubnet
	hc   *http.Client

	ops sync.Mutex     // serializes every action on processes and the network
	wg  sync.WaitGroup // one waiter per broker process ever started

	mu struct {
		sync.Mutex
		nodes  map[int32]*node
		closed bool
	}
}

// Start builds the network of cfg.Nodes brokers on subnet cfg.Subnet, starts
// them, and waits (at most cfg.ReadyTimeout) until every broker is ready and
// every broker sees every other registered. On error everything created so
// far is removed.
func Start(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var err error
	if cfg.Binary, err = filepath.Abs(cfg.Binary); err != nil {
		return nil, err
	}
	if cfg.Dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("netns: %w", err)
	}
	c := &Cluster{
		cfg: cfg,
		hc: &http.Client{
			Timeout:   2 * time.Second,
			Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		},
	}
	c.mu.nodes = make(map[int32]*node)
	if c.x, c.lock, err = pickSubnet(cfg.Subnet); err != nil {
		return nil, err
	}
	began := time.Now()
	if err := c.build(ctx); err != nil {
		if cerr := c.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close: %w", cerr))
		}
		return nil, fmt.Errorf("netns: start cluster on 10.77.%d.0/24: %w", c.x, err)
	}
	cfg.Logf("netns: %d nodes on 10.77.%d.0/24 ready in %v", cfg.Nodes, c.x, time.Since(began).Round(time.Millisecond))
	return c, nil
}

// pickSubnet locks subnet x, or the first free one of the auto range when x
// is zero.
func pickSubnet(x byte) (byte, net.Listener, error) {
	if x != 0 {
		ln, err := lockSubnet(x)
		return x, ln, err
	}
	for x := AutoSubnetMin; x <= AutoSubnetMax; x++ {
		ln, err := lockSubnet(byte(x))
		if err == nil {
			return byte(x), ln, nil
		}
		if !errors.Is(err, ErrSubnetInUse) {
			return 0, nil, err
		}
	}
	return 0, nil, fmt.Errorf("%w: every subnet in %d..%d", ErrSubnetInUse, AutoSubnetMin, AutoSubnetMax)
}

// build makes the network and starts the brokers. No one else has c yet, so
// it does not take c.ops.
func (c *Cluster) build(ctx context.Context) error {
	if err := cleanup(ctx, c.x); err != nil {
		return fmt.Errorf("remove leftovers: %w", err)
	}
	if err := setupBridge(ctx, c.x); err != nil {
		return err
	}
	if backends, err := addForwardRules(ctx, c.x); err != nil {
		return err
	} else if len(backends) > 0 {
		c.cfg.Logf("netns: br_netfilter is on: FORWARD accepts %s in %v", bridgeName(c.x), backends)
	}
	for id := int32(1); id <= int32(c.cfg.Nodes); id++ {
		if err := setupNode(ctx, c.x, id); err != nil {
			return err
		}
		c.mu.Lock()
		c.mu.nodes[id] = &node{id: id, status: Stopped}
		c.mu.Unlock()
	}
	if err := c.checkConnectivity(ctx); err != nil {
		return err
	}
	for id := int32(1); id <= int32(c.cfg.Nodes); id++ {
		if err := c.start(id); err != nil {
			return err
		}
	}
	return c.WaitReady(ctx)
}

// checkConnectivity opens TCP connections into node 1's namespace from the
// host and from node 2's, before any broker runs: a firewall dropping our
// bridged frames shows up here rather than as a cluster that never forms.
func (c *Cluster) checkConnectivity(ctx context.Context) error {
	addr := c.addrPort(1, KafkaPort)
	ln, err := listenIn(nsName(c.x, 1), addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	conn, err := dialFrom(ctx, "", addr)
	if err != nil {
		return fmt.Errorf("host cannot reach node 1 through %s: %w", bridgeName(c.x), err)
	}
	conn.Close()
	if c.cfg.Nodes < 2 {
		return nil
	}
	conn, err = dialFrom(ctx, nsName(c.x, 2), addr)
	if err != nil {
		return fmt.Errorf("node 2 cannot reach node 1 through %s (bridged frames filtered? check br_netfilter and iptables FORWARD): %w", bridgeName(c.x), err)
	}
	conn.Close()
	return nil
}

// Close kills every broker (SIGKILL) and removes every namespace, link and
// firewall rule of the cluster. Data directories and logs stay. Close is
// idempotent; after it every other method returns ErrClosed.
func (c *Cluster) Close() error {
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil
	}
	c.mu.closed = true
	var procs []*process
	for _, n := range c.mu.nodes {
		if n.proc != nil {
			procs = append(procs, n.proc)
		}
		if n.status == Running || n.status == Paused {
			n.status = Killed // before the signal: not a crash
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, p := range procs {
		if err := p.kill(); err != nil {
			errs = append(errs, err)
		}
	}
	waited := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(waited)
	}()
	select {
	case <-waited:
	case <-time.After(15 * time.Second):
		errs = append(errs, errors.New("broker processes did not exit within 15s of SIGKILL"))
	}
	if c.lock != nil {
		errs = append(errs, cleanup(context.Background(), c.x))
		c.lock.Close()
	}
	return errors.Join(errs...)
}

// Subnet returns X of the cluster's 10.77.X.0/24.
func (c *Cluster) Subnet() byte { return c.x }

// Addr returns node id's address.
func (c *Cluster) Addr(id int32) netip.Addr { return nodeAddr(c.x, id) }

// HostAddr returns the host's address on the cluster's bridge.
func (c *Cluster) HostAddr() netip.Addr { return hostAddr(c.x) }

// Namespace returns the name of node id's network namespace.
func (c *Cluster) Namespace(id int32) string { return nsName(c.x, id) }

// DataDir returns node id's data directory.
func (c *Cluster) DataDir(id int32) string {
	return filepath.Join(c.cfg.Dir, "node"+strconv.Itoa(int(id)))
}

// LogPath returns the file node id's output is appended to.
func (c *Cluster) LogPath(id int32) string {
	return filepath.Join(c.cfg.Dir, "node"+strconv.Itoa(int(id))+".log")
}

func (c *Cluster) addrPort(id int32, port uint16) string {
	return netip.AddrPortFrom(nodeAddr(c.x, id), port).String()
}

// KafkaAddr returns node id's Kafka address.
func (c *Cluster) KafkaAddr(id int32) string { return c.addrPort(id, KafkaPort) }

// HTTPAddr returns node id's admin HTTP address.
func (c *Cluster) HTTPAddr(id int32) string { return c.addrPort(id, HTTPPort) }

// Nodes returns the IDs of the cluster's nodes, whatever their state, except
// removed ones; ascending.
func (c *Cluster) Nodes() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []int32
	for id, n := range c.mu.nodes {
		if n.status != Removed {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Brokers returns the Kafka addresses of Nodes(), for clients' seed lists.
func (c *Cluster) Brokers() []string {
	var addrs []string
	for _, id := range c.Nodes() {
		addrs = append(addrs, c.KafkaAddr(id))
	}
	return addrs
}

// Status returns node id's process state; Removed for an unknown id.
func (c *Cluster) Status(id int32) Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.mu.nodes[id]; ok {
		return n.status
	}
	return Removed
}

// Reachable reports whether a TCP connection from node from (HostID: the
// host) to node to's internal port opens within 2 s, through the cuts in
// place. A node whose broker does not listen (killed, stopped) is
// unreachable; a paused one is reachable, as its kernel still answers.
func (c *Cluster) Reachable(ctx context.Context, from, to int32) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	ns := ""
	if from != HostID {
		ns = nsName(c.x, from)
	}
	conn, err := dialFrom(ctx, ns, c.addrPort(to, InternalPort))
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// AddNode creates a namespace for a new node (ID one above the highest ever
// used), starts a broker there joining the others, and waits until the whole
// cluster is ready. Assigning it partitions is the caller's business.
func (c *Cluster) AddNode(ctx context.Context) (int32, error) {
	c.ops.Lock()
	defer c.ops.Unlock()
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	id := int32(1)
	for have := range c.mu.nodes {
		id = max(id, have+1)
	}
	c.mu.Unlock()
	if id > MaxNodeID {
		return 0, fmt.Errorf("netns: add node: IDs exhausted (max %d)", MaxNodeID)
	}
	if err := setupNode(ctx, c.x, id); err != nil {
		return 0, errors.Join(fmt.Errorf("netns: add node %d: %w", id, err), teardownNode(ctx, c.x, id))
	}
	c.mu.Lock()
	c.mu.nodes[id] = &node{id: id, status: Stopped}
	c.mu.Unlock()
	c.cfg.Logf("netns: add node %d", id)
	if err := c.start(id); err != nil {
		return id, err
	}
	return id, c.WaitReady(ctx)
}

// RemoveNode stops node id (SIGTERM) and removes its namespace; its data
// directory stays. Decommissioning it in the metadata is the caller's
// business, before or after.
func (c *Cluster) RemoveNode(ctx context.Context, id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	if err := c.stop(ctx, id); err != nil {
		return err
	}
	c.cfg.Logf("netns: remove node %d", id)
	if err := teardownNode(ctx, c.x, id); err != nil {
		return fmt.Errorf("netns: remove node %d: %w", id, err)
	}
	c.mu.Lock()
	c.mu.nodes[id].status = Removed
	c.mu.Unlock()
	return nil
}
