package netns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Fault names, as passed to a Nemesis's record function.
const (
	FaultNone       = "none"       // this step injects nothing
	FaultHeal       = "heal"       // detail: the faults undone
	FaultCrash      = "crash"      // a broker exited without being signalled
	FaultNotReady   = "not-ready"  // the healed cluster did not settle: no new faults this step
	FaultError      = "error"      // applying a fault failed; detail says which and why
	FaultKill       = "kill"       // SIGKILL; restarted by the next heal
	FaultPause      = "pause"      // SIGSTOP; continued by the next heal
	FaultTransfer   = "transfer"   // SIGTERM (hands leaderships over) and immediate restart
	FaultIsolate    = "isolate"    // one node cut from every other
	FaultPartition  = "partition"  // a majority and a minority
	FaultBridge     = "bridge"     // a-b-c: a and c cut from each other, b sees both
	FaultClientCut  = "client-cut" // the host cut from one node
	FaultMembership = "membership" // the Membership hook: detail "start", then the hook's own
	FaultCorrupt    = "corrupt"    // the Corrupt hook: detail "start", then the hook's own
)

// DefaultSettle is Nemesis.Settle's default.
const DefaultSettle = 30 * time.Second

// Membership changes the cluster's membership (add a node and move
// partitions to it, decommission one, ...) and describes what it did. A
// Nemesis calls it from Step, with Step's context and random source; faults
// are healed when it runs. The change is not undone by later heals.
type Membership func(ctx context.Context, rng *rand.Rand) (detail string, err error)

// Corrupt damages a broker's stored data (stop it, change its files, start
// it again) and describes what it did. Like Membership, a Nemesis calls it
// from Step with faults healed, and nothing undoes it: the cluster must.
type Corrupt func(ctx context.Context, rng *rand.Rand) (detail string, err error)

// target is what a Nemesis needs of a Cluster.
type target interface {
	Nodes() []int32
	Status(id int32) Status
	Heal() error
	WaitReady(ctx context.Context) error
	Kill(id int32) error
	Pause(id int32) error
	Restart(ctx context.Context, id int32) error
	Isolate(id int32) error
	PartitionGroups(groups [][]int32) error
	Bridge(a, b, c int32) error
	CutClient(id int32) error
}

// Nemesis injects random fault sets into a Cluster, one set per Step. It is
// driven by one goroutine (Step is not safe for concurrent use).
//
// Each Step first heals the previous set, then picks independently
// a process fault, on 1..(n-1)/2 distinct nodes of n:
//
//	none 40%, kill 25%, pause 20%, transfer 15%
//
// and a network fault:
//
//	none 40%, isolate 15%, partition 20% (a random minority of 1..(n-1)/2
//	nodes against the rest), bridge 10% (n >= 3), client-cut 15%
//
// or, one step in eight when Membership is set, only a membership change,
// and one step in eight when Corrupt is set, only a corruption.
// So at most a minority of brokers is down at once; a network fault may
// still cut anyone off.
type Nemesis struct {
	// Membership, when not nil, is among the faults Step picks.
	Membership Membership
	// Corrupt, when not nil, is among the faults Step picks.
	Corrupt Corrupt
	// Settle bounds Step's wait, after healing, for every broker to be
	// ready; when it passes, Step records FaultNotReady and injects nothing.
	// Default DefaultSettle.
	Settle time.Duration

	c      target
	rng    *rand.Rand
	rec    func(fault, detail string)
	active []string // the faults in place, for the next heal's record
}

// NewNemesis returns a Nemesis for c, drawing from rng and calling rec for
// every action it takes (before taking it), every heal and every crash it
// notices.
func NewNemesis(c *Cluster, rng *rand.Rand, rec func(fault, detail string)) *Nemesis {
	return newNemesis(c, rng, rec)
}

func newNemesis(c target, rng *rand.Rand, rec func(fault, detail string)) *Nemesis {
	return &Nemesis{c: c, rng: rng, rec: rec, Settle: DefaultSettle}
}

// pick returns a name by weight.
func (n *Nemesis) pick(choices ...weighted) string {
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	r := n.rng.IntN(total)
	for _, c := range choices {
		if r < c.weight {
			return c.name
		}
		r -= c.weight
	}
	panic("unreachable")
}

type weighted struct {
	name   string
	weight int
}

