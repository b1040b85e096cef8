package consumer

import (
	"bytes"
	"slices"
	"sync"
	"time"
)

// State is a group's place in the classic rebalance protocol (doc.go).
type State int8

const (
	// Empty: no members (perhaps committed offsets).
	Empty State = iota
	// PreparingRebalance: waiting for the members to (re)join.
	PreparingRebalance
	// CompletingRebalance: joined; waiting for the leader's assignment.
	CompletingRebalance
	// Stable: every member has its assignment and heartbeats.
	Stable
	// Dead: gone (removed, or the coordinator closed).
	Dead
)

// String returns the state's Kafka name, as DescribeGroups and ListGroups
// report it.
func (s State) String() string {
	switch s {
	case Empty:
		return "Empty"
	case PreparingRebalance:
		return "PreparingRebalance"
	case CompletingRebalance:
		return "CompletingRebalance"
	case Stable:
		return "Stable"
	case Dead:
		return "Dead"
	}
	return "Unknown"
}

// ConsumerProtocolType is the protocol type of Kafka consumers, whose
// member metadata is a ConsumerMemberMetadata (subscription.go).
const ConsumerProtocolType = "consumer"

// Protocol is one assignment protocol a member supports, with its metadata
// (for consumers: the subscription).
type Protocol struct {
	Name     string
	Metadata []byte
}

// group is one group's membership. Every field is guarded by mu; timer
// callbacks take it and check that they are still wanted (a sequence
// number or the member's identity) before acting.
type group struct {
	id string
	mu sync.Mutex

	state        State
	generation   int32
	protocolType string
	protocol     string // selected for the current generation
	leader       string // member id; "" with no members
	members      map[string]*member
	static       map[string]string // instance id -> member id
	memberSeq    uint64            // orders members by first join: the leader is the oldest

	// pending holds member ids handed out with MEMBER_ID_REQUIRED (v4+)
	// and not yet used, each with its expiry timer.
	pending map[string]Timer
	// pendingSync holds this generation's members that have not sent
	// SyncGroup; syncTimer removes them after the rebalance timeout.
	pendingSync map[string]bool
	syncTimer   Timer

	// The rebalance (join) timer: joinTimer fires onJoinTimer(rebalanceSeq) while
	// PreparingRebalance. initialDelay marks the delayed first rebalance
	// of an empty group, extended while newMembers keep arriving, up to
	// joinRemaining more.
	joinTimer     Timer
	rebalanceSeq  uint64
	initialDelay  bool
	newMembers    bool
	joinRemaining time.Duration
}

// member is one group member.
type member struct {
	id         string
	instanceID string // "" for a dynamic member
	clientID   string
	clientHost string
	session    time.Duration
	rebalance  time.Duration
	protocols  []Protocol
	assignment []byte
	seq        uint64 // memberSeq at first join

	// joinDone is set while a JoinGroup waits for the rebalance, syncDone
	// while a SyncGroup waits for the leader's assignment.
	joinDone func(JoinResult)
	syncDone func(SyncResult)

	// expires is when the session ends without a heartbeat; hb fires at or
	// after it and re-arms if a heartbeat moved it.
	expires time.Time
	hb      Timer
}

func newGroup(id string) *group {
	return &group{
		id:          id,
		members:     map[string]*member{},
		static:      map[string]string{},
		pending:     map[string]Timer{},
		pendingSync: map[string]bool{},
	}
}

// empty reports whether g has nothing worth keeping in memory.
func (g *group) empty() bool {
	return g.state == Empty && len(g.members) == 0 && len(g.pending) == 0
}

// shutdown ends g: waiting requests get ErrNotCoordinator (the coordinator
// is closing) and every timer stops. g is Dead afterwards.
func (g *group) shutdown(c *Coordinator) {
	for _, m := range g.membersInOrder() {
		g.answerWaiting(m, ErrNotCoordinator)
		stopTimer(&m.hb)
	}
	for id, t := range g.pending {
		t.Stop()
		delete(g.pending, id)
	}
	stopTimer(&g.joinTimer)
	stopTimer(&g.syncTimer)
	g.state = Dead
}

