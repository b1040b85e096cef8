package replication

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

var (
	// ErrClosed is returned by a Node or Group after Close or Shutdown.
	ErrClosed = errors.New("replication: closed")
	// ErrGroupExists is returned by OpenGroup for a group id already open on
	// the node.
	ErrGroupExists = errors.New("replication: group already open")
	// ErrFrameTooLarge is returned when a frame's length exceeds MaxFrameBytes,
	// on either end of an RPC.
	ErrFrameTooLarge = errors.New("replication: frame too large")
	// ErrUnknownRPC is returned by Call when the remote node has no handler of
	// that name.
	ErrUnknownRPC = errors.New("replication: unknown rpc")
	// ErrNotLeader matches every *NotLeaderError (errors.Is).
	ErrNotLeader = errors.New("replication: not the leader")
)

// NotLeaderError is returned by the operations that need leadership (Apply,
// Barrier, membership changes, leadership transfer) when this node is not, or
// stopped being, the group's leader. The hint is empty when no leader is known.
// An operation failing with ErrLeadershipLost may or may not have committed.
type NotLeaderError struct {
	Group      string
	LeaderID   string // the leader's node id, if known
	LeaderAddr string // the leader's advertised internal address, if known
	Err        error  // raft's error: raft.ErrNotLeader, raft.ErrLeadershipLost, ...
}

func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return fmt.Sprintf("replication: group %s: not the leader, leader unknown: %v", e.Group, e.Err)
	}
	return fmt.Sprintf("replication: group %s: not the leader, leader is %s at %s: %v", e.Group, e.LeaderID, e.LeaderAddr, e.Err)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Unwrap returns raft's error.
func (e *NotLeaderError) Unwrap() error { return e.Err }

// RemoteError is an error that an RPC handler on another node returned, or
// that the remote node reported for the call (unknown name, frame too large).
type RemoteError struct {
	Name string // the RPC name
	Addr string // the remote node's address
	Msg  string // the remote error's text

	sentinel error // ErrUnknownRPC, ErrFrameTooLarge, ErrClosed, or nil
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("replication: rpc %s at %s: %s", e.Name, e.Addr, e.Msg)
}

// Unwrap returns the sentinel matching the remote failure, if any.
func (e *RemoteError) Unwrap() error { return e.sentinel }

// leadershipError wraps raft's leadership errors into a *NotLeaderError with
// the current leader hint; other errors are wrapped with the operation name.
func (g *Group) leadershipError(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress):
		addr, id := g.raft.LeaderWithID()
		return &NotLeaderError{Group: g.id, LeaderID: string(id), LeaderAddr: string(addr), Err: err}
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("replication: group %s: %s: %w", g.id, op, ErrClosed)
	}
	return fmt.Errorf("replication: group %s: %s: %w", g.id, op, err)
}