// Step heals the faults in place, waits for the cluster to settle, and
// injects a new random fault set. It returns the first error applying a
// fault (also recorded as FaultError); the next Step heals what was applied.
func (n *Nemesis) Step(ctx context.Context) error {
	if err := n.heal(); err != nil {
		return err
	}
	settle := n.Settle
	if settle <= 0 {
		settle = DefaultSettle
	}
	sctx, cancel := context.WithTimeout(ctx, settle)
	err := n.c.WaitReady(sctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n.rec(FaultNotReady, err.Error())
		return nil
	}

	if n.Membership != nil && n.rng.IntN(8) == 0 {
		n.rec(FaultMembership, "start")
		detail, err := n.Membership(ctx, n.rng)
		if err != nil {
			return n.fail(FaultMembership, err)
		}
		n.rec(FaultMembership, detail)
		return nil
	}

	nodes := n.c.Nodes()
	if n.Corrupt != nil && n.rng.IntN(8) == 0 {
		n.rec(FaultCorrupt, "start")
		detail, err := n.Corrupt(ctx, n.rng)
		if err != nil {
			return n.fail(FaultCorrupt, err)
		}
		n.rec(FaultCorrupt, detail)
		return nil
	}

	budget := (len(nodes) - 1) / 2
	proc := FaultNone
	if budget > 0 {
		proc = n.pick(weighted{FaultNone, 40}, weighted{FaultKill, 25}, weighted{FaultPause, 20}, weighted{FaultTransfer, 15})
	}
	bridgeWeight := 0
	if len(nodes) >= 3 {
		bridgeWeight = 10
	}
	netw := FaultNone
	if len(nodes) >= 2 {
		netw = n.pick(weighted{FaultNone, 40}, weighted{FaultIsolate, 15}, weighted{FaultPartition, 20},
			weighted{FaultBridge, bridgeWeight}, weighted{FaultClientCut, 15})
	}
	if proc == FaultNone && netw == FaultNone {
		n.rec(FaultNone, "")
		return nil
	}
	if proc != FaultNone {
		victims := n.shuffled(nodes)[:1+n.rng.IntN(budget)]
		for _, id := range victims {
			if err := n.process(ctx, proc, id); err != nil {
				return err
			}
		}
	}
	if netw != FaultNone {
		return n.network(netw, nodes)
	}
	return nil
}

// Heal undoes the faults in place, recording them, and waits until the
// cluster is ready (at most Config.ReadyTimeout): the end of a campaign,
// before the final read-back.
func (n *Nemesis) Heal(ctx context.Context) error {
	if err := n.heal(); err != nil {
		return err
	}
	if err := n.c.WaitReady(ctx); err != nil {
		n.rec(FaultNotReady, err.Error())
		return err
	}
	return nil
}

// heal records crashes and the faults in place, and heals the cluster; it
// heals even when no fault is in place, restarting crashed brokers.
func (n *Nemesis) heal() error {
	for _, id := range n.c.Nodes() {
		if n.c.Status(id) == Exited {
			n.rec(FaultCrash, fmt.Sprintf("node %d", id))
		}
	}
	if len(n.active) > 0 {
		n.rec(FaultHeal, strings.Join(n.active, "; "))
		n.active = n.active[:0]
	}
	if err := n.c.Heal(); err != nil {
		return n.fail(FaultHeal, err)
	}
	return nil
}

// process applies process fault f to node id.
func (n *Nemesis) process(ctx context.Context, f string, id int32) error {
	detail := fmt.Sprintf("node %d", id)
	n.rec(f, detail)
	var err error
	switch f {
	case FaultKill:
		err = n.c.Kill(id)
	case FaultPause:
		err = n.c.Pause(id)
	case FaultTransfer:
		err = n.c.Restart(ctx, id)
	}
	if f != FaultTransfer {
		// A transfer is over when Restart returns; the others last until
		// the heal (and need one even after an error: a kill may have
		// happened though waiting for it failed).
		n.active = append(n.active, f+" "+detail)
	}
	if err != nil {
		return n.fail(f, err)
	}
	return nil
}

// network applies network fault f.
func (n *Nemesis) network(f string, nodes []int32) error {
	order := n.shuffled(nodes)
	var (
		detail string
		apply  func() error
	)
	switch f {
	case FaultIsolate:
		detail = fmt.Sprintf("node %d", order[0])
		apply = func() error { return n.c.Isolate(order[0]) }
	case FaultPartition:
		k := 1 + n.rng.IntN(max(1, (len(nodes)-1)/2))
		minority, majority := order[:k], order[k:]
		detail = fmt.Sprintf("%v | %v", majority, minority)
		apply = func() error { return n.c.PartitionGroups([][]int32{majority, minority}) }
	case FaultBridge:
		detail = fmt.Sprintf("%d-%d-%d (%d and %d cut)", order[0], order[1], order[2], order[0], order[2])
		apply = func() error { return n.c.Bridge(order[0], order[1], order[2]) }
	case FaultClientCut:
		detail = fmt.Sprintf("node %d", order[0])
		apply = func() error { return n.c.CutClient(order[0]) }
	default:
		panic("netns: unknown network fault " + f)
	}
	n.rec(f, detail)
	n.active = append(n.active, f+" "+detail)
	if err := apply(); err != nil {
		return n.fail(f, err)
	}
	return nil
}

// shuffled returns a shuffled copy of ids.
func (n *Nemesis) shuffled(ids []int32) []int32 {
	s := append([]int32(nil), ids...)
	n.rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
	return s
}

// fail records err as a FaultError of fault f and returns it.
func (n *Nemesis) fail(f string, err error) error {
	n.rec(FaultError, f+": "+err.Error())
	return fmt.Errorf("netns: nemesis %s: %w", f, err)
}
