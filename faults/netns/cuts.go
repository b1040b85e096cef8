package netns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Network faults add to the cuts in place; Heal removes them all. See the
// package doc, Cuts, for how a cut is made.

// cutSet is the addresses to add to each node's "in" and "out" sets.
type cutSet map[int32]*struct{ in, out []netip.Addr }

func (s cutSet) add(id int32, in, out []netip.Addr) {
	e := s[id]
	if e == nil {
		e = &struct{ in, out []netip.Addr }{}
		s[id] = e
	}
	e.in = append(e.in, in...)
	e.out = append(e.out, out...)
}

// peers cuts a from b, both ways.
func (c *Cluster) peers(s cutSet, a, b int32) {
	s.add(a, []netip.Addr{nodeAddr(c.x, b)}, nil)
	s.add(b, []netip.Addr{nodeAddr(c.x, a)}, nil)
}

// apply adds s to the namespaces' sets, one nft call per namespace.
func (c *Cluster) apply(s cutSet) error {
	ctx := context.Background()
	var errs []error
	for id, e := range s {
		var script strings.Builder
		for _, set := range []struct {
			name  string
			addrs []netip.Addr
		}{{"in", e.in}, {"out", e.out}} {
			if len(set.addrs) == 0 {
				continue
			}
			elems := make([]string, len(set.addrs))
			for i, a := range set.addrs {
				elems[i] = a.String()
			}
			fmt.Fprintf(&script, "add element inet cairn %s { %s }\n", set.name, strings.Join(elems, ", "))
		}
		if err := inNS(ctx, nsName(c.x, id), script.String(), "nft", "-f", "-"); err != nil {
			errs = append(errs, fmt.Errorf("netns: cut at node %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// healNetwork flushes every namespace's sets; the caller holds c.ops.
func (c *Cluster) healNetwork() error {
	ctx := context.Background()
	var errs []error
	for _, id := range c.Nodes() {
		err := inNS(ctx, nsName(c.x, id), "flush set inet cairn in\nflush set inet cairn out\n", "nft", "-f", "-")
		if err != nil {
			errs = append(errs, fmt.Errorf("netns: heal node %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// known returns an error unless every id is a distinct live node.
func (c *Cluster) known(ids ...int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make(map[int32]bool)
	for _, id := range ids {
		if _, err := c.get(id); err != nil {
			return err
		}
		if seen[id] {
			return fmt.Errorf("netns: node %d given twice", id)
		}
		seen[id] = true
	}
	return nil
}

// Isolate cuts node id from every other node, both ways. The host still
// reaches it (see CutClient).
func (c *Cluster) Isolate(id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	if err := c.known(id); err != nil {
		return err
	}
	s := cutSet{}
	for _, other := range c.Nodes() {
		if other != id {
			c.peers(s, id, other)
		}
	}
	c.cfg.Logf("netns: isolate node %d", id)
	return c.apply(s)
}

// PartitionGroups cuts every node from every node of another group, both
// ways, e.g. {{1, 2}, {3}} for a majority and a minority. A node in no group
// is cut from every other node. Nodes of one group still talk, and the host
// still reaches every node.
func (c *Cluster) PartitionGroups(groups [][]int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	if err := c.known(slices.Concat(groups...)...); err != nil {
		return err
	}
	group := make(map[int32]int)
	for i, g := range groups {
		for _, id := range g {
			group[id] = i + 1
		}
	}
	nodes := c.Nodes()
	s := cutSet{}
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			if ga, gb := group[a], group[b]; ga == 0 || ga != gb {
				c.peers(s, a, b)
			}
		}
	}
	c.cfg.Logf("netns: partition %v", groups)
	return c.apply(s)
}

// Bridge cuts a from c both ways; b still talks to both, so it bridges
// them. Other nodes are not affected.
func (c *Cluster) Bridge(a, b, cc int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	if err := c.known(a, b, cc); err != nil {
		return err
	}
	s := cutSet{}
	c.peers(s, a, cc)
	c.cfg.Logf("netns: bridge %d-%d-%d", a, b, cc)
	return c.apply(s)
}

// CutClient cuts node id from the host, both ways: clients on the host no
// longer reach it, while it still talks to the other nodes.
func (c *Cluster) CutClient(id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	if err := c.known(id); err != nil {
		return err
	}
	host := []netip.Addr{hostAddr(c.x)}
	s := cutSet{}
	s.add(id, host, host)
	c.cfg.Logf("netns: cut client from node %d", id)
	return c.apply(s)
}