// answerWaiting fails m's waiting JoinGroup and SyncGroup with err.
func (g *group) answerWaiting(m *member, err error) {
	if m.joinDone != nil {
		done := m.joinDone
		m.joinDone = nil
		done(JoinResult{Err: err, MemberID: m.id, Generation: -1})
	}
	if m.syncDone != nil {
		done := m.syncDone
		m.syncDone = nil
		done(SyncResult{Err: err})
	}
}

// membersInOrder returns the members oldest first.
func (g *group) membersInOrder() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return ms
}

// checkMember is Kafka's validateCurrentMember: a static member's instance
// id held by another member id is fenced; an unknown member id is unknown.
func (g *group) checkMember(memberID, instanceID string) (*member, error) {
	if instanceID != "" {
		if cur, ok := g.static[instanceID]; ok && cur != memberID {
			return nil, ErrFencedInstanceID
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, ErrUnknownMemberID
	}
	return m, nil
}

// supports reports whether a member with these protocols may join: the
// group's protocol type, and a protocol every member supports.
func (g *group) supports(protocolType string, protocols []Protocol) bool {
	if len(g.members) == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		if g.allSupport(p.Name) {
			return true
		}
	}
	return false
}

// allSupport reports whether every member supports protocol name.
func (g *group) allSupport(name string) bool {
	for _, m := range g.members {
		if m.metadata(name) == nil {
			return false
		}
	}
	return true
}

// metadata returns m's metadata for protocol name, nil if unsupported
// (an empty metadata is returned as a non-nil empty slice).
func (m *member) metadata(name string) []byte {
	for _, p := range m.protocols {
		if p.Name == name {
			if p.Metadata == nil {
				return []byte{}
			}
			return p.Metadata
		}
	}
	return nil
}

// sameProtocols reports whether ps is what m joined with, in order.
func (m *member) sameProtocols(ps []Protocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a, b Protocol) bool {
		return a.Name == b.Name && bytes.Equal(a.Metadata, b.Metadata)
	})
}

// selectProtocol picks the protocol of the next generation as Kafka does:
// among the protocols every member supports, each member votes for the
// first in its own order; most votes wins, ties going to the leader's
// preference. "" if there is no common protocol (join refuses such
// members, so only with no members).
func (g *group) selectProtocol() string {
	leader := g.members[g.leader]
	if leader == nil {
		return ""
	}
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if g.allSupport(p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for _, p := range leader.protocols {
		if v := votes[p.Name]; v > bestVotes {
			best, bestVotes = p.Name, v
		}
	}
	return best
}

// rebalanceTimeout is the longest rebalance timeout of the members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalance)
	}
	return d
}

// joinResult is m's JoinGroup answer for the current generation; the
// leader gets every member's metadata for the selected protocol.
func (g *group) joinResult(m *member) JoinResult {
	r := JoinResult{
		MemberID:     m.id,
		Generation:   g.generation,
		ProtocolType: g.protocolType,
		Protocol:     g.protocol,
		Leader:       g.leader,
	}
	if m.id == g.leader {
		for _, o := range g.membersInOrder() {
			r.Members = append(r.Members, MemberMetadata{MemberID: o.id, InstanceID: o.instanceID, Metadata: o.metadata(g.protocol)})
		}
	}
	return r
}

// describe returns g as DescribeGroups reports it.
func (g *group) describe() GroupDescription {
	d := GroupDescription{Group: g.id, State: g.state, ProtocolType: g.protocolType}
	if g.state == Stable {
		d.Protocol = g.protocol
	}
	for _, m := range g.membersInOrder() {
		md := MemberDescription{MemberID: m.id, InstanceID: m.instanceID, ClientID: m.clientID, ClientHost: m.clientHost}
		if g.state == Stable {
			md.Metadata = m.metadata(g.protocol)
			md.Assignment = m.assignment
		}
		d.Members = append(d.Members, md)
	}
	return d
}

// subscribedTopics returns the topics the members subscribe to, from their
// consumer-protocol metadata for the selected protocol; known is false if
// there is no selected protocol or a member's metadata does not parse.
func (g *group) subscribedTopics() (topics map[string]bool, known bool) {
	if g.protocolType != ConsumerProtocolType || g.protocol == "" {
		return nil, false
	}
	topics = map[string]bool{}
	for _, m := range g.members {
		ts, err := SubscribedTopics(m.metadata(g.protocol))
		if err != nil {
			return nil, false
		}
		for _, t := range ts {
			topics[t] = true
		}
	}
	return topics, true
}
