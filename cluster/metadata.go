package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/cairnlog/cairn/replication"
)

// The metadata partition is one Raft group on every broker: up to three (five
// with five brokers or more) voters, every other broker a non-voter, so each
// broker answers metadata from its own copy.
const (
	metaGroupID = "__cluster_metadata"
	metaDirName = "__cluster_metadata"
)

// A broker that is not the metadata leader forwards a command to it with the
// internal RPC rpcMetaApply:
//
//	request:  the command, as encodeCommand wrote it
//	response: +--------+------------+------------+---------------------+
//	          | code   | index      | value      | message             |
//	          | 1 B    | 8 B BE     | 8 B BE     | rest (<= 4 KiB)     |
//	          +--------+------------+------------+---------------------+
//
// code is 0 for success, an index into errorCodes for a sentinel, codeOther
// for any other failure of the command, and codeNotLeader when the callee is
// not (or stopped being) the leader: the caller then retries wherever the
// leader is now. index is the command's Raft index: the caller waits until
// its own copy has applied it, so that a broker reads its own writes.
const (
	rpcMetaApply         = "cluster.meta.apply"
	codeNotLeader        = 254
	applyResponseHeader  = 17
	maxApplyResponseBody = 4 << 10
)

type applyResponse struct {
	code  uint8
	index uint64
	value int64
	msg   string
}

func encodeApplyResponse(r applyResponse) []byte {
	msg := r.msg
	if len(msg) > maxApplyResponseBody {
		msg = msg[:maxApplyResponseBody]
	}
	b := make([]byte, applyResponseHeader, applyResponseHeader+len(msg))
	b[0] = r.code
	binary.BigEndian.PutUint64(b[1:], r.index)
	binary.BigEndian.PutUint64(b[9:], uint64(r.value))
	return append(b, msg...)
}

func decodeApplyResponse(b []byte) (applyResponse, error) {
	if len(b) < applyResponseHeader || len(b) > applyResponseHeader+maxApplyResponseBody {
		return applyResponse{}, fmt.Errorf("%w: apply response of %d bytes", ErrBadCommand, len(b))
	}
	return applyResponse{
		code:  b[0],
		index: binary.BigEndian.Uint64(b[1:]),
		value: int64(binary.BigEndian.Uint64(b[9:])),
		msg:   string(b[applyResponseHeader:]),
	}, nil
}

// metadata is a broker's replica of the metadata group and its way to write
// to it from any broker.
type metadata struct {
	node   *replication.Node
	group  *replication.Group
	fsm    *metaFSM
	logger *slog.Logger
	// done is closed when the broker closes: propose stops retrying.
	done <-chan struct{}
}

// serveApply is the rpcMetaApply handler: apply the command if this broker
// leads the metadata group.
func (m *metadata) serveApply(ctx context.Context, req []byte, w io.Writer) error {
	if _, err := decodeCommand(req); err != nil {
		_, werr := w.Write(encodeApplyResponse(applyResponse{code: errorCode(err), msg: err.Error()}))
		return werr
	}
	var resp applyResponse
	r, err := m.group.Apply(ctx, req)
	switch {
	case errors.Is(err, replication.ErrNotLeader):
		resp = applyResponse{code: codeNotLeader}
	case err != nil:
		return err
	default:
		res, _ := r.Response.(cmdResult)
		resp = applyResponse{code: errorCode(res.Err), index: r.Index, value: res.Value}
		if res.Err != nil {
			resp.msg = res.Err.Error()
		}
	}
	_, err = w.Write(encodeApplyResponse(resp))
	return err
}

// propose writes cmd through the metadata leader, wherever it is, and
// returns once this broker's copy has applied it. It retries across leader
// changes until ctx ends (then ErrNotReady). A retried command may apply
// twice; every command is written to make that harmless.
func (m *metadata) propose(ctx context.Context, cmd []byte) (cmdResult, error) {
	backoff := 20 * time.Millisecond
	var last error
	for {
		select {
		case <-m.done:
			return cmdResult{}, ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			if last == nil {
				last = err
			}
			return cmdResult{}, fmt.Errorf("%w: %v", ErrNotReady, last)
		}
		res, done, err := m.try(ctx, cmd)
		if done {
			return res, err
		}
		if err != nil {
			last = err
			m.logger.Debug("metadata command retried", "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		case <-m.done:
			t.Stop()
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
}

// try makes one attempt; done is false when it should be retried.
func (m *metadata) try(ctx context.Context, cmd []byte) (res cmdResult, done bool, err error) {
	if m.group.IsLeader() {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		r, err := m.group.Apply(actx, cmd)
		if err != nil {
			if errors.Is(err, replication.ErrClosed) || errors.Is(err, raft.ErrRaftShutdown) {
				return cmdResult{}, true, ErrClosed
			}
			return cmdResult{}, false, err
		}
		res, _ := r.Response.(cmdResult)
		return res, true, nil
	}
	_, addr := m.group.Leader()
	if addr == "" {
		return cmdResult{}, false, errors.New("no metadata leader")
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	body, err := m.node.Call(cctx, addr, rpcMetaApply, cmd)
	if err != nil {
		return cmdResult{}, false, err
	}
	b, err := io.ReadAll(io.LimitReader(body, applyResponseHeader+maxApplyResponseBody+1))
	body.Close()
	if err != nil {
		return cmdResult{}, false, err
	}
	resp, err := decodeApplyResponse(b)
	if err != nil {
		return cmdResult{}, false, err
	}
	if resp.code == codeNotLeader {
		return cmdResult{}, false, errors.New("metadata leader moved")
	}
	if err := m.waitApplied(ctx, resp.index); err != nil {
		return cmdResult{}, true, fmt.Errorf("%w: committed at index %d, not applied here yet: %v", ErrNotReady, resp.index, err)
	}
	return cmdResult{Err: codeError(resp.code, resp.msg), Value: resp.value}, true, nil
}

// waitApplied waits until this broker's copy has applied the command at
// index. (Not raft's applied index: raft advances it when it hands entries
// to the FSM goroutine, before they are applied.)
func (m *metadata) waitApplied(ctx context.Context, index uint64) error {
	for {
		_, ch := m.fsm.watch()
		if m.fsm.appliedIndex() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// caughtUp reports whether this copy of the metadata is current: a leader is
// known and everything it is known to have committed is applied here. It
// reads raft's applied index, which moves when raft hands entries to the
// FSM goroutine, so for a moment after a catch-up it runs ahead of the
// state; raft does not tell the FSM of no-op entries, so the FSM's own index
// cannot be compared with the commit index instead.
// TODO(issue 4): close that window (count configuration entries through
// raft.ConfigurationStore and no-ops through a barrier command).
func (m *metadata) caughtUp() bool {
	st := m.group.Status()
	if st.LeaderID == "" || st.CommitIndex == 0 {
		return false
	}
	if st.State != raft.Leader && (st.LastContact.IsZero() || time.Since(st.LastContact) > 5*time.Second) {
		return false
	}
	if st.AppliedIndex < st.CommitIndex {
		return false
	}
	// raft's AppliedIndex counts entries handed to the FSM; the state this
	// broker acts on (it deletes replicas the metadata no longer assigns
	// here) must have applied them. A view read before that, while a
	// restarted broker's FSM still replays its backlog, once made a broker
	// delete a replica it still held as orphan and rejoin the group empty.
	last, err := m.group.LastCommandIndex(st.CommitIndex)
	return err == nil && m.fsm.appliedIndex() >= last
}
