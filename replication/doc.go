// Package replication runs many hashicorp/raft groups on one broker over a
// single internal TCP listener.
//
// Every Kafka partition is its own Raft group, so a broker hosts hundreds of
// groups plus the metadata group. A Node owns the listener and the
// connections to its peers; a Group is one Raft replica on a Node, with its
// stores in its own directory and a state machine (raft.FSM) supplied by the
// layer above. The same listener also carries internal RPCs that are not
// Raft (Node.Handle, Node.Call), with streamed response bodies, for shipping
// log segments to a lagging replica.
//
// # What it is not
//
// It knows nothing of Kafka, topics or the partition log (it never imports
// log/ and log/ never imports it). It decides no membership: adding,
// promoting and removing replicas are operations the controller calls. It has
// no TLS or peer authentication yet: the internal port must be on a trusted
// network.
//
// # The API
//
//	NewNode(NodeConfig) (*Node, error)           one per broker
//	(*Node) ID, Addr, ListenAddr, Close
//	(*Node) OpenGroup(GroupConfig) (*Group, error), Group(id) *Group
//	(*Node) Handle(name, RPCHandler), Call(ctx, addr, name, req) (io.ReadCloser, error)
//	(*Node) PeerStatus(ctx, addr, group) (Status, error)
//	(*Group) Bootstrap(ctx, []raft.Server)        no-op when state exists
//	(*Group) Apply(ctx, cmd) (ApplyResult, error) *NotLeaderError off the leader
//	(*Group) Propose(cmd) *Proposal; (*Proposal) Wait(ctx)  pipelined Apply, in order
//	(*Group) Barrier, VerifyLeader, Snapshot, Configuration
//	(*Group) AddNonvoter, AddVoter (also promotes), DemoteVoter, RemoveServer
//	(*Group) TransferLeadership(ctx, id, addr)    id "" = any voter
//	(*Group) Leader, IsLeader, Term, Status, Stats, Raft, Shutdown
//	GroupConfig.OnLeadershipChange(isLeader, term)
//
// The Raft server ID of every group on a node is the node's ID, and its
// server address is the node's advertised address (Voter builds the
// raft.Server).
//
// # Connections and streams
//
// Each pair of nodes shares one TCP connection running a yamux session; the
// node that needs it first dials it, and both ends open streams on it. Two
// sessions exist briefly when both dial at once; each node then uses the one
// it dialed. A session that fails is dropped and dialed again on the next
// stream. Every stream is one of:
//
//   - a raft stream: one raft.NetworkTransport connection of one group. The
//     group's transport runs on a per-group raft.StreamLayer whose Dial opens
//     a stream naming the group and whose Accept returns the streams the
//     node's router delivered for it. raft's own framing (msgpack RPCs,
//     pipelining, InstallSnapshot) runs unchanged inside the stream.
//   - an RPC stream: one call of an internal RPC.
//
// The dialer opens the connection with a preamble, then yamux begins:
//
//	+--------+---------+--------+------------+--------+------------+
//	| "CAIR" | version | idLen  | node id    | adLen  | advertised |
//	| 4 B    | 1 B = 1 | 1 B    | idLen B    | 1 B    | adLen B    |
//	+--------+---------+--------+------------+--------+------------+
//
// Every stream starts with a header:
//
//	+---------+---------+--------------------------------+
//	| kind    | nameLen | name                           |
//	| 1 B     | 1 B     | nameLen B (1..255)             |
//	+---------+---------+--------------------------------+
//	kind 1 = raft (name = group id), kind 2 = rpc (name = RPC name)
//
// An RPC stream then carries one request frame from the caller, and response
// frames back until an end or error frame, after which the stream closes:
//
//	request:  | length 4 B big-endian (<= MaxFrameBytes) | request bytes |
//	response: | type 1 B | length 4 B big-endian | payload |
//	  type 1 data   payload = body bytes, length <= 64 KiB chunks (<= MaxFrameBytes)
//	  type 2 end    length 0: the handler returned nil
//	  type 3 error  payload = code 1 B + message (length 1..64 KiB)
//	                code 1 handler error, 2 unknown RPC, 3 request too large,
//	                4 node closing
//
// Every length is checked against its bound before anything is allocated.
// Since yamux flow-controls each stream (StreamWindowBytes, 1 MiB), a large
// body is sent as fast as the caller reads it, without buffering it whole.
//
// # Invariants
//
//   - A node has exactly one listening socket, whatever its number of groups,
//     and one TCP connection per peer it talks to (two, briefly, after a
//     simultaneous dial).
//   - A raft stream is routed only to the open group it names; for a group not
//     open on the node the stream is closed and raft retries with backoff.
//   - Group.Shutdown closes every stream the group's transport holds, inbound
//     and pooled outbound (raft.NetworkTransport.Close does not), and Node.Close
//     shuts every group down and ends every goroutine the node started.
//   - OnLeadershipChange runs on a goroutine of the group, never raft's: a slow
//     callback cannot stall raft. Changes are coalesced, the latest state is
//     never dropped, and a lost-then-regained leadership shows as a new term.
//     The final state (not leader) is delivered before Shutdown returns.
//   - Operations wait on raft's futures only while raft runs: Shutdown first
//     lets operations in flight resolve (up to twice the election timeout),
//     because hashicorp/raft never resolves futures still queued when it stops.
//
// # Storage
//
// A group's directory holds wal/ (hashicorp/raft-wal: the LogStore and
// StableStore; raft.db with raft-boltdb/v2 when GroupConfig.Store is
// StoreBolt, used by the metadata group) and snapshots/ (raft's
// FileSnapshotStore). raft-wal preallocates each segment file, so segments
// are 4 MiB (DefaultWALSegmentBytes) rather than its 64 MiB default: 300
// groups preallocate 1.2 GiB, not 19 GiB. A segment holds at least one
// entry, so large entries are fine.
//
// # Timing
//
// hashicorp/raft's default clock is tuned for one group. Idle, a leader sends
// each follower a heartbeat every HeartbeatTimeout/10..HeartbeatTimeout/5 and
// an empty AppendEntries every CommitTimeout..2*CommitTimeout (so followers
// learn the commit index); with raft's 50 ms CommitTimeout the latter
// dominates. DefaultTiming is:
//
//	HeartbeatTimeout   2 s    (raft 1 s)    failure detected in 2-4 s
//	ElectionTimeout    2 s    (raft 1 s)
//	LeaderLeaseTimeout 1 s    (raft 500 ms)
//	CommitTimeout      500 ms (raft 50 ms)  idle followers learn commits <= 1 s late
//	MaxAppendEntries   256    (raft 64)     bigger batches under load
//
// CommitTimeout does not delay commits or acks: the leader replicates as soon
// as entries arrive. Measured idle (BenchmarkIdle: 3 nodes in one process,
// each hosting every group; 2 shared vCPUs under other builds, so figures vary
// by about 20%), for the whole 3-node cluster:
//
//	                    groups  CPU (cores)  goroutines  heap      sockets
//	raft default timing   100     0.50         3131        359 MiB   10
//	raft default timing   300     1.02         9402       1048 MiB   10
//	DefaultTiming         100     0.20-0.22    3130        320 MiB   10
//	DefaultTiming         300     0.43         9364        995 MiB   10
//
// So one broker pays about 0.05-0.07 cores per 100 idle partition replicas, about
// 10 goroutines per replica, and about 1 MiB of heap per replica, mostly the
// fixed 256 KiB bufio buffers raft.NetworkTransport gives each of its
// connections; a transport sharing buffers across groups (or a shared
// multi-group WAL, DESIGN.md) is the next step if that matters. The 10 sockets
// are 3 listeners plus both ends of 3 connections, whatever the group count.
//
// BenchmarkApplyNoopFSM (3 replicas on raft-wal, no-op FSM, 16 concurrent
// appliers, same box; two runs differed by up to 2x, this is the quieter)
// gives the baseline the partition layer is compared with:
//
//	groups  entry    applies/s  MB/s    p50      p99
//	1       1 KiB    6834        7.0    2.1 ms   10 ms
//	1       64 KiB   1286       84     9.2 ms   48 ms
//	4       1 KiB    4709        4.8    2.9 ms   15 ms
//	4       64 KiB   1555      102     8.1 ms   34 ms
//	16      1 KiB     640        0.7   23 ms     64 ms
//	16      64 KiB    381       25     38 ms    122 ms
//
// Every replica fsyncs each write batch (raft-wal), and all three replicas
// share one disk here, so these are fsync-bound: with 16 groups each group
// has one Apply in flight and 48 WALs fsync in turn, while fewer groups with
// more concurrent Applies each batch many entries per fsync (BatchApplyCh).
package replication
