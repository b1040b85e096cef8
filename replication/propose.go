package replication

import (
	"context"

	"github.com/hashicorp/raft"
)

// Proposal is a command handed to raft by Propose, not yet known to be
// committed. Wait for it from any goroutine, any number of times.
type Proposal struct {
	g    *Group
	f    raft.ApplyFuture
	err  error         // set when Propose failed before raft had the command
	done chan struct{} // closed when f resolved; nil when err is set
}

// Propose hands cmd to raft and returns at once, without waiting for the
// commit: commands proposed one after another from one goroutine are
// committed in that order. This is how a pipelining client's requests (an
// idempotent producer sends up to five) keep their order while several are in
// flight. Leader only, like Apply; errors come from Wait.
func (g *Group) Propose(cmd []byte) *Proposal {
	p := &Proposal{g: g}
	g.ops.Lock()
	if g.ops.closing {
		g.ops.Unlock()
		p.err = g.leadershipError("apply", raft.ErrRaftShutdown)
		return p
	}
	g.ops.n++
	g.ops.Unlock()
	p.f = g.raft.Apply(cmd, 0)
	p.done = make(chan struct{})
	// One goroutine a proposal holds the op count until raft resolves the
	// future, so that Shutdown can let it resolve first (see await).
	go func() {
		defer g.opDone()
		_ = p.f.Error()
		close(p.done)
	}()
	return p
}

// Wait returns the result once the command is committed and applied by this
// node's FSM, or the error that ended it (a *NotLeaderError when leadership
// was lost: the command may still commit under the next leader), or ctx's
// error when ctx ends first (the command may still commit).
func (p *Proposal) Wait(ctx context.Context) (ApplyResult, error) {
	if p.err != nil {
		return ApplyResult{}, p.err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return ApplyResult{}, ctx.Err()
	}
	if err := p.f.Error(); err != nil {
		return ApplyResult{}, p.g.leadershipError("apply", err)
	}
	return ApplyResult{Index: p.f.Index(), Response: p.f.Response()}, nil
}
