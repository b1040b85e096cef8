package cluster

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/raft"
)

// The controller runs on every broker but acts only on the metadata leader.
// Each pass (on a gossip change, a metadata change, a change of metadata
// leadership, and every ReconcileEvery):
//
//   - gives the cluster its id, once;
//   - registers the brokers gossip reports alive (again when their addresses
//     change), and fences the registered ones gossip no longer reports: a
//     fenced broker keeps its replicas and its vote but gets no new
//     partitions;
//   - keeps the metadata group's membership: every broker not left is a member
//     (a non-voter first), voters are up to MetadataVoters (five with five
//     brokers or more), a left broker is removed, and a caught-up live
//     non-voter is promoted while voters are missing. Gossip alone never
//     removes a voter: dead is not left.
//
// Placement is not here: the metadata FSM places a topic's partitions when
// it applies the command (placement.go), over the registered brokers.
func (b *Broker) runController(ctx context.Context) {
	tick := time.NewTicker(b.cfg.ReconcileEvery)
	defer tick.Stop()
	for {
		memCh, leadCh := b.members.changed.C(), b.metaLeader.C()
		_, metaCh := b.meta.fsm.watch()
		if b.meta.group.IsLeader() && !b.stopping.Load() {
			b.controllerPass(ctx)
		}
		select {
		case <-memCh:
		case <-metaCh:
		case <-leadCh:
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func (b *Broker) controllerPass(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var clusterID string
	brokers := map[int32]BrokerRecord{}
	b.meta.fsm.view(func(s *metaState) {
		clusterID = s.ClusterID
		for id, r := range s.Brokers {
			brokers[id] = *r
		}
	})
	propose := func(typ cmdType, body any) bool {
		if _, err := b.meta.propose(ctx, encodeCommand(typ, body)); err != nil {
			b.logger.Warn("controller command failed", "type", typ, "err", err)
			return false
		}
		return true
	}
	if clusterID == "" {
		propose(cmdInit, cmdInitBody{ClusterID: newUUID().String()})
	}
	alive := b.members.alive()
	for _, id := range slices.Sorted(maps.Keys(alive)) {
		m := alive[id]
		want := BrokerRecord{ID: id, KafkaAddr: m.KafkaAddr, InternalAddr: m.InternalAddr, GossipAddr: m.GossipAddr, Rack: m.Rack, State: BrokerRegistered, Listeners: m.Listeners}
		cur, ok := brokers[id]
		if ok && cur.State == BrokerLeft {
			continue // decommissioned: stays out until an admin says otherwise
		}
		if !ok || !cur.equal(want) {
			if propose(cmdRegisterBroker, want) {
				b.logger.Info("broker registered", "broker", id, "kafka", FormatEndpoints(want.endpoints()), "internal", want.InternalAddr)
				brokers[id] = want
			}
		}
	}
	for _, id := range slices.Sorted(maps.Keys(brokers)) {
		if _, ok := alive[id]; !ok && brokers[id].State == BrokerRegistered {
			if propose(cmdBrokerState, cmdBrokerStateBody{ID: id, State: BrokerFenced}) {
				b.logger.Info("broker fenced", "broker", id)
				r := brokers[id]
				r.State = BrokerFenced
				brokers[id] = r
			}
		}
	}
	b.reconcileMetaVoters(ctx, brokers, alive)
}

// reconcileMetaVoters makes one step at a time towards the wanted metadata
// group membership; the next pass makes the next. The order keeps a quorum:
// a new voter is promoted before a left one is removed, so that taking a
// voter out never leaves a group whose remaining voters include a dead one
// and cannot commit the next change.
func (b *Broker) reconcileMetaVoters(ctx context.Context, brokers map[int32]BrokerRecord, alive map[int32]member) {
	g := b.meta.group
	servers, err := g.Configuration(ctx)
	if err != nil {
		b.logger.Warn("metadata configuration", "err", err)
		return
	}
	inConfig := map[int32]raft.Server{}
	for _, s := range servers {
		id, err := strconv.ParseInt(string(s.ID), 10, 32)
		if err == nil {
			inConfig[int32(id)] = s
		}
	}
	left := func(id int32) bool { r, ok := brokers[id]; return ok && r.State == BrokerLeft }
	var members []int32 // brokers that should be in the group
	for id := range brokers {
		if !left(id) {
			members = append(members, id)
		}
	}
	slices.Sort(members)
	// 1. Every live broker joins as a non-voter.
	for _, id := range members {
		if _, ok := inConfig[id]; ok {
			continue
		}
		if _, ok := alive[id]; !ok {
			continue
		}
		if err := g.AddNonvoter(ctx, strconv.Itoa(int(id)), brokers[id].InternalAddr); err != nil {
			b.logger.Warn("add metadata non-voter", "broker", id, "err", err)
			return
		}
		b.logger.Info("metadata non-voter added", "broker", id)
		return
	}
	// 2. Promote caught-up live non-voters while voters (not counting left
	// brokers) are missing.
	want := b.cfg.MetadataVoters
	if len(members) >= 5 {
		want = max(want, 5)
	}
	want = min(want, len(members))
	voters := 0
	for id, s := range inConfig {
		if s.Suffrage == raft.Voter && !left(id) {
			voters++
		}
	}
	if voters < want {
		leaderCommit := g.Status().CommitIndex
		for _, id := range members {
			s, ok := inConfig[id]
			if !ok || s.Suffrage == raft.Voter {
				continue
			}
			if _, ok := alive[id]; !ok {
				continue
			}
			st, err := b.node.PeerStatus(ctx, string(s.Address), metaGroupID)
			if err != nil || st.AppliedIndex+metaPromoteSlack < leaderCommit {
				continue // not caught up yet: the next pass looks again
			}
			if err := g.AddVoter(ctx, string(s.ID), string(s.Address)); err != nil {
				b.logger.Warn("promote metadata voter", "broker", id, "err", err)
				return
			}
			b.logger.Info("metadata voter promoted", "broker", id)
			return
		}
	}
	// 3. A decommissioned broker leaves the group, once no promotion is
	// pending (or none is possible).
	for _, id := range slices.Sorted(maps.Keys(inConfig)) {
		if left(id) {
			b.logger.Info("metadata member removed", "broker", id)
			if err := g.RemoveServer(ctx, string(inConfig[id].ID)); err != nil {
				b.logger.Warn("remove metadata member", "broker", id, "err", err)
			}
			return
		}
	}
}

// metaPromoteSlack: a non-voter this many entries behind the leader's
// commit index counts as caught up (the metadata log moves slowly, and a
// voter a few entries behind only delays its own applies).
const metaPromoteSlack = 16
