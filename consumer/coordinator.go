package consumer

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// Coordinator is the group coordinator of one broker: the membership of
// every classic consumer group (in memory) and their committed offsets
// (through an OffsetStore). The cluster makes one while its broker leads
// the metadata group and closes it when leadership moves; a new one starts
// with every group Empty, and the members rejoin.
//
// Its methods are safe for concurrent use. Join and Sync answer through a
// done callback, called exactly once, either before they return or later
// from another goroutine (a timer, another member's request); done runs
// with the group's lock held, so it must not block or call the Coordinator.
// After Close every method fails with ErrNotCoordinator.
type Coordinator struct {
	cfg    Config
	store  OffsetStore
	clock  Clock
	logger *slog.Logger

	// timers counts armed timers: Add when armed, Done when stopped before
	// firing or when the callback returns. Close waits for it.
	timers sync.WaitGroup

	// The committer (committer.go): queue feeds commitLoop; senders counts
	// Commit calls that may still send on queue; ctx ends at Close and
	// aborts the store write in flight.
	queue   chan *commitReq
	closing chan struct{}
	senders sync.WaitGroup
	loops   sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc

	mu struct {
		sync.Mutex
		groups map[string]*group // groups with members (or members-to-be)
		closed bool
	}
}

// New returns a running Coordinator over store. It panics on an invalid cfg
// (a programming error of the caller, who should Validate it first).
func New(cfg Config, store OffsetStore) *Coordinator {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Coordinator{
		cfg:     cfg,
		store:   store,
		clock:   cfg.Clock,
		logger:  cfg.Logger,
		queue:   make(chan *commitReq, cfg.CommitQueue),
		closing: make(chan struct{}),
		ctx:     ctx,
		cancel:  cancel,
	}
	c.mu.groups = map[string]*group{}
	c.loops.Add(1)
	go func() {
		defer c.loops.Done()
		c.commitLoop()
	}()
	return c
}

// Config returns the configuration in force, defaults filled in.
func (c *Coordinator) Config() Config { return c.cfg }

// Close ends the coordinator: waiting JoinGroup and SyncGroup requests and
// queued commits are answered with ErrNotCoordinator, the store write in
// flight is cancelled, and every goroutine and timer has ended when Close
// returns. Membership is dropped; committed offsets stay in the store.
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return
	}
	c.mu.closed = true
	groups := make([]*group, 0, len(c.mu.groups))
	for _, g := range c.mu.groups {
		groups = append(groups, g)
	}
	c.mu.groups = map[string]*group{}
	c.mu.Unlock()

	close(c.closing)
	c.cancel()
	for _, g := range groups {
		g.mu.Lock()
		g.shutdown(c)
		g.mu.Unlock()
	}
	c.senders.Wait()
	close(c.queue)
	c.loops.Wait()
	c.timers.Wait()
}

// lockGroup returns group id locked, creating it if create is set; nil (and
// no error) if it does not exist and create is not set. The caller unlocks
// it with unlockGroup.
func (c *Coordinator) lockGroup(id string, create bool) (*group, error) {
	for {
		c.mu.Lock()
		if c.mu.closed {
			c.mu.Unlock()
			return nil, ErrNotCoordinator
		}
		g := c.mu.groups[id]
		if g == nil {
			if !create {
				c.mu.Unlock()
				return nil, nil
			}
			g = newGroup(id)
			c.mu.groups[id] = g
		}
		c.mu.Unlock()
		g.mu.Lock()
		if g.state != Dead {
			return g, nil
		}
		// Removed (emptied) since we looked it up: look again.
		g.mu.Unlock()
	}
}

