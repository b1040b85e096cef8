// Package consumer is cairn's group coordinator: the membership of Kafka's
// classic consumer groups (JoinGroup, SyncGroup, Heartbeat, LeaveGroup),
// their rebalances, and their committed offsets, which it reads and writes
// through an OffsetStore (the cluster implements it on the replicated
// metadata partition; MemoryStore is for tests).
//
// It is not the Kafka protocol: package kafka decodes requests, checks
// topics and group ids, and translates this package's sentinel errors into
// Kafka error codes. It knows nothing of Raft, topics or brokers. Its only
// dependency beyond the standard library is kmsg, to decode consumer
// subscriptions (subscription.go) for OffsetDelete. It has no KIP-848
// (ConsumerGroupHeartbeat) groups, no transactional offset commits, and no
// offset expiry (offsets.retention.minutes): committed offsets stay until
// DeleteGroups or OffsetDelete.
//
// # States
//
// A group moves through Kafka's states (Kafka's GroupMetadata):
//
//	                  member joins
//	+-------+ ----------------------------> +--------------------+
//	| Empty |                               | PreparingRebalance | <--+
//	+-------+ <---------------------------- +--------------------+    |
//	           join phase ends, no members     |                      |
//	                                           | all rejoined, or the |
//	                                           | rebalance timeout:   |
//	                                           | generation + 1       |
//	                                           v                      |
//	                                +---------------------+           |
//	                                | CompletingRebalance | ----------+
//	                                +---------------------+           |
//	                                           | leader's SyncGroup   |
//	                                           v                      |
//	                                      +--------+                  |
//	                                      | Stable | -----------------+
//	                                      +--------+  a member joins, leaves,
//	                                                  expires, changes its
//	                                                  protocols, or never syncs
//
//	Dead: forgotten (emptied, deleted, or the coordinator closed).
//
// PreparingRebalance waits for every member to rejoin (heartbeats answer
// REBALANCE_IN_PROGRESS). When all have, or the longest rebalance timeout
// of the members runs out, the members that did not rejoin are removed,
// the generation advances, a protocol is selected (of those every member
// supports, the one most members prefer; ties go to the leader's order),
// and every JoinGroup is answered: the leader, the oldest member, with
// every member's metadata. CompletingRebalance waits for the leader's
// SyncGroup, whose assignments answer the members' SyncGroup calls; then
// the group is Stable. Assignors all run in the clients, so range,
// roundrobin, sticky and cooperative-sticky (whose revocations take two
// rebalances in a row) need nothing here.
//
// A dynamic member's first JoinGroup v4+ gets its member id with
// MEMBER_ID_REQUIRED and joins again with it (KIP-394). A static member
// (group.instance.id, KIP-345) rejoining without its member id gets a new
// one, fencing the old (FENCED_INSTANCE_ID), and resumes its assignment
// without a rebalance if the group's protocol does not change. An empty
// group is forgotten (its offsets are in the store): a group that empties
// and fills again restarts at generation 1.
//
// # Timers
//
// All time comes from Config.Clock, so tests drive it with a fake clock.
//
//   - Session: each member's session ends SessionTimeout after its last
//     heartbeat (or join, sync or commit); then it is removed and the group
//     rebalances. A member waiting in JoinGroup or SyncGroup cannot
//     heartbeat and is kept alive meanwhile. One timer per member fires at
//     the deadline and re-arms if a heartbeat moved it, so a heartbeat arms
//     nothing.
//   - Rebalance: PreparingRebalance ends after the longest RebalanceTimeout
//     of the members. The first rebalance of an Empty group waits
//     InitialRebalanceDelay instead, extended by as much again while new
//     members keep arriving (up to the rebalance timeout), so that members
//     starting together share one generation.
//   - Sync: members that have not sent SyncGroup a rebalance timeout after
//     the join phase ended are removed, and the group rebalances.
//   - Pending member ids (MEMBER_ID_REQUIRED) not used within the session
//     timeout are forgotten.
//
// Timer callbacks take the group's lock and check that they are still
// wanted (a sequence number, the member's identity). Close stops them and
// waits for those running.
//
// # Offsets
//
// OffsetCommit is checked against the group as Kafka does: a member's
// commit must carry its generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS between JoinGroup and
// SyncGroup); a commit from outside the group (generation -1, no member id:
// admin tools, consumers assigning partitions themselves) is accepted only
// while the group has no members, so an offset reset is refused with
// UNKNOWN_MEMBER_ID while consumers run. Checked commits go to a bounded
// queue; the committer goroutine takes every commit queued (up to
// CommitBatch) and writes them, of any number of groups, in one
// OffsetStore.Commit, then answers them all. Commits queue behind a write
// in flight, so batches grow with load: a store write is one Raft entry, not
// one per commit. A full queue blocks Commit, which pushes back on the
// client's connection. Commits of one group are written in the order they
// were queued. OffsetFetch reads the store's local copy.
//
// # Hand-over
//
// The coordinator of every group is the metadata group's leader. The
// cluster creates a Coordinator when its broker becomes the leader (once
// the store's local copy holds every committed offset) and closes it when
// leadership moves: Close answers every waiting JoinGroup, SyncGroup and
// queued commit with ErrNotCoordinator (NOT_COORDINATOR), and clients find
// the new coordinator. Membership is not replicated: the new coordinator
// starts with every group Empty, the members' heartbeats get
// UNKNOWN_MEMBER_ID, and they rejoin; committed offsets survive in the
// store.
//
// # Concurrency
//
// Each group has a mutex guarding all its state; the Coordinator's mutex
// guards the map of groups and is never taken while a group's is held.
// Join and Sync answer through callbacks run under the group's lock. The
// goroutines are the committer's (started by New) and the clock's timer
// callbacks; Close waits for all of them.
package consumer
