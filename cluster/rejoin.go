package cluster

import (
	"context"
	"slices"
	"time"
)

// rejoinLoop keeps the gossip cluster whole. memberlist stops contacting a
// member it declared dead once GossipToTheDeadTime has passed, and pushes
// state only to members it thinks alive, so a broker cut off for longer
// than that (a network partition, a long pause) stayed apart from the others
// until a chance push-pull found it: tens of seconds with every broker up. And a
// broker whose seeds answered before the founding broker listened formed an
// island without it. So every few probe intervals this joins again the
// gossip addresses of the brokers the metadata holds (not decommissioned)
// that gossip does not see, and, while this broker knows no metadata leader,
// its --join seeds.
func (b *Broker) rejoinLoop(ctx context.Context, seeds []string) {
	t := time.NewTicker(5 * b.cfg.ProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		alive := b.members.alive()
		var addrs []string
		b.meta.fsm.view(func(s *metaState) {
			for id, r := range s.Brokers {
				if _, ok := alive[id]; !ok && id != b.id && r.State != BrokerLeft && r.GossipAddr != "" {
					addrs = append(addrs, r.GossipAddr)
				}
			}
		})
		if b.ControllerID() < 0 {
			addrs = append(addrs, seeds...)
		}
		if len(addrs) == 0 {
			continue
		}
		slices.Sort(addrs)
		addrs = slices.Compact(addrs)
		if n, err := b.members.ml.Join(addrs); n > 0 {
			b.logger.Info("rejoined gossip members", "addrs", addrs, "joined", n)
		} else {
			b.logger.Debug("rejoin found no member", "addrs", addrs, "err", err)
		}
	}
}