// unlockGroup unlocks g and forgets it if it has no members left: an empty
// group's only state is its committed offsets, which the store keeps.
func (c *Coordinator) unlockGroup(g *group) {
	empty := g.empty()
	g.mu.Unlock()
	if !empty {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.mu.groups[g.id] != g {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.empty() {
		g.shutdown(c)
		delete(c.mu.groups, g.id)
	}
}

// afterFunc arms a timer counted in c.timers.
func (c *Coordinator) afterFunc(d time.Duration, f func()) Timer {
	c.timers.Add(1)
	return countedTimer{c.clock.AfterFunc(d, func() {
		defer c.timers.Done()
		f()
	}), &c.timers}
}

type countedTimer struct {
	t  Timer
	wg *sync.WaitGroup
}

func (t countedTimer) Stop() bool {
	if t.t.Stop() {
		t.wg.Done()
		return true
	}
	return false
}

// stopTimer stops *t if set and clears it.
func stopTimer(t *Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// newMemberID returns prefix-<uuid>, as Kafka names members.
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// GroupDescription is a group as DescribeGroups reports it.
type GroupDescription struct {
	Group        string
	State        State
	ProtocolType string
	Protocol     string // "" unless Stable
	Members      []MemberDescription
}

// MemberDescription is one member of a described group.
type MemberDescription struct {
	MemberID   string
	InstanceID string // "" for a dynamic member
	ClientID   string
	ClientHost string
	Metadata   []byte // the member's metadata for the group's protocol (Stable only)
	Assignment []byte // the member's assignment (Stable only)
}

// Describe returns a group's state and members. A group with no members is
// Empty if it has committed offsets, else Dead (Kafka's answer for a group
// it does not know).
func (c *Coordinator) Describe(id string) (GroupDescription, error) {
	g, err := c.lockGroup(id, false)
	if err != nil {
		return GroupDescription{}, err
	}
	if g == nil {
		d := GroupDescription{Group: id, State: Dead}
		if len(c.store.Offsets(id)) > 0 {
			d.State = Empty
		}
		return d, nil
	}
	defer c.unlockGroup(g)
	return g.describe(), nil
}

// GroupListing is one group as ListGroups reports it.
type GroupListing struct {
	Group        string
	State        State
	ProtocolType string // "" for a group known only by its offsets
}

// List returns every group with members or committed offsets, by name.
func (c *Coordinator) List() ([]GroupListing, error) {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return nil, ErrNotCoordinator
	}
	groups := make([]*group, 0, len(c.mu.groups))
	for _, g := range c.mu.groups {
		groups = append(groups, g)
	}
	c.mu.Unlock()
	seen := make(map[string]bool, len(groups))
	var out []GroupListing
	for _, g := range groups {
		g.mu.Lock()
		if g.state != Dead {
			out = append(out, GroupListing{Group: g.id, State: g.state, ProtocolType: g.protocolType})
			seen[g.id] = true
		}
		g.mu.Unlock()
	}
	for _, id := range c.store.Groups() {
		if !seen[id] {
			out = append(out, GroupListing{Group: id, State: Empty})
		}
	}
	slices.SortFunc(out, func(a, b GroupListing) int {
		switch {
		case a.Group < b.Group:
			return -1
		case a.Group > b.Group:
			return 1
		}
		return 0
	})
	return out, nil
}

// Delete deletes a group with no members: its committed offsets.
// ErrNonEmptyGroup, ErrGroupNotFound, or the store's error. A member joining
// while the offsets are being deleted finds none.
func (c *Coordinator) Delete(ctx context.Context, id string) error {
	g, err := c.lockGroup(id, false)
	if err != nil {
		return err
	}
	if g != nil {
		live := len(g.members) > 0
		c.unlockGroup(g)
		if live {
			return ErrNonEmptyGroup
		}
	}
	if len(c.store.Offsets(id)) == 0 {
		return ErrGroupNotFound
	}
	if err := c.store.Delete(ctx, id, nil); err != nil {
		return fmt.Errorf("delete offsets of group %s: %w", id, err)
	}
	c.logger.Info("group deleted", "group", id)
	return nil
}

// DeleteOffsets deletes a group's committed offsets of some partitions
// (OffsetDelete). A group with members keeps those of the topics its
// members subscribe to (ErrSubscribedToTopic in the returned map); a group
// with members and a protocol type other than "consumer" keeps them all
// (ErrNonEmptyGroup). ErrGroupNotFound when the group has neither members
// nor offsets.
func (c *Coordinator) DeleteOffsets(ctx context.Context, id string, partitions []TopicPartition) (map[TopicPartition]error, error) {
	g, err := c.lockGroup(id, false)
	if err != nil {
		return nil, err
	}
	refused := map[TopicPartition]error{}
	eligible := partitions
	if g != nil {
		if len(g.members) > 0 {
			if g.protocolType != ConsumerProtocolType {
				c.unlockGroup(g)
				return nil, ErrNonEmptyGroup
			}
			topics, known := g.subscribedTopics()
			eligible = nil
			for _, tp := range partitions {
				if !known || topics[tp.Topic] {
					refused[tp] = ErrSubscribedToTopic
				} else {
					eligible = append(eligible, tp)
				}
			}
		}
		c.unlockGroup(g)
	} else if len(c.store.Offsets(id)) == 0 {
		return nil, ErrGroupNotFound
	}
	if len(eligible) > 0 {
		if err := c.store.Delete(ctx, id, eligible); err != nil {
			return nil, fmt.Errorf("delete offsets of group %s: %w", id, err)
		}
	}
	return refused, nil
}
