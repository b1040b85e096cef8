package consumer

import (
	"time"
)

// JoinRequest is a JoinGroup.
type JoinRequest struct {
	Group      string
	MemberID   string // "" on a member's first join
	InstanceID string // group.instance.id of a static member (v5+), else ""
	ClientID   string
	ClientHost string
	// SessionTimeout must lie in [MinSessionTimeout, MaxSessionTimeout].
	SessionTimeout time.Duration
	// RebalanceTimeout bounds how long the group waits for members to
	// rejoin (JoinGroup v0 has none: pass the session timeout).
	RebalanceTimeout time.Duration
	ProtocolType     string
	Protocols        []Protocol // in the member's order of preference
	// RequireMemberID (JoinGroup v4+): a dynamic member's first join gets
	// a member id and ErrMemberIDRequired, and must join again with it.
	RequireMemberID bool
}

// JoinResult answers a JoinRequest. Err is nil or one of ErrNotCoordinator,
// ErrUnknownMemberID, ErrFencedInstanceID, ErrMemberIDRequired (with
// MemberID set), ErrInvalidSessionTimeout, ErrInconsistentProtocol,
// ErrGroupMaxSize, ErrRebalanceInProgress (a newer JoinGroup of the same
// member replaced this one).
type JoinResult struct {
	Err          error
	MemberID     string
	Generation   int32 // -1 with an error
	ProtocolType string
	Protocol     string
	Leader       string
	// Members is set for the leader only: every member's metadata for the
	// selected protocol, oldest member first.
	Members []MemberMetadata
}

// MemberMetadata is one member as the leader sees it in JoinResult.
type MemberMetadata struct {
	MemberID   string
	InstanceID string
	Metadata   []byte
}

