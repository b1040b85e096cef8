package replication

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// statusRPC is the built-in RPC behind PeerStatus. Names starting with
// "replication." are reserved for this package.
const statusRPC = "replication.status"

// statusBytes is the encoded size of a Status without its leader strings:
// version, state, term, last, commit and applied index.
const statusBytes = 1 + 1 + 4*8

const statusVersion = 1

// PeerStatus asks the node at addr for its Status in group id: how far its
// replica has got. hashicorp/raft does not expose the leader's per-follower
// match index, so a "caught up?" check (before promoting a non-voter, before
// a leadership transfer) compares this with the leader's own Status. It fails
// with a *RemoteError when the group is not open there.
func (n *Node) PeerStatus(ctx context.Context, addr, id string) (Status, error) {
	rc, err := n.Call(ctx, addr, statusRPC, []byte(id))
	if err != nil {
		return Status{}, err
	}
	defer rc.Close()
	// A status is at most statusBytes + 2 names; read one byte more to detect
	// a longer (bad) answer without trusting it.
	buf, err := io.ReadAll(io.LimitReader(rc, statusBytes+2*(1+maxNameBytes)+1))
	if err != nil {
		return Status{}, err
	}
	return decodeStatus(buf)
}

func (n *Node) serveStatus(_ context.Context, req []byte, w io.Writer) error {
	g := n.Group(string(req))
	if g == nil {
		return fmt.Errorf("group %q not open on node %s", req, n.cfg.ID)
	}
	_, err := w.Write(appendStatus(nil, g.Status()))
	return err
}

func appendStatus(b []byte, s Status) []byte {
	b = append(b, statusVersion, byte(s.State))
	b = binary.BigEndian.AppendUint64(b, s.Term)
	b = binary.BigEndian.AppendUint64(b, s.LastIndex)
	b = binary.BigEndian.AppendUint64(b, s.CommitIndex)
	b = binary.BigEndian.AppendUint64(b, s.AppliedIndex)
	b = appendShortString(b, s.LeaderID)
	return appendShortString(b, s.LeaderAddr)
}

// decodeStatus decodes a status; LastContact is not sent (another clock).
func decodeStatus(b []byte) (Status, error) {
	if len(b) < statusBytes || b[0] != statusVersion || b[1] > byte(raft.Shutdown) {
		return Status{}, fmt.Errorf("%w: status of %d bytes", errMalformed, len(b))
	}
	s := Status{
		State:        raft.RaftState(b[1]),
		Term:         binary.BigEndian.Uint64(b[2:]),
		LastIndex:    binary.BigEndian.Uint64(b[10:]),
		CommitIndex:  binary.BigEndian.Uint64(b[18:]),
		AppliedIndex: binary.BigEndian.Uint64(b[26:]),
	}
	rest := b[statusBytes:]
	var ok bool
	if s.LeaderID, rest, ok = shortString(rest); !ok {
		return Status{}, fmt.Errorf("%w: status leader id", errMalformed)
	}
	if s.LeaderAddr, rest, ok = shortString(rest); !ok || len(rest) != 0 {
		return Status{}, fmt.Errorf("%w: status leader address", errMalformed)
	}
	return s, nil
}

// appendShortString appends a 1-byte length (0 allowed) and s, cut to 255 bytes.
func appendShortString(b []byte, s string) []byte {
	s = s[:min(len(s), maxNameBytes)]
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func shortString(b []byte) (string, []byte, bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return "", nil, false
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], true
}
