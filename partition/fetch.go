package partition

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/replication"
)

// A replica whose log is behind a snapshot it must restore (it was down while
// its peers snapshotted and trimmed their Raft logs) copies the missing batches
// from a peer's log over the node's internal listener, with the RPC readRPC:
//
//	request:  | id length (1) | id (partition group id) | from (8) | to (8) |
//	response: the committed batches [from, to) of the peer's log, whole, as stored
//
// The peer serves only below its high watermark, so only committed data travels,
// and the copy keeps the offsets and leader epochs the batches already carry.
const readRPC = "partition.read"

// readChunkBytes is how much of the peer's log one read of the server covers.
const readChunkBytes = 1 << 20

// ServeReads registers the partition read RPC on node. lookup returns the local
// replica with a group id, or nil.
func ServeReads(node *replication.Node, lookup func(id string) *Partition) {
	node.Handle(readRPC, func(ctx context.Context, req []byte, w io.Writer) error {
		id, from, to, err := decodeReadRequest(req)
		if err != nil {
			return err
		}
		p := lookup(id)
		if p == nil {
			return fmt.Errorf("partition %s not on this node", id)
		}
		return p.serveRead(ctx, from, to, w)
	})
}

func (p *Partition) serveRead(ctx context.Context, from, to int64, w io.Writer) error {
	to = min(to, p.HighWatermark())
	if from < p.log.StartOffset() {
		return fmt.Errorf("partition %s: offset %d below the log start %d", p.cfg.ID, from, p.log.StartOffset())
	}
	for from < to {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := p.log.ReadBelow(from, to, readChunkBytes)
		if err == nil {
			// A damaged range fails the peer's read (it asks another
			// replica) and starts a repair here.
			if err = c.Verify(); err != nil {
				c.Close()
			}
		}
		if err != nil {
			return p.storageError(from, to, err)
		}
		next := c.NextOffset()
		_, err = c.WriteTo(w)
		c.Close()
		if err != nil {
			return err
		}
		if next <= from {
			return fmt.Errorf("partition %s: read at %d made no progress", p.cfg.ID, from)
		}
		from = next
	}
	return nil
}

func encodeReadRequest(id string, from, to int64) []byte {
	b := make([]byte, 0, 1+len(id)+16)
	b = append(b, byte(len(id)))
	b = append(b, id...)
	b = binary.BigEndian.AppendUint64(b, uint64(from))
	return binary.BigEndian.AppendUint64(b, uint64(to))
}

var errBadReadRequest = errors.New("partition: bad read request")

func decodeReadRequest(b []byte) (id string, from, to int64, err error) {
	if len(b) < 1 || len(b) != 1+int(b[0])+16 {
		return "", 0, 0, errBadReadRequest
	}
	n := int(b[0])
	id = string(b[1 : 1+n])
	from = int64(binary.BigEndian.Uint64(b[1+n:]))
	to = int64(binary.BigEndian.Uint64(b[9+n:]))
	if id == "" || from < 0 || to < from {
		return "", 0, 0, errBadReadRequest
	}
	return id, from, to, nil
}

// fetchFromPeers copies the batches [from, to) into the log from the first peer
// that has them: the leader first, then every other member of the group.
func (p *Partition) fetchFromPeers(ctx context.Context, from, to int64) error {
	var errs []error
	for _, addr := range p.peerAddrs(ctx) {
		err := p.fetchFrom(ctx, addr, from, to)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("from %s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
		from = p.log.EndOffset() // keep what arrived
		if from >= to {
			return nil
		}
	}
	if len(errs) == 0 {
		return errors.New("no peer to fetch from")
	}
	return errors.Join(errs...)
}

// peerAddrs returns the internal addresses of the other replicas, leader first.
func (p *Partition) peerAddrs(ctx context.Context) []string {
	self := p.node.Addr()
	var addrs []string
	g := p.opened.Load()
	if g == nil && p.cfg.Peers != nil {
		for _, a := range p.cfg.Peers() {
			if a != self {
				addrs = append(addrs, a)
			}
		}
	}
	if g != nil {
		if _, leader := g.Leader(); leader != "" && leader != self {
			addrs = append(addrs, leader)
		}
		servers, err := g.Configuration(ctx)
		if err == nil {
			for _, s := range servers {
				if a := string(s.Address); a != self && (len(addrs) == 0 || a != addrs[0]) {
					addrs = append(addrs, a)
				}
			}
		}
	}
	return addrs
}

// fetchFrom streams [from, to) from the peer at addr into the log, a batch at a
// time, appending whole batches as they arrive with AppendRaw (which checks
// every CRC and that offsets follow on).
func (p *Partition) fetchFrom(ctx context.Context, addr string, from, to int64) error {
	body, err := p.node.Call(ctx, addr, readRPC, encodeReadRequest(p.cfg.ID, from, to))
	if err != nil {
		return err
	}
	defer body.Close()
	var buf []byte
	max := p.maxBatchBytes()
	for p.log.EndOffset() < to {
		var head [12]byte
		if _, err := io.ReadFull(body, head[:]); err != nil {
			return fmt.Errorf("read batch at %d: %w", p.log.EndOffset(), err)
		}
		size := 12 + int(int32(binary.BigEndian.Uint32(head[8:12])))
		if size < log.BatchHeaderSize || size > max {
			return fmt.Errorf("peer sent a batch of %d bytes at %d: %w", size, p.log.EndOffset(), log.ErrCorrupt)
		}
		buf = slices.Grow(buf[:0], size)[:size]
		copy(buf, head[:])
		if _, err := io.ReadFull(body, buf[12:]); err != nil {
			return fmt.Errorf("read batch at %d: %w", p.log.EndOffset(), err)
		}
		if _, err := p.log.AppendRaw(buf); err != nil {
			return err
		}
	}
	return nil
}