// Join handles a JoinGroup. done is called once with the result: at once
// for errors and for members whose join changes nothing, else when the
// rebalance completes (all members rejoined, or the rebalance timeout).
// done runs with the group locked: it must not block or call c.
func (c *Coordinator) Join(req JoinRequest, done func(JoinResult)) {
	fail := func(err error) { done(JoinResult{Err: err, MemberID: req.MemberID, Generation: -1}) }
	if req.SessionTimeout < c.cfg.MinSessionTimeout || req.SessionTimeout > c.cfg.MaxSessionTimeout {
		fail(ErrInvalidSessionTimeout)
		return
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		fail(ErrInconsistentProtocol)
		return
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	g, err := c.lockGroup(req.Group, req.MemberID == "")
	if err != nil {
		fail(err)
		return
	}
	if g == nil {
		fail(ErrUnknownMemberID)
		return
	}
	defer c.unlockGroup(g)
	if !g.supports(req.ProtocolType, req.Protocols) {
		fail(ErrInconsistentProtocol)
		return
	}
	if req.MemberID == "" {
		g.joinNew(c, req, done, fail)
	} else {
		g.joinKnown(c, req, done, fail)
	}
}

// joinNew is the join of a member without a member id.
func (g *group) joinNew(c *Coordinator, req JoinRequest, done func(JoinResult), fail func(error)) {
	if len(g.members)+len(g.pending) >= c.cfg.MaxGroupSize {
		fail(ErrGroupMaxSize)
		return
	}
	if req.InstanceID != "" {
		id := newMemberID(req.InstanceID)
		if old, ok := g.static[req.InstanceID]; ok {
			g.replaceStatic(c, g.members[old], id, req, done)
			return
		}
		g.addMember(c, id, req, done)
		return
	}
	id := newMemberID(req.ClientID)
	if req.RequireMemberID {
		g.pending[id] = c.afterFunc(req.SessionTimeout, func() { c.onPendingExpired(g, id) })
		done(JoinResult{Err: ErrMemberIDRequired, MemberID: id, Generation: -1})
		return
	}
	g.addMember(c, id, req, done)
}

// joinKnown is the join of a member with a member id.
func (g *group) joinKnown(c *Coordinator, req JoinRequest, done func(JoinResult), fail func(error)) {
	if t, ok := g.pending[req.MemberID]; ok {
		t.Stop()
		delete(g.pending, req.MemberID)
		g.addMember(c, req.MemberID, req, done)
		return
	}
	m, err := g.checkMember(req.MemberID, req.InstanceID)
	if err != nil {
		fail(err)
		return
	}
	switch g.state {
	case PreparingRebalance:
		g.updateMember(c, m, req, done)
		g.maybeCompleteJoin(c)
	case CompletingRebalance:
		if m.sameProtocols(req.Protocols) {
			// It missed its JoinGroup answer: give it again.
			m.expires = c.clock.Now().Add(m.session)
			done(g.joinResult(m))
			return
		}
		g.updateMember(c, m, req, done)
		g.prepareRebalance(c, "member changed protocols")
	case Stable:
		if m.id != g.leader && m.sameProtocols(req.Protocols) {
			// A follower rejoining with nothing new: nothing to do.
			m.expires = c.clock.Now().Add(m.session)
			done(g.joinResult(m))
			return
		}
		// The leader rejoins to force a rebalance (its subscribed
		// topics changed), as does a member whose metadata changed.
		g.updateMember(c, m, req, done)
		g.prepareRebalance(c, "member rejoined")
	default:
		fail(ErrUnknownMemberID) // Empty has no members
	}
}

// addMember adds a member that waits in JoinGroup for the rebalance.
func (g *group) addMember(c *Coordinator, id string, req JoinRequest, done func(JoinResult)) {
	g.memberSeq++
	m := &member{
		id:         id,
		instanceID: req.InstanceID,
		clientID:   req.ClientID,
		clientHost: req.ClientHost,
		session:    req.SessionTimeout,
		rebalance:  req.RebalanceTimeout,
		protocols:  req.Protocols,
		seq:        g.memberSeq,
		joinDone:   done,
		expires:    c.clock.Now().Add(req.SessionTimeout),
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.members[id] = m
	if m.instanceID != "" {
		g.static[m.instanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	g.armSession(c, m, req.SessionTimeout)
	g.newMembers = true
	c.logger.Debug("member joined", "group", g.id, "member", id, "instance", req.InstanceID)
	switch g.state {
	case PreparingRebalance:
		g.maybeCompleteJoin(c)
	default:
		g.prepareRebalance(c, "member joined")
	}
}

// updateMember records a known member's (re)join.
func (g *group) updateMember(c *Coordinator, m *member, req JoinRequest, done func(JoinResult)) {
	if m.joinDone != nil {
		// A newer JoinGroup of the same member replaces a waiting one.
		old := m.joinDone
		m.joinDone = nil
		old(JoinResult{Err: ErrRebalanceInProgress, MemberID: m.id, Generation: -1})
	}
	m.clientID, m.clientHost = req.ClientID, req.ClientHost
	m.session, m.rebalance = req.SessionTimeout, req.RebalanceTimeout
	m.protocols = req.Protocols
	m.joinDone = done
	m.expires = c.clock.Now().Add(m.session)
}

// replaceStatic gives a static member's instance id to a new member id
// (the instance restarted): the old member id is fenced, its waiting
// requests get ErrFencedInstanceID, and the member keeps its assignment.
func (g *group) replaceStatic(c *Coordinator, m *member, newID string, req JoinRequest, done func(JoinResult)) {
	oldID := m.id
	g.answerWaiting(m, ErrFencedInstanceID)
	delete(g.members, oldID)
	m.id = newID
	g.members[newID] = m
	g.static[m.instanceID] = newID
	if g.leader == oldID {
		g.leader = newID
	}
	if g.pendingSync[oldID] {
		delete(g.pendingSync, oldID)
		g.pendingSync[newID] = true
	}
	g.updateMember(c, m, req, done)
	c.logger.Info("static member replaced", "group", g.id, "instance", m.instanceID, "member", newID)
	switch g.state {
	case Stable:
		if g.selectProtocol() == g.protocol {
			// Same protocol: the group stays as it is and the member
			// resumes its assignment (its SyncGroup returns it).
			m.joinDone = nil
			done(g.joinResult(m))
			return
		}
		g.prepareRebalance(c, "static member changed protocols")
	case CompletingRebalance:
		// The leader may be assigning to the old member id.
		g.prepareRebalance(c, "static member rejoined")
	case PreparingRebalance:
		g.maybeCompleteJoin(c)
	}
}

// prepareRebalance moves g to PreparingRebalance and arms the rebalance
// timer: the initial delay for an empty group, else the longest rebalance
// timeout of its members.
func (g *group) prepareRebalance(c *Coordinator, reason string) {
	if g.state == CompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			if m.syncDone != nil {
				done := m.syncDone
				m.syncDone = nil
				done(SyncResult{Err: ErrRebalanceInProgress})
			}
		}
	}
	clear(g.pendingSync)
	stopTimer(&g.syncTimer)
	stopTimer(&g.joinTimer)
	g.rebalanceSeq++
	seq := g.rebalanceSeq
	timeout := g.rebalanceTimeout()
	delay := timeout
	g.initialDelay = g.state == Empty && c.cfg.InitialRebalanceDelay > 0
	if g.initialDelay {
		delay = min(c.cfg.InitialRebalanceDelay, timeout)
		g.joinRemaining = max(timeout-delay, 0)
		g.newMembers = false
	}
	g.state = PreparingRebalance
	c.logger.Debug("preparing rebalance", "group", g.id, "generation", g.generation, "reason", reason)
	g.joinTimer = c.afterFunc(delay, func() { c.onJoinTimer(g, seq) })
	g.maybeCompleteJoin(c)
}

// maybeCompleteJoin completes the rebalance's join phase if every member
// has rejoined and no member id handed out is still unused (except during
// the initial delay, which always runs out).
func (g *group) maybeCompleteJoin(c *Coordinator) {
	if g.state != PreparingRebalance || g.initialDelay || len(g.pending) > 0 {
		return
	}
	for _, m := range g.members {
		if m.joinDone == nil {
			return
		}
	}
	g.completeJoin(c)
}

// completeJoin ends the join phase: members that did not rejoin are
// removed, the generation advances, and every joined member gets its
// JoinGroup answer (the leader with the members' metadata).
func (g *group) completeJoin(c *Coordinator) {
	stopTimer(&g.joinTimer)
	g.initialDelay = false
	for _, m := range g.membersInOrder() {
		if m.joinDone == nil {
			c.logger.Info("member removed: did not rejoin", "group", g.id, "member", m.id)
			g.removeMember(m, ErrUnknownMemberID)
		}
	}
	g.generation++
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = Empty, "", ""
		return
	}
	g.protocol = g.selectProtocol()
	g.state = CompletingRebalance
	now := c.clock.Now()
	for _, m := range g.membersInOrder() {
		g.pendingSync[m.id] = true
		m.expires = now.Add(m.session)
		done := m.joinDone
		m.joinDone = nil
		done(g.joinResult(m))
	}
	gen := g.generation
	g.syncTimer = c.afterFunc(g.rebalanceTimeout(), func() { c.onSyncTimer(g, gen) })
	c.logger.Info("group rebalanced", "group", g.id, "generation", gen, "members", len(g.members), "protocol", g.protocol, "leader", g.leader)
}

// removeMember removes m, failing its waiting requests with err. The caller
// decides whether the group rebalances.
func (g *group) removeMember(m *member, err error) {
	g.answerWaiting(m, err)
	stopTimer(&m.hb)
	delete(g.members, m.id)
	delete(g.pendingSync, m.id)
	if m.instanceID != "" && g.static[m.instanceID] == m.id {
		delete(g.static, m.instanceID)
	}
	if g.leader == m.id {
		g.leader = ""
		if ms := g.membersInOrder(); len(ms) > 0 {
			g.leader = ms[0].id
		}
	}
}

// membersLeft rebalances g after members were removed.
func (g *group) membersLeft(c *Coordinator, reason string) {
	switch g.state {
	case Stable, CompletingRebalance:
		g.prepareRebalance(c, reason)
	case PreparingRebalance:
		g.maybeCompleteJoin(c)
	}
}

// armSession arms m's session timer to fire after d.
func (g *group) armSession(c *Coordinator, m *member, d time.Duration) {
	m.hb = c.afterFunc(d, func() { c.onSessionTimer(g, m) })
}

// onSessionTimer runs when m's session may have expired. A member waiting
// in JoinGroup or SyncGroup cannot heartbeat and is kept; one that
// heartbeat since is re-armed; else it is removed.
func (c *Coordinator) onSessionTimer(g *group, m *member) {
	g.mu.Lock()
	defer c.unlockGroup(g)
	if g.state == Dead || g.members[m.id] != m {
		return
	}
	now := c.clock.Now()
	if m.joinDone != nil || m.syncDone != nil {
		m.expires = now.Add(m.session)
	}
	if now.Before(m.expires) {
		g.armSession(c, m, m.expires.Sub(now))
		return
	}
	m.hb = nil
	c.logger.Info("member removed: session expired", "group", g.id, "member", m.id, "session", m.session)
	g.removeMember(m, ErrUnknownMemberID)
	g.membersLeft(c, "session expired")
}

// onPendingExpired forgets a member id handed out with MEMBER_ID_REQUIRED
// and never used within the session timeout.
func (c *Coordinator) onPendingExpired(g *group, id string) {
	g.mu.Lock()
	defer c.unlockGroup(g)
	if g.state == Dead {
		return
	}
	if _, ok := g.pending[id]; ok {
		delete(g.pending, id)
		g.maybeCompleteJoin(c)
	}
}

// onJoinTimer ends the join phase of rebalance seq: the initial delay is
// extended while new members keep arriving, else the join completes
// without the members that did not rejoin.
func (c *Coordinator) onJoinTimer(g *group, seq uint64) {
	g.mu.Lock()
	defer c.unlockGroup(g)
	if g.state != PreparingRebalance || g.rebalanceSeq != seq {
		return
	}
	if g.initialDelay && g.newMembers && g.joinRemaining > 0 {
		g.newMembers = false
		delay := min(c.cfg.InitialRebalanceDelay, g.joinRemaining)
		g.joinRemaining -= delay
		g.joinTimer = c.afterFunc(delay, func() { c.onJoinTimer(g, seq) })
		return
	}
	g.completeJoin(c)
}

// onSyncTimer removes the members of generation gen that have not sent
// SyncGroup within the rebalance timeout, and rebalances.
func (c *Coordinator) onSyncTimer(g *group, gen int32) {
	g.mu.Lock()
	defer c.unlockGroup(g)
	if g.generation != gen || (g.state != CompletingRebalance && g.state != Stable) {
		return
	}
	g.syncTimer = nil
	if len(g.pendingSync) == 0 {
		return
	}
	for _, m := range g.membersInOrder() {
		if g.pendingSync[m.id] {
			c.logger.Info("member removed: no SyncGroup", "group", g.id, "member", m.id)
			g.removeMember(m, ErrUnknownMemberID)
		}
	}
	g.membersLeft(c, "members did not sync")
}

// SyncRequest is a SyncGroup.
type SyncRequest struct {
	Group      string
	MemberID   string
	InstanceID string
	Generation int32
	// ProtocolType and Protocol (v5+) must match the group's when set.
	ProtocolType string
	Protocol     string
	// Assignments is the leader's assignment, by member id; others send
	// none. A member left out gets an empty assignment.
	Assignments map[string][]byte
}

// SyncResult answers a SyncRequest. Err is nil or one of
// ErrNotCoordinator, ErrUnknownMemberID, ErrFencedInstanceID,
// ErrIllegalGeneration, ErrInconsistentProtocol, ErrRebalanceInProgress.
type SyncResult struct {
	Err          error
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// Sync handles a SyncGroup. done is called once: at once in Stable or on an
// error, else when the leader's assignment arrives (or the group starts
// rebalancing again). done runs with the group locked: it must not block or
// call c.
func (c *Coordinator) Sync(req SyncRequest, done func(SyncResult)) {
	fail := func(err error) { done(SyncResult{Err: err}) }
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		fail(err)
		return
	}
	if g == nil {
		fail(ErrUnknownMemberID)
		return
	}
	defer c.unlockGroup(g)
	m, err := g.checkMember(req.MemberID, req.InstanceID)
	switch {
	case err != nil:
		fail(err)
		return
	case req.Generation != g.generation:
		fail(ErrIllegalGeneration)
		return
	case req.ProtocolType != "" && req.ProtocolType != g.protocolType,
		req.Protocol != "" && req.Protocol != g.protocol:
		fail(ErrInconsistentProtocol)
		return
	}
	m.expires = c.clock.Now().Add(m.session)
	switch g.state {
	case PreparingRebalance:
		fail(ErrRebalanceInProgress)
	case CompletingRebalance:
		if m.syncDone != nil {
			old := m.syncDone
			old(SyncResult{Err: ErrRebalanceInProgress})
		}
		m.syncDone = done
		g.synced(m)
		if m.id != g.leader {
			return
		}
		for _, o := range g.members {
			o.assignment = req.Assignments[o.id]
			if o.assignment == nil {
				o.assignment = []byte{}
			}
		}
		g.state = Stable
		for _, o := range g.members {
			if o.syncDone != nil {
				done := o.syncDone
				o.syncDone = nil
				done(g.syncResult(o))
			}
		}
	case Stable:
		g.synced(m)
		done(g.syncResult(m))
	default:
		fail(ErrUnknownMemberID)
	}
}

// synced notes m's SyncGroup of this generation.
func (g *group) synced(m *member) {
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		stopTimer(&g.syncTimer)
	}
}

func (g *group) syncResult(m *member) SyncResult {
	return SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment}
}

// HeartbeatRequest is a Heartbeat.
type HeartbeatRequest struct {
	Group      string
	MemberID   string
	InstanceID string
	Generation int32
}

// Heartbeat extends a member's session. It returns nil (Stable, or between
// JoinGroup and SyncGroup), ErrRebalanceInProgress (rejoin),
// ErrUnknownMemberID, ErrFencedInstanceID, ErrIllegalGeneration or
// ErrNotCoordinator.
func (c *Coordinator) Heartbeat(req HeartbeatRequest) error {
	g, err := c.lockGroup(req.Group, false)
	if err != nil {
		return err
	}
	if g == nil {
		return ErrUnknownMemberID
	}
	defer c.unlockGroup(g)
	m, err := g.checkMember(req.MemberID, req.InstanceID)
	if err != nil {
		return err
	}
	if req.Generation != g.generation {
		return ErrIllegalGeneration
	}
	m.expires = c.clock.Now().Add(m.session)
	if g.state == PreparingRebalance {
		return ErrRebalanceInProgress
	}
	return nil
}

// LeavingMember is one member of a LeaveGroup: by member id, or (v3+) by
// instance id, or both.
type LeavingMember struct {
	MemberID   string
	InstanceID string
}

// Leave removes members from a group and rebalances it. It returns one
// error per member (nil, ErrUnknownMemberID, ErrFencedInstanceID), or
// ErrNotCoordinator for all.
func (c *Coordinator) Leave(groupID string, members []LeavingMember) ([]error, error) {
	g, err := c.lockGroup(groupID, false)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(members))
	if g == nil {
		for i := range errs {
			errs[i] = ErrUnknownMemberID
		}
		return errs, nil
	}
	defer c.unlockGroup(g)
	left, pendingLeft := false, false
	for i, lm := range members {
		id := lm.MemberID
		if lm.InstanceID != "" {
			cur, ok := g.static[lm.InstanceID]
			switch {
			case !ok:
				errs[i] = ErrUnknownMemberID
				continue
			case id != "" && id != cur:
				errs[i] = ErrFencedInstanceID
				continue
			}
			id = cur
		}
		if t, ok := g.pending[id]; ok {
			t.Stop()
			delete(g.pending, id)
			pendingLeft = true
			continue
		}
		m := g.members[id]
		if m == nil {
			errs[i] = ErrUnknownMemberID
			continue
		}
		c.logger.Debug("member left", "group", g.id, "member", id)
		g.removeMember(m, ErrUnknownMemberID)
		left = true
	}
	switch {
	case left:
		g.membersLeft(c, "members left")
	case pendingLeft:
		g.maybeCompleteJoin(c)
	}
	return errs, nil
}
